//! What every function's process needs before any rule runs: settings from
//! the environment, JSON log lines (with AWS calls counted per request), and
//! the AWS SDK's configuration and clients.

pub mod aws;
pub mod config;
pub mod telemetry;
