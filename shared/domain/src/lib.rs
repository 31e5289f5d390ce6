//! The domain: plain types and the rules the contract states about them
//! (validation, pricing, the order status machine, what a payment means for
//! an order, who may read what), ids, time, password hashes and the one
//! error type. No I/O, and nothing of the layers above.

pub mod account_token;
pub mod catalog;
pub mod email;
pub mod error;
pub mod field;
pub mod ids;
pub mod json;
pub mod mail;
pub mod order;
pub mod page;
pub mod password;
pub mod payment;
pub mod post;
pub mod timefmt;
pub mod user;
pub mod validate;

pub use error::{Error, FieldErrors, Result};
