//! What two or more functions need: typed settings, the one error type and
//! its mapping to the contract's error format, JSON in and out, tokens and
//! password hashes, the DynamoDB single-table store, and JSON logs.

pub mod aws;
pub mod batch;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod ids;
pub mod order_access;
pub mod pagination;
pub mod password;
pub mod posts;
#[cfg(feature = "sqs")]
pub mod receipts;
pub mod settlement;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod timefmt;
pub mod tokens;

pub use error::{Error, FieldErrors, Result};
