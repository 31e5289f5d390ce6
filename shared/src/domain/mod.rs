//! Plain types and the rules the contract states about them. No I/O here.

pub mod field;
pub mod post;
pub mod user;
pub mod validate;
