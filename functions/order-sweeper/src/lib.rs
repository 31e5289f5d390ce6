//! The `order-sweeper` function: run by a schedule (EventBridge, every
//! minute; locally the gateway runs the template's schedule), it cancels
//! the unpaid orders whose hold ended and returns their stock, through
//! [`OrderService::expire_due`]. A PaymentIntent is canceled at Stripe
//! first; one that already succeeded leaves its order to the webhook.
//! Each run ends with one `event completed` line of what it did.

use std::time::Instant;

use lambda_runtime::LambdaEvent;
use platform::telemetry::aws_calls_so_far;
use serde_json::Value;
use services::orders::{OrderService, Swept};

/// Orders one run takes at most; the next run takes the rest.
pub const SWEEP_LIMIT: usize = 200;

#[derive(Clone)]
pub struct Sweeper {
    pub orders: OrderService,
}

impl Sweeper {
    /// One scheduled run. A failure to read the expired orders fails the
    /// run (EventBridge retries it); a failure on one order is counted and
    /// left for the next run.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Swept, lambda_runtime::Error> {
        let started = Instant::now();
        let span = tracing::info_span!("event", request_id = %event.context.request_id);
        let _entered = span.enter();
        let swept = self.orders.expire_due(SWEEP_LIMIT).await;
        let duration_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
        let calls = aws_calls_so_far().operation_json();
        match &swept {
            Ok(swept) => tracing::info!(
                status = "swept",
                canceled = swept.canceled,
                left_for_payment = swept.left_for_payment,
                already_moved = swept.already_moved,
                failed = swept.failed,
                duration_ms,
                aws_calls = %calls,
                "event completed"
            ),
            Err(error) => {
                tracing::warn!(status = "failed", error = %error, duration_ms, aws_calls = %calls, "event completed")
            }
        }
        Ok(swept?)
    }
}
