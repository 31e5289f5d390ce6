//! The web layer: how a request is read and an answer written. JSON bodies,
//! the auth extractors (`Authenticated`, `OrderAccess`), the error format as
//! responses, cursor page envelopes, the throttle middleware, and SQS batch
//! answers.

pub mod batch;
pub mod http;
pub mod order_access;
pub mod pagination;
pub mod routes;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;
