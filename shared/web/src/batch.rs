//! Queue batches as Lambda's event source mapping delivers them: each
//! message handled in turn under its own span, with its own `event
//! completed` line (status, duration, AWS calls), and the failed ones
//! reported by id so SQS delivers only those again (`batchItemFailures`).

/// For the macro: the consumer names this crate, not the one that counts.
#[doc(hidden)]
pub use platform::telemetry::count_aws_calls;

/// What a handled message came to: the `status` of its line.
pub trait Outcome {
    fn as_str(&self) -> &'static str;
}

/// Handles each message of a batch in turn: `$messages` yields
/// `(message id, message)`, `$span_for` makes a message's span from its id
/// (declaring whatever fields the handler records), `$handle` handles one
/// message (`Result<impl Outcome, impl Display>`). Evaluates to the ids of
/// the messages that failed. A macro, not a function, so that each
/// `event completed` line keeps the consumer's log target.
#[macro_export]
macro_rules! handle_each_message {
    ($messages:expr, $span_for:expr, $handle:expr) => {{
        use ::tracing::Instrument as _;
        use $crate::batch::Outcome as _;
        let mut failed: Vec<String> = Vec::new();
        for (message_id, message) in $messages {
            let span: ::tracing::Span = ($span_for)(&message_id);
            let started = ::std::time::Instant::now();
            let (result, calls) = $crate::batch::count_aws_calls(($handle)(message)).instrument(span.clone()).await;
            let duration_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
            span.in_scope(|| match &result {
                Ok(outcome) => ::tracing::info!(
                    status = outcome.as_str(),
                    duration_ms,
                    aws_calls = %calls.operation_json(),
                    "event completed"
                ),
                Err(error) => ::tracing::warn!(
                    status = "failed",
                    error = %error,
                    duration_ms,
                    aws_calls = %calls.operation_json(),
                    "event completed"
                ),
            });
            if result.is_err() {
                failed.push(message_id);
            }
        }
        failed
    }};
}

/// The answer Lambda's event source mapping reads (with
/// `ReportBatchItemFailures`): the messages to deliver again.
#[cfg(feature = "batch")]
pub fn response(failed: Vec<String>) -> aws_lambda_events::event::sqs::SqsBatchResponse {
    use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
    let mut response = SqsBatchResponse::default();
    for message_id in failed {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = message_id;
        response.batch_item_failures.push(failure);
    }
    response
}
