//! What every function's process needs before any rule runs: settings from
//! the environment, JSON log lines (with AWS calls counted per request), and
//! the AWS SDK's configuration and clients, and Stripe's and PortOne's REST clients.

pub mod aws;
pub mod config;
#[cfg(feature = "portone")]
pub mod portone;
#[cfg(feature = "stripe")]
pub mod stripe;
pub mod telemetry;
