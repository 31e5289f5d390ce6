//! The `mailer` function: reads the receipt queue in batches and
//! sends each paid order's receipt through SES, at most once per order
//! however often its message is delivered.
//!
//! Per message: claim the send on the order item (a conditional write with
//! a lease that returns the order, lines included, or why it is not ours to
//! send: already sent, not paid, held by another delivery), send, and mark
//! the receipt sent: 2 DynamoDB calls and 1 SES call, and 1 GetItem more:
//! an address on the suppression list gets nothing, and the receipt
//! becomes `suppressed`. A failed send lets the claim go
//! and marks the receipt `failed`; the message is reported as a batch item
//! failure, so SQS delivers it again, and after the queue's
//! `maxReceiveCount` it rests in the dead-letter queue until redriven. A
//! crash between claim and send leaves a claim whose lease runs out, after
//! which a redelivery takes it again: the email is never lost for good.

pub mod render;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use domain::order::{Order, ReceiptMessage};
use domain::timefmt;
use lambda_runtime::LambdaEvent;
use services::Table;
use services::email::{ReceiptClaim, ReceiptService};

/// Why a message was not handled; it will be delivered again.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("message is not a receipt request: {0}")]
    Malformed(String),
    #[error("no such order")]
    NoSuchOrder,
    #[error("another delivery is sending this receipt")]
    HeldElsewhere,
    #[error("store: {0}")]
    Store(#[from] domain::Error),
    #[error("ses: {0}")]
    Send(String),
    #[error("template: {0}")]
    Template(String),
}

/// How a message ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Sent,
    AlreadySent,
    /// The order is not paid (nothing to send a receipt for).
    NotPaid,
    /// The address is on the suppression list: nothing sent.
    Suppressed,
}

impl web::batch::Outcome for Delivered {
    fn as_str(&self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::AlreadySent => "already_sent",
            Self::NotPaid => "not_paid",
            Self::Suppressed => "suppressed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Mailer {
    /// Claims, the suppression list (checked before every send), marks.
    pub receipts: ReceiptService,
    pub ses: aws_sdk_sesv2::Client,
    pub from_address: String,
    /// How long a claim holds before another delivery may take it: longer
    /// than the function's timeout, so a live sender is never overtaken.
    pub claim_lease_secs: i64,
    /// The SES configuration set whose event destination reports bounces
    /// and complaints (none locally: moto has no event destinations).
    pub configuration_set: Option<String>,
}

impl Mailer {
    pub fn new(table: Table, ses: aws_sdk_sesv2::Client, from_address: String, claim_lease_secs: i64) -> Self {
        Self { receipts: ReceiptService::new(table), ses, from_address, claim_lease_secs, configuration_set: None }
    }

    pub fn with_configuration_set(self, configuration_set: Option<String>) -> Self {
        Self { configuration_set, ..self }
    }

    /// One batch: every message handled in turn; the failed ones reported
    /// by id so SQS delivers only those again.
    pub async fn handle_batch(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let request_id = event.context.request_id.clone();
        let messages = event.payload.records.iter().map(|m| (m.message_id.clone().unwrap_or_default(), m));
        let span_for = |message_id: &str| {
            tracing::info_span!(
                "event",
                request_id = %request_id,
                message_id = %message_id,
                correlation_id = tracing::field::Empty,
                order_id = tracing::field::Empty,
                receive_count = tracing::field::Empty,
            )
        };
        let failed = web::handle_each_message!(messages, span_for, |message| self.handle_message(message));
        Ok(web::batch::response(failed))
    }

    async fn handle_message(&self, message: &SqsMessage) -> Result<Delivered, MailerError> {
        let span = tracing::Span::current();
        if let Some(count) = message.attributes.get("ApproximateReceiveCount") {
            span.record("receive_count", count.as_str());
        }
        let body = message.body.as_deref().unwrap_or_default();
        let request: ReceiptMessage = serde_json::from_str(body).map_err(|e| MailerError::Malformed(e.to_string()))?;
        span.record("order_id", request.order_id.as_str());
        span.record("correlation_id", request.correlation_id.as_deref().unwrap_or_default());
        if !domain::ids::is_plausible_id(&request.order_id) {
            return Err(MailerError::Malformed("order_id is not an id".into()));
        }
        // One conditional write claims the send and returns the order with
        // its lines, or says why not: no read before it.
        let claim_id = domain::ids::new_id();
        let now = timefmt::now().unix_timestamp();
        let order = match self.receipts.claim(&request.order_id, &claim_id, now, now + self.claim_lease_secs).await? {
            ReceiptClaim::Claimed(order) => order,
            ReceiptClaim::AlreadySent => return Ok(Delivered::AlreadySent),
            ReceiptClaim::NotPaid(status) => {
                tracing::warn!(status = status.as_str(), "receipt requested for an order that is not paid");
                return Ok(Delivered::NotPaid);
            }
            // Not ours to send now; delivered again later, it finds the
            // receipt sent, or the claim lapsed and free to take.
            ReceiptClaim::HeldElsewhere => return Err(MailerError::HeldElsewhere),
            ReceiptClaim::NoSuchOrder => return Err(MailerError::NoSuchOrder),
        };
        let to = platform::telemetry::mask_email(&order.email);
        if self.receipts.is_suppressed(&order.email).await? {
            if !self.receipts.mark_suppressed(&order.id, &claim_id).await? {
                tracing::warn!("the claim lapsed before the receipt was marked suppressed");
            }
            tracing::info!(to = %to, "receipt not sent: the address is on the suppression list");
            return Ok(Delivered::Suppressed);
        }
        let message_id = match self.send(&order).await {
            Ok(message_id) => message_id,
            Err(error) => {
                self.receipts.release(&order.id, &claim_id).await?;
                return Err(error);
            }
        };
        if !self.receipts.mark_sent(&order.id, &claim_id, &message_id).await? {
            tracing::warn!("receipt sent after its claim lapsed; another delivery may send it too");
        }
        tracing::info!(ses_message_id = %message_id, to = %to, "receipt sent");
        Ok(Delivered::Sent)
    }

    async fn send(&self, order: &Order) -> Result<String, MailerError> {
        let receipt = render::render(order)?;
        let text = |data: String| {
            Content::builder().data(data).charset("UTF-8").build().map_err(|e| MailerError::Send(e.to_string()))
        };
        let message = Message::builder()
            .subject(text(receipt.subject)?)
            .body(Body::builder().html(text(receipt.html)?).text(text(receipt.text)?).build())
            .build();
        let output = self
            .ses
            .send_email()
            .from_email_address(&self.from_address)
            .set_configuration_set_name(self.configuration_set.clone())
            .destination(Destination::builder().to_addresses(&order.email).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| {
                MailerError::Send(platform::telemetry::mask_emails_in(
                    &aws_sdk_sesv2::error::DisplayErrorContext(e).to_string(),
                ))
            })?;
        Ok(output.message_id.unwrap_or_default())
    }
}
