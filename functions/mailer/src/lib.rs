//! The `mailer` function: reads the mail queue in batches and sends every
//! email through SES, each at most once however often its message is
//! delivered: receipts, refund notices, verification and reset links,
//! welcomes (`domain::mail::MailRequest`, one typed message per kind).
//!
//! A receipt: claim the send on the order item (a conditional write with
//! a lease that returns the order, lines included, or why it is not ours to
//! send: already sent, not paid, held by another delivery), send, and mark
//! the receipt sent: 2 DynamoDB calls and 1 SES call, and 1 GetItem more:
//! an address on the suppression list gets nothing, and the receipt
//! becomes `suppressed`. The message names the address (the order's, as the
//! payment provider echoed it), so that GetItem goes beside the claim: 2
//! DynamoDB round trips and 1 SES call on the way; a message without it
//! (an older one) reads the list after the claim. A failed send lets the claim go
//! and marks the receipt `failed`; the message is reported as a batch item
//! failure, so SQS delivers it again, and after the queue's
//! `maxReceiveCount` it rests in the dead-letter queue until redriven. A
//! crash between claim and send leaves a claim whose lease runs out, after
//! which a redelivery takes it again: the email is never lost for good.
//!
//! Every other email goes the same way through the mail log
//! (`services::email::OutgoingMail`): claim its once key, read whom it is
//! for, check the suppression list, make its token if it carries one (only
//! now, so no token rests in a queue), send, mark it sent.

pub mod render;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use domain::mail::MailRequest;
use domain::timefmt;
use lambda_runtime::LambdaEvent;
use render::{AccountLinks, Rendered};
use services::Table;
use services::email::{Letter, MailClaim, MailEnd, OutgoingMail, Prepared, ReceiptClaim, ReceiptService};

/// Why a message was not handled; it will be delivered again.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("message is not a mail request: {0}")]
    Malformed(String),
    #[error("no such order")]
    NoSuchOrder,
    #[error("another delivery is sending this email")]
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
    /// Nobody to write to (no user has the address; verified already).
    NothingToSend,
}

