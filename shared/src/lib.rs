//! What two or more functions need: typed settings, the one error type and
//! its mapping to the contract's error format, JSON in and out, tokens and
//! password hashes, the DynamoDB single-table store, and JSON logs.

pub mod batch;
pub mod http;
pub mod order_access;
pub mod pagination;
pub mod posts;
pub mod settlement;
pub mod throttle;
pub mod tokens;
