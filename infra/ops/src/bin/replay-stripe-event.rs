//! `replay-stripe-event EVENT_ID`: runs a recorded Stripe event again
//! through the webhook's own steps (order change, receipt, closing the
//! event), from the masked summary the webhook recorded. Every step is
//! conditional or idempotent, so replaying twice changes nothing more than
//! replaying once: an order already moved stays where it is and its
//! receipt is not queued again.

use std::time::Instant;

use commerce_ops::{OpsError, exit_with, sqs, table};
use platform::config::{required, stripe_key_is_live};
use platform::telemetry::count_aws_calls;
use store::mail_queue::MailQueue;
use store::stripe_events::Delivery;
use stripe_webhook::process::Processor;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    platform::telemetry::init();
    exit_with(run().await, "replay-stripe-event")
}

async fn run() -> Result<(), OpsError> {
    let event_id = std::env::args()
        .nth(1)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| OpsError::Usage("usage: replay-stripe-event EVENT_ID   (make replay EVENT=evt_...)".into()))?;
    let receipts = MailQueue { client: sqs().await, url: required("MAIL_QUEUE_URL")? };
    let processor = Processor::new(table().await?, receipts, stripe_key_is_live(&required("STRIPE_SECRET_KEY")?));
    let stored = processor
        .ledger
        .stripe_event(&event_id)
        .await?
        .ok_or_else(|| OpsError::Usage(format!("replay-stripe-event: no event {event_id} was recorded")))?;
    let event: stripe_webhook::event::EventSummary =
        serde_json::from_str(&stored.summary).map_err(domain::Error::internal)?;
    let delivery = Delivery {
        request_id: format!("replay-{}", ulid::Ulid::new()),
        source: "replay",
        signed_at: None,
        body_sha256: None,
        body_bytes: None,
    };
    let started = Instant::now();
    let (handled, calls) = count_aws_calls(processor.replay(&event_id, &delivery)).await;
    stripe_webhook::log_event_completed(&event, &handled, started, &calls);
    let handled = handled?;
    println!(
        "replay-stripe-event: {event_id} ({}): {}{}",
        stored.event_type,
        handled.outcome.as_str(),
        handled.order_id.map(|id| format!(", order {id}")).unwrap_or_default()
    );
    Ok(())
}
