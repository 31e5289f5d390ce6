//! The services: rules that need reads and writes together, once for every
//! entry point (REST, GraphQL, each payment provider). They own the store's
//! repositories; functions reach the table only through them.

pub mod cursors;
pub mod posts;
pub mod settlement;
pub mod tokens;
