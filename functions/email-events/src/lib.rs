//! The `email-events` function: reads SES's bounce and complaint
//! notifications from their queue (SES → SNS → SQS) and keeps the
//! suppression list the mailer honours.
//!
//! Per message: parse it (either of SES's forms, in SNS's envelope or raw);
//! a permanent bounce or a complaint suppresses each recipient, a transient
//! bounce is counted, anything else is noted. Each SNS `MessageId` takes
//! effect once (see [`SuppressionList::apply`]). A message that
//! cannot be parsed goes straight to the dead-letter queue, with the
//! reason: retrying it would never help, and it must not hold up the rest.

pub mod notification;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageAttributeValue;
use lambda_runtime::LambdaEvent;
use platform::telemetry::mask_email;
use services::email::{AddressEvent, SuppressionList};

use crate::notification::{EventKind, ParseError};

/// Why a message was not handled; it will be delivered again.
#[derive(Debug, thiserror::Error)]
pub enum EmailEventsError {
    #[error("store: {0}")]
    Store(#[from] domain::Error),
    #[error("dead-letter queue: {0}")]
    DeadLetter(String),
}

/// How a message ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Suppressed,
    Counted,
    /// Delivery, reject, ...: logged, nothing kept.
    Noted,
    /// This notification was handled before.
    Duplicate,
    /// Not a notification: moved to the dead-letter queue.
    DeadLettered,
}

impl web::batch::Outcome for Handled {
    fn as_str(&self) -> &'static str {
        match self {
            Self::Suppressed => "suppressed",
            Self::Counted => "counted",
            Self::Noted => "noted",
            Self::Duplicate => "duplicate",
            Self::DeadLettered => "dead_lettered",
        }
    }
}

#[derive(Debug, Clone)]
pub struct EmailEvents {
    pub suppressions: SuppressionList,
    pub sqs: aws_sdk_sqs::Client,
    /// Where unparseable messages go.
    pub dead_letter_queue_url: String,
}

impl EmailEvents {
    /// One batch; the failed messages reported by id so SQS delivers only
    /// those again.
    pub async fn handle_batch(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let request_id = event.context.request_id.clone();
        let messages = event.payload.records.iter().map(|m| (m.message_id.clone().unwrap_or_default(), m));
        let span_for = |message_id: &str| {
            tracing::info_span!(
                "event",
                request_id = %request_id,
                message_id = %message_id,
                notification_id = tracing::field::Empty,
                kind = tracing::field::Empty,
            )
        };
        let failed = web::handle_each_message!(messages, span_for, |message| self.handle_message(message));
        Ok(web::batch::response(failed))
    }

    async fn handle_message(&self, message: &SqsMessage) -> Result<Handled, EmailEventsError> {
        let span = tracing::Span::current();
        let body = message.body.as_deref().unwrap_or_default();
        let event = match notification::parse(body, message.message_id.as_deref().unwrap_or_default()) {
            Ok(event) => event,
            Err(reason) => return self.dead_letter(body, &reason).await,
        };
        span.record("notification_id", event.notification_id.as_str());
        span.record("kind", event.kind.as_str());
        let masked: Vec<String> = event.recipients.iter().map(|r| mask_email(r)).collect();
        let address_event = match &event.kind {
            EventKind::PermanentBounce { .. } => AddressEvent::PermanentBounce,
            EventKind::Complaint { .. } => AddressEvent::Complaint,
            EventKind::TransientBounce { .. } => AddressEvent::TransientBounce,
            EventKind::Other(kind) => {
                tracing::info!(ses_event = %kind, recipients = ?masked, "email event noted");
                return Ok(Handled::Noted);
            }
        };
        if !self.suppressions.apply(&event.notification_id, address_event, &event.recipients).await? {
            return Ok(Handled::Duplicate);
        }
        if event.kind.suppresses() {
            tracing::info!(recipients = ?masked, "addresses suppressed");
            Ok(Handled::Suppressed)
        } else {
            tracing::info!(recipients = ?masked, "transient bounce counted");
            Ok(Handled::Counted)
        }
    }

    async fn dead_letter(&self, body: &str, reason: &ParseError) -> Result<Handled, EmailEventsError> {
        tracing::warn!(reason = %reason, "not an SES notification; moved to the dead-letter queue");
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(reason.to_string())
            .build()
            .map_err(|e| EmailEventsError::DeadLetter(e.to_string()))?;
        self.sqs
            .send_message()
            .queue_url(&self.dead_letter_queue_url)
            .message_body(if body.is_empty() { "(empty)" } else { body })
            .message_attributes("reason", attribute)
            .send()
            .await
            .map_err(|e| EmailEventsError::DeadLetter(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(Handled::DeadLettered)
    }
}
