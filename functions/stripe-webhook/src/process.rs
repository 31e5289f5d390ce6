//! What a verified event does, in steps that can each be repeated, so that
//! whatever step a delivery dies after, a redelivery (or a replay) ends in
//! the same place — the order moved once and its receipt queued:
//!
//! 1. Record the event under its id (conditional put). Already processed:
//!    audit the delivery and stop.
//! 2. Move the order by a conditional update that names the status it
//!    starts from and the amount and currency paid. Already there: nothing
//!    to do (a redelivery after step 2 lands here).
//! 3. If the order is paid and its receipt was never queued, queue it. A
//!    redelivery after this step queues it again; the mailer sends once.
//! 4. In one transaction: mark the event processed, audit the delivery,
//!    note the receipt as queued. Only now does Stripe hear 200.

use shared::domain::order::OrderStatus;
use shared::store::orders::{StatusChange, Transition};
use shared::store::stripe_events::{Delivery, EventRecord};
use shared::store::{OrderRepository, StripeEventRepository, Table};
use shared::{Error, Result};

use crate::WebhookError;
use crate::event::{CHARGE_REFUNDED, EventSummary, PAYMENT_FAILED, PAYMENT_SUCCEEDED};

/// What an event did; the `status` of its `event completed` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The order moved to this status.
    Changed(OrderStatus),
    /// The order was already in the status this event asks for.
    AlreadyDone(OrderStatus),
    /// The event's status cannot follow the order's (e.g. a failure after
    /// the order was paid): recorded, nothing changed.
    NotAllowed,
    AmountMismatch,
    PartialRefund,
    UnknownOrder,
    IgnoredType,
    /// This event id was processed by an earlier delivery.
    Duplicate,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed(OrderStatus::Paid) => "paid",
            Self::Changed(OrderStatus::PaymentFailed) => "payment_failed",
            Self::Changed(OrderStatus::Refunded) => "refunded",
            Self::Changed(_) => "changed",
            Self::AlreadyDone(_) => "already_done",
            Self::NotAllowed => "transition_not_allowed",
            Self::AmountMismatch => "amount_mismatch",
            Self::PartialRefund => "partial_refund",
            Self::UnknownOrder => "unknown_order",
            Self::IgnoredType => "ignored_type",
            Self::Duplicate => "duplicate",
        }
    }
}

/// The result of handling one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub outcome: Outcome,
    pub order_id: Option<String>,
    pub receipt_queued: bool,
}

/// Where receipts go: the mailer's queue.
#[derive(Debug, Clone)]
pub struct ReceiptQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
}

