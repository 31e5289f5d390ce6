//! Plain types and the rules the contract states about them. No I/O here.

pub mod catalog;
pub mod email;
pub mod field;
pub mod order;
pub mod payment;
pub mod post;
pub mod user;
pub mod validate;
