//! The SAM template, as every local tool reads it: the shared model
//! (`sam_template`). The gateway serves its functions' HTTP API routes and
//! SQS sources and schedules, and applies its HTTP API's CORS block.

pub use sam_template::{
    CorsConfig, DEFAULT_MEMORY_MB, DEFAULT_SQS_BATCH_SIZE, DEFAULT_TIMEOUT_SECS, FunctionDef, HttpRouteDef, QueueRef,
    RouteSpec, ScheduleSource, SqsEventSource, Template, TemplateError,
};