impl web::batch::Outcome for Delivered {
    fn as_str(&self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::AlreadySent => "already_sent",
            Self::NotPaid => "not_paid",
            Self::Suppressed => "suppressed",
            Self::NothingToSend => "nothing_to_send",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Mailer {
    /// Receipts' claims, the suppression list (checked before every send),
    /// marks.
    pub receipts: ReceiptService,
    /// Every other email's.
    pub outgoing: OutgoingMail,
    pub links: AccountLinks,
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
    pub fn new(
        table: Table,
        ses: aws_sdk_sesv2::Client,
        from_address: String,
        claim_lease_secs: i64,
        links: AccountLinks,
    ) -> Self {
        Self {
            receipts: ReceiptService::new(table.clone()),
            outgoing: OutgoingMail::new(table),
            links,
            ses,
            from_address,
            claim_lease_secs,
            configuration_set: None,
        }
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
                kind = tracing::field::Empty,
                user_id = tracing::field::Empty,
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
        let request = MailRequest::parse(body).map_err(|e| MailerError::Malformed(e.to_string()))?;
        span.record("kind", request.kind());
        if let Some(order_id) = request.order_id() {
            span.record("order_id", order_id);
        }
        if let MailRequest::EmailVerification { user_id, .. } | MailRequest::Welcome { user_id } = &request {
            span.record("user_id", user_id.as_str());
        }
        span.record("correlation_id", request.correlation_id().unwrap_or_default());
        let ids_plausible = match &request {
            MailRequest::Receipt { order_id, .. } | MailRequest::Refund { order_id, .. } => {
                domain::ids::is_plausible_id(order_id)
            }
            MailRequest::EmailVerification { user_id, request_id } => {
                domain::ids::is_plausible_id(user_id) && domain::ids::is_plausible_id(request_id)
            }
            MailRequest::PasswordReset { request_id, .. } => domain::ids::is_plausible_id(request_id),
            MailRequest::Welcome { user_id } => domain::ids::is_plausible_id(user_id),
        };
        if !ids_plausible {
            return Err(MailerError::Malformed("an id that is not an id".into()));
        }
        // Boxed: the SDK's futures nest deep, and two kinds of send side by
        // side overflow the compiler's layout limit unboxed.
        match &request {
            MailRequest::Receipt { order_id, email, .. } => {
                Box::pin(self.send_receipt(order_id, email.as_deref())).await
            }
            _ => Box::pin(self.send_letter(&request)).await,
        }
    }

    async fn send_receipt(&self, order_id: &str, address: Option<&str>) -> Result<Delivered, MailerError> {
        // One conditional write claims the send and returns the order with
        // its lines, or says why not: no read before it. When the message
        // names the address, the suppression list is read beside it.
        let claim_id = domain::ids::new_id();
        let now = timefmt::now().unix_timestamp();
        let claiming = self.receipts.claim(order_id, &claim_id, now, now + self.claim_lease_secs);
        let (claim, suppressed) = match address {
            Some(address) => {
                let (claim, suppressed) = tokio::join!(claiming, self.receipts.is_suppressed(address));
                (claim?, Some(suppressed?))
            }
            None => (claiming.await?, None),
        };
        let order = match claim {
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
        let suppressed = match suppressed {
            Some(suppressed) => suppressed,
            None => self.receipts.is_suppressed(&order.email).await?,
        };
        let to = platform::telemetry::mask_email(&order.email);
        if suppressed {
            if !self.receipts.mark_suppressed(&order.id, &claim_id).await? {
                tracing::warn!("the claim lapsed before the receipt was marked suppressed");
            }
            tracing::info!(to = %to, "receipt not sent: the address is on the suppression list");
            return Ok(Delivered::Suppressed);
        }
        let message_id = match self.send(&order.email, render::receipt(&order)?).await {
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

    /// Any email but a receipt, once per its once key.
    async fn send_letter(&self, request: &MailRequest) -> Result<Delivered, MailerError> {
        let claim_id = domain::ids::new_id();
        let now = timefmt::now().unix_timestamp();
        match self.outgoing.claim(request, &claim_id, now, now + self.claim_lease_secs).await? {
            MailClaim::Claimed => {}
            MailClaim::Done => return Ok(Delivered::AlreadySent),
            MailClaim::HeldElsewhere => return Err(MailerError::HeldElsewhere),
        }
        let letter = match self.outgoing.prepare(request).await {
            Ok(Prepared::Letter(letter)) => letter,
            Ok(ending @ (Prepared::Suppressed | Prepared::NothingToSend)) => {
                let (end, delivered) = match ending {
                    Prepared::Suppressed => (MailEnd::Suppressed, Delivered::Suppressed),
                    _ => (MailEnd::NothingToSend, Delivered::NothingToSend),
                };
                if !self.outgoing.finish(request, &claim_id, end, None).await? {
                    tracing::warn!("the claim lapsed before the email was marked {}", end.as_str());
                }
                tracing::info!(outcome = end.as_str(), "email not sent");
                return Ok(delivered);
            }
            Err(error) => {
                self.outgoing.release(request, &claim_id).await?;
                return Err(error.into());
            }
        };
        if let Letter::PasswordReset { user, .. } = &letter {
            tracing::Span::current().record("user_id", user.id.as_str());
        }
        let to = letter.to().to_owned();
        let sent = match render::letter(&letter, &self.links) {
            Ok(rendered) => self.send(&to, rendered).await,
            Err(error) => Err(error),
        };
        let message_id = match sent {
            Ok(message_id) => message_id,
            Err(error) => {
                self.outgoing.release(request, &claim_id).await?;
                return Err(error);
            }
        };
        if !self.outgoing.finish(request, &claim_id, MailEnd::Sent, Some(&message_id)).await? {
            tracing::warn!("email sent after its claim lapsed; another delivery may send it too");
        }
        if let Letter::Refund { refunded, total, .. } = &letter {
            tracing::info!(refunded, total, "refund notice sent");
        }
        tracing::info!(ses_message_id = %message_id, to = %platform::telemetry::mask_email(&to), "email sent");
        Ok(Delivered::Sent)
    }

    async fn send(&self, to: &str, email: Rendered) -> Result<String, MailerError> {
        let text = |data: String| {
            Content::builder().data(data).charset("UTF-8").build().map_err(|e| MailerError::Send(e.to_string()))
        };
        let message = Message::builder()
            .subject(text(email.subject)?)
            .body(Body::builder().html(text(email.html)?).text(text(email.text)?).build())
            .build();
        let output = self
            .ses
            .send_email()
            .from_email_address(&self.from_address)
            .set_configuration_set_name(self.configuration_set.clone())
            .destination(Destination::builder().to_addresses(to).build())
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