impl ReceiptQueue {
    /// The message names the order and carries its correlation id (in the
    /// body and as a message attribute), so the mailer's log lines join the
    /// order's others.
    async fn send(&self, order_id: &str, correlation_id: &str) -> Result<(), WebhookError> {
        let body = serde_json::json!({"order_id": order_id, "correlation_id": correlation_id});
        let attribute = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(correlation_id)
            .build()
            .map_err(|e| WebhookError::Queue(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body.to_string())
            .message_attributes("correlation_id", attribute)
            .send()
            .await
            .map_err(|e| WebhookError::Queue(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Processor {
    pub orders: OrderRepository,
    pub events: StripeEventRepository,
    pub receipts: ReceiptQueue,
}

/// The order change an event asks for, with the money it was for.
struct Asked<'a> {
    change: StatusChange<'a>,
    amount: i64,
    currency: &'a str,
}

impl Processor {
    pub fn new(table: Table, receipts: ReceiptQueue) -> Self {
        Self { orders: OrderRepository::new(table.clone()), events: StripeEventRepository::new(table), receipts }
    }

    /// A delivery from Stripe: steps 1–4.
    pub async fn handle(&self, event: &EventSummary, delivery: &Delivery) -> Result<Handled> {
        let summary = serde_json::to_string(event).map_err(Error::internal)?;
        let recorded =
            self.events.record(&event.id, &event.event_type, event.object.order_id.as_deref(), &summary).await?;
        if let EventRecord::Processed { .. } = recorded {
            self.events.record_delivery(&event.id, Outcome::Duplicate.as_str(), delivery).await?;
            return Ok(Handled {
                outcome: Outcome::Duplicate,
                order_id: event.object.order_id.clone(),
                receipt_queued: false,
            });
        }
        self.carry_out(event, delivery).await
    }

    /// Runs a recorded event again through steps 2–4 (`make replay`). Safe
    /// to repeat: every step is.
    pub async fn replay(&self, event_id: &str, delivery: &Delivery) -> Result<Handled> {
        let stored = self.events.get(event_id).await?.ok_or(Error::NotFound)?;
        let event: EventSummary = serde_json::from_str(&stored.summary).map_err(Error::internal)?;
        self.carry_out(&event, delivery).await
    }

    async fn carry_out(&self, event: &EventSummary, delivery: &Delivery) -> Result<Handled> {
        let (outcome, order_id, receipt_due) = self.apply(event).await?;
        let mut also = Vec::new();
        if let (true, Some(order_id)) = (receipt_due, &order_id) {
            // Intents made before correlation ids existed carry none: the
            // order id then serves, as every line about the order has it.
            let correlation_id = event.object.correlation_id.as_deref().unwrap_or(order_id);
            self.receipts.send(order_id, correlation_id).await?;
            also.push(self.orders.receipt_enqueued_write(order_id)?);
        }
        self.events.finish(&event.id, outcome.as_str(), delivery, also).await?;
        Ok(Handled { outcome, order_id, receipt_queued: receipt_due })
    }

    /// Step 2: the order change, if any. Also says whether the receipt is
    /// due (the order is paid and its receipt was never queued).
    async fn apply(&self, event: &EventSummary) -> Result<(Outcome, Option<String>, bool)> {
        let object = &event.object;
        let (amount, currency) = match (object.amount, object.currency.as_deref()) {
            (Some(amount), Some(currency)) => (amount, currency),
            _ if is_handled_type(&event.event_type) => {
                return Ok((Outcome::AmountMismatch, object.order_id.clone(), false));
            }
            _ => return Ok((Outcome::IgnoredType, object.order_id.clone(), false)),
        };
        let (asked, payment_intent_id) = match event.event_type.as_str() {
            PAYMENT_SUCCEEDED => {
                // What was received, when Stripe says; else what was asked.
                let paid = object.amount_received.filter(|received| *received > 0).unwrap_or(amount);
                let Some(intent) = object.id.as_deref() else { return Ok((Outcome::UnknownOrder, None, false)) };
                (
                    Asked {
                        change: StatusChange::Paid { event_id: &event.id, payment_intent_id: intent },
                        amount: paid,
                        currency,
                    },
                    intent,
                )
            }
            PAYMENT_FAILED => {
                let Some(intent) = object.id.as_deref() else { return Ok((Outcome::UnknownOrder, None, false)) };
                (Asked { change: StatusChange::PaymentFailed { event_id: &event.id }, amount, currency }, intent)
            }
            CHARGE_REFUNDED => {
                let Some(intent) = object.payment_intent.as_deref() else {
                    return Ok((Outcome::UnknownOrder, object.order_id.clone(), false));
                };
                let full = object.refunded == Some(true) && object.amount_refunded == Some(amount);
                if !full {
                    return Ok((Outcome::PartialRefund, object.order_id.clone(), false));
                }
                (Asked { change: StatusChange::Refunded { event_id: &event.id }, amount, currency }, intent)
            }
            _ => return Ok((Outcome::IgnoredType, object.order_id.clone(), false)),
        };
        // Our intents carry the order id; a Charge names its intent, which
        // leads back to the order.
        let order_id = match &object.order_id {
            Some(order_id) => Some(order_id.clone()),
            None => self.orders.order_of_payment_intent(payment_intent_id).await?,
        };
        let Some(order_id) = order_id else { return Ok((Outcome::UnknownOrder, None, false)) };
        let (outcome, receipt_due) = self.change_status(&order_id, &asked).await?;
        Ok((outcome, Some(order_id), receipt_due))
    }

    /// The conditional update, decided again if the order moved meanwhile.
    async fn change_status(&self, order_id: &str, asked: &Asked<'_>) -> Result<(Outcome, bool)> {
        let target = asked.change.target();
        for _ in 0..3 {
            let Some(order) = self.orders.get_head(order_id).await? else { return Ok((Outcome::UnknownOrder, false)) };
            if order.amount != asked.amount || order.currency != asked.currency {
                tracing::warn!(
                    order_id,
                    order_amount = order.amount,
                    order_currency = %order.currency,
                    event_amount = asked.amount,
                    event_currency = %asked.currency,
                    "event amount does not match the order; nothing changed"
                );
                return Ok((Outcome::AmountMismatch, false));
            }
            let receipt_due = |status: OrderStatus| status == OrderStatus::Paid && !order.receipt_enqueued;
            if order.status == target {
                return Ok((Outcome::AlreadyDone(target), receipt_due(target)));
            }
            if !order.status.can_become(target) {
                tracing::info!(
                    order_id,
                    status = order.status.as_str(),
                    asked = target.as_str(),
                    "transition not allowed"
                );
                return Ok((Outcome::NotAllowed, receipt_due(order.status)));
            }
            match self.orders.transition(order_id, order.status, asked.change, asked.amount, asked.currency).await? {
                Transition::Done => {
                    tracing::info!(
                        order_id,
                        from = order.status.as_str(),
                        to = target.as_str(),
                        "order status changed"
                    );
                    return Ok((Outcome::Changed(target), target == OrderStatus::Paid));
                }
                Transition::Stale => continue,
            }
        }
        Err(Error::ServiceUnavailable { detail: format!("order {order_id} kept changing"), retry_after_secs: 1 })
    }
}

fn is_handled_type(event_type: &str) -> bool {
    matches!(event_type, PAYMENT_SUCCEEDED | PAYMENT_FAILED | CHARGE_REFUNDED)
}
