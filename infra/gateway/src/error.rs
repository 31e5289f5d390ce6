//! The crate's error types.
//!
//! `GatewayError` is what start-up and serving can fail with. `InvokeError` is
//! kept separate because it is the answer of [`crate::FunctionPool::invoke`],
//! which non-HTTP callers (an SQS poller) match on; it converts into
//! `GatewayError` where the two meet.

use std::path::PathBuf;
use std::time::Duration;

/// Everything the gateway itself can fail with.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A configuration value (environment variable or argument) is malformed.
    #[error("configuration: {0}")]
    Config(String),

    /// The template file could not be read.
    #[error("cannot read template {path}: {source}")]
    TemplateRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The template is not YAML, or not a SAM template this gateway understands.
    #[error("template {path}: {message}")]
    Template { path: PathBuf, message: String },

    /// Binding the listen socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },

    /// Serving HTTP failed after start-up.
    #[error("server: {0}")]
    Serve(#[source] std::io::Error),

    /// The function's answer is not an API Gateway payload 2.0 response.
    #[error("function response is not a payload format 2.0 response: {0}")]
    BadResponse(String),

    /// Invoking a function failed.
    #[error(transparent)]
    Invoke(#[from] InvokeError),
}

/// Why an invocation produced no response.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The instance exited, failed its init, or reported a function error.
    #[error("function {function} crashed: {reason}")]
    Crashed { function: String, reason: String },

    /// The instance did not answer within the function's timeout.
    #[error("function {function} timed out after {timeout:?}")]
    TimedOut { function: String, timeout: Duration },

    /// The function's binary could not be started at all.
    #[error("cannot start {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The gateway is shutting down and takes no new invocations.
    #[error("function {function} is shutting down")]
    ShuttingDown { function: String },
}

impl From<sam_template::TemplateError> for GatewayError {
    fn from(error: sam_template::TemplateError) -> Self {
        match error {
            sam_template::TemplateError::Read { path, source } => GatewayError::TemplateRead { path, source },
            sam_template::TemplateError::Invalid { path, message } => GatewayError::Template { path, message },
        }
    }
}
