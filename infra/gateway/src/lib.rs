//! A local API Gateway (HTTP API, payload format 2.0) with a Lambda Runtime
//! API behind it, like `sam local start-api`: every HTTP function of a SAM
//! template is served on one port, each running as its real binary in its own
//! process(es).
//!
//! - [`template`]: reading the SAM template.
//! - [`routes`]: HTTP API route matching.
//! - [`event`]: the 2.0 request event and response.
//! - [`pool`]: instances of a function and invoking them (HTTP-free, for
//!   other event sources too).
//! - `runtime_api`: the Runtime API each instance polls.
//! - [`cors`]: the HttpApi's CORS configuration, applied as API Gateway does.
//! - [`queues`]: SQS event sources, polled from the local queues.
//! - [`schedules`]: `Schedule` events, run as EventBridge would.
//! - [`server`]: the gateway itself.

mod body;
pub mod config;
pub mod cors;
pub mod error;
pub mod event;
pub mod pool;
pub mod queues;
pub mod routes;
mod runtime_api;
pub mod schedules;
pub mod server;
pub mod template;

pub use config::GatewayConfig;
pub use error::{GatewayError, InvokeError};
pub use pool::{FunctionPool, FunctionSpec, Measured};
pub use runtime_api::MAX_PAYLOAD_BYTES;
pub use server::{Gateway, serve};
pub use template::{FunctionDef, HttpRouteDef, QueueRef, RouteSpec, SqsEventSource, Template};
