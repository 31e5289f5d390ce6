//! The services: rules that need reads and writes together, once for every
//! entry point (REST, GraphQL, each payment provider). They own the store's
//! repositories; functions reach the table only through them.

pub mod accounts;
pub mod catalog;
pub mod cursors;
pub mod email;
pub mod orders;
pub mod persisted_queries;
pub mod posts;
pub mod settlement;
pub mod throttle;
pub mod tokens;

/// The table every service is built on. `main` opens it once and hands it
/// to the services; nothing above this crate reads or writes through it.
pub use store::Table;
