//! What a verified event does, in as few calls as the rules allow, each of
//! them safe to repeat:
//!
//! 1. One transaction records the event under its id (with its outcome and
//!    this delivery's audit item) and moves the order by a conditional
//!    update that names the statuses it may start from and the amount and
//!    currency paid. Becoming paid marks the receipt `queued`.
//! 2. If the order became paid, its receipt goes on the queue. Only now does
//!    Stripe hear 200.
//!
//! Nothing is read before writing: when a condition fails, the cancelled
//! transaction carries the event's record and the order as they were. A
//! redelivery finds the event recorded and changes nothing; if that event
//! paid the order and the receipt is not sent yet, it queues the receipt
//! again (the mailer sends once), so a crash between 1 and 2 loses nothing.
//! A paying event costs 2 calls (1 DynamoDB, 1 SQS); a duplicate 2 or 3.

use domain::order::{OrderStatus, ReceiptStatus};
use domain::payment::{PaymentFact, PaymentReport, Refusal, Verdict, judge};
use domain::{Error, Result};
use platform::stripe::{StripeClient, StripeError};
use services::Table;
use services::settlement::ledger::{Delivery, ProviderLedger, Recorded};
use services::settlement::{Effect, LedgerEntry, MailQueue, PaymentSettlement, SettlementTable, TableSettlement};

use crate::event::{CHARGE_REFUNDED, EventSummary, PAYMENT_CANCELED, PAYMENT_FAILED, PAYMENT_SUCCEEDED};

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
    /// A second successful payment for an order another payment (Stripe's
    /// or PortOne's) already paid: recorded, given back (refunded at
    /// Stripe), no second receipt.
    DuplicatePayment,
    /// Part of the payment was given back: the order's running total of
    /// refunds rose, and it stays paid.
    PartialRefund,
    UnknownOrder,
    IgnoredType,
    /// A live event for a test key, or a test event for a live key.
    LivemodeMismatch,
    /// This event id was processed by an earlier delivery.
    Duplicate,
}

impl Outcome {
    /// What an event that moved its order did.
    fn applied(report: &PaymentReport<'_>) -> Self {
        match (report.fact, report.target()) {
            (PaymentFact::Refunded { .. }, OrderStatus::Paid) => Self::PartialRefund,
            (_, status) => Self::Changed(status),
        }
    }

    /// The outcome a verdict on an event asking for `target` is recorded as.
    fn of(verdict: Verdict, target: OrderStatus) -> Self {
        match verdict {
            Verdict::AlreadyDone { .. } => Self::AlreadyDone(target),
            Verdict::GiveBack(Refusal::AmountMismatch) | Verdict::Ignore(Refusal::AmountMismatch) => {
                Self::AmountMismatch
            }
            Verdict::GiveBack(Refusal::DuplicatePayment) | Verdict::Ignore(Refusal::DuplicatePayment) => {
                Self::DuplicatePayment
            }
            Verdict::Apply(_)
            | Verdict::GiveBack(Refusal::NotPayable | Refusal::NotAllowed)
            | Verdict::Ignore(Refusal::NotPayable | Refusal::NotAllowed) => Self::NotAllowed,
            Verdict::UnknownOrder => Self::UnknownOrder,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed(OrderStatus::Paid) => "paid",
            Self::Changed(OrderStatus::PaymentFailed) => "payment_failed",
            Self::Changed(OrderStatus::Refunded) => "refunded",
            Self::Changed(OrderStatus::Canceled) => "canceled",
            Self::Changed(_) => "changed",
            Self::AlreadyDone(_) => "already_done",
            Self::NotAllowed => "transition_not_allowed",
            Self::AmountMismatch => "amount_mismatch",
            Self::DuplicatePayment => "duplicate_payment",
            Self::PartialRefund => "partial_refund",
            Self::UnknownOrder => "unknown_order",
            Self::IgnoredType => "ignored_type",
            Self::LivemodeMismatch => "livemode_mismatch",
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
    /// A payment the order does not take was refunded at Stripe.
    pub given_back: bool,
}

#[derive(Debug, Clone)]
pub struct Processor {
    pub settlement: TableSettlement,
    pub ledger: ProviderLedger,
    /// The mode of our Stripe key: events of the other mode change nothing.
    pub livemode: bool,
    /// Where payments the order does not take are given back (none in
    /// tests that never reach Stripe).
    pub stripe: Option<StripeClient>,
}

/// What an event asks of an order, worked out from the event alone (and,
/// for a Charge, the PaymentIntent's link to its order).
enum Plan<'a> {
    Change {
        order_id: String,
        report: PaymentReport<'a>,
    },
    /// Nothing to change: recorded with this outcome.
    Nothing(Outcome, Option<String>),
}

impl Processor {
    /// `livemode`: whether our Stripe key is live (see
    /// `platform::config::stripe_key_is_live`).
    pub fn new(table: Table, receipts: MailQueue, livemode: bool) -> Self {
        Self {
            settlement: PaymentSettlement::new(SettlementTable::new(table.clone()), receipts),
            ledger: ProviderLedger::new(table),
            livemode,
            stripe: None,
        }
    }

    /// Gives back, at Stripe, the payments the order does not take.
    pub fn with_stripe(self, stripe: StripeClient) -> Self {
        Self { stripe: Some(stripe), ..self }
    }

    /// Refunds a successful payment the order does not take (a second
    /// payment, one for a canceled order, one of another amount). One key
    /// per payment: however often the event comes, Stripe refunds it once.
    /// Stripe unreachable is an error (the event is delivered again);
    /// Stripe refusing is logged for a person to look at.
    async fn give_back(&self, payment_intent_id: &str, why: Refusal) -> Result<bool> {
        let Some(stripe) = &self.stripe else { return Ok(false) };
        match stripe.create_refund(payment_intent_id, None, &format!("give-back-{payment_intent_id}")).await {
            Ok(refund) => {
                tracing::warn!(payment_intent_id, refund_id = %refund.id, reason = ?why, "payment given back");
                Ok(true)
            }
            Err(StripeError::Unavailable(detail)) => Err(Error::ServiceUnavailable {
                detail: format!("give back {payment_intent_id}: {detail}"),
                retry_after_secs: 5,
            }),
            Err(error) => {
                tracing::error!(payment_intent_id, reason = ?why, error = %error, "could not give a payment back; refund it by hand");
                Ok(false)
            }
        }
    }

    /// A delivery from Stripe.
    pub async fn handle(&self, event: &EventSummary, delivery: &Delivery) -> Result<Handled> {
        let summary = serde_json::to_string(event).map_err(Error::internal)?;
        let summary = summary.as_str();
        let record = |outcome: Outcome, order_id: Option<String>| async move {
            let recorded = self
                .ledger
                .record_stripe_event(
                    &event.id,
                    &event.event_type,
                    order_id.as_deref(),
                    summary,
                    outcome.as_str(),
                    delivery,
                )
                .await?;
            Ok::<_, Error>((recorded, order_id))
        };
        let (order_id, report) = match self.plan(event).await? {
            Plan::Nothing(outcome, order_id) => {
                return match record(outcome, order_id).await? {
                    (Recorded::New, order_id) => {
                        Ok(Handled { outcome, order_id, receipt_queued: false, given_back: false })
                    }
                    (Recorded::Seen { .. }, order_id) => self.repeated(event, delivery, order_id, false).await,
                };
            }
            Plan::Change { order_id, report } => (order_id, report),
        };
        let target = report.target();
        let entry = LedgerEntry::StripeEvent {
            event_id: &event.id,
            event_type: &event.event_type,
            order_id: Some(&order_id),
            summary,
            outcome: Outcome::applied(&report).as_str(),
            delivery,
        };
        // Intents made before correlation ids existed carry none: the order
        // id then serves, as every line about the order has it.
        let correlation_id = event.object.correlation_id.as_deref().unwrap_or(&order_id);
        let settled = self.settlement.settle(&entry, &order_id, correlation_id, &report, None).await?;
        let receipt_queued = settled.receipt_queued;
        match settled.effect {
            Effect::Applied(_) => Ok(Handled {
                outcome: Outcome::applied(&report),
                order_id: Some(order_id),
                receipt_queued,
                given_back: false,
            }),
            Effect::Repeated(_) => self.repeated(event, delivery, Some(order_id), receipt_queued).await,
            Effect::Refused(verdict) => {
                let outcome = Outcome::of(verdict, target);
                let given_back = match verdict {
                    Verdict::GiveBack(why) if report.fact == PaymentFact::Succeeded => {
                        self.give_back(report.payment_id, why).await?
                    }
                    _ => false,
                };
                match record(outcome, Some(order_id)).await? {
                    (Recorded::New, order_id) => Ok(Handled { outcome, order_id, receipt_queued, given_back }),
                    // A concurrent delivery of the same event got there first.
                    (Recorded::Seen { .. }, order_id) => self.repeated(event, delivery, order_id, receipt_queued).await,
                }
            }
        }
    }

    /// Runs a recorded event again (`make replay`). An event takes effect
    /// in the transaction that records it, so there is no status left to
    /// change: replay says where the order stands and, if the event asks for
    /// payment, the order is paid and its receipt not sent, queues the
    /// receipt again (the mailer sends once). Safe to repeat.
    pub async fn replay(&self, event_id: &str, delivery: &Delivery) -> Result<Handled> {
        let stored = self.ledger.stripe_event(event_id).await?.ok_or(Error::NotFound)?;
        let event: EventSummary = serde_json::from_str(&stored.summary).map_err(Error::internal)?;
        let (outcome, order_id, receipt_due) = match self.plan(&event).await? {
            Plan::Nothing(outcome, order_id) => (outcome, order_id, false),
            Plan::Change { order_id, report } => {
                let target = report.target();
                let order = self.settlement.order_head(&order_id).await?;
                // Only a payment has a receipt (a partial refund's target is
                // `paid` too).
                let receipt_due = report.fact == PaymentFact::Succeeded
                    && order
                        .as_ref()
                        .is_some_and(|o| o.status == OrderStatus::Paid && o.receipt_status != ReceiptStatus::Sent);
                let verdict = judge(order.as_ref(), &report, domain::timefmt::now());
                (Outcome::of(verdict, target), Some(order_id), receipt_due)
            }
        };
        if let (true, Some(order_id)) = (receipt_due, &order_id) {
            self.queue_receipt(&event, order_id).await?;
        }
        self.ledger.record_stripe_delivery(event_id, outcome.as_str(), delivery).await?;
        Ok(Handled { outcome, order_id, receipt_queued: receipt_due, given_back: false })
    }

    /// A delivery of an event recorded before: audited. (The settlement
    /// service has queued the receipt again if this event paid the order and
    /// the receipt may have been lost.)
    async fn repeated(
        &self,
        event: &EventSummary,
        delivery: &Delivery,
        order_id: Option<String>,
        receipt_queued: bool,
    ) -> Result<Handled> {
        self.ledger.record_stripe_delivery(&event.id, Outcome::Duplicate.as_str(), delivery).await?;
        Ok(Handled { outcome: Outcome::Duplicate, order_id, receipt_queued, given_back: false })
    }

    async fn queue_receipt(&self, event: &EventSummary, order_id: &str) -> Result<()> {
        // Intents made before correlation ids existed carry none: the order
        // id then serves, as every line about the order has it.
        let correlation_id = event.object.correlation_id.as_deref().unwrap_or(order_id);
        self.settlement.queue_receipt(order_id, correlation_id).await?;
        Ok(())
    }

    /// The change an event asks for, from the event alone (a Charge names
    /// its PaymentIntent, which leads back to the order: one read).
    async fn plan<'a>(&self, event: &'a EventSummary) -> Result<Plan<'a>> {
        let object = &event.object;
        let nothing = |outcome| Ok(Plan::Nothing(outcome, object.order_id.clone()));
        if event.livemode != self.livemode {
            tracing::warn!(event_livemode = event.livemode, "an event of the other mode than our key's");
            return nothing(Outcome::LivemodeMismatch);
        }
        let (amount, currency) = match (object.amount, object.currency.as_deref()) {
            (Some(amount), Some(currency)) => (amount, currency),
            _ if is_handled_type(&event.event_type) => return nothing(Outcome::AmountMismatch),
            _ => return nothing(Outcome::IgnoredType),
        };
        let (fact, amount, payment_intent_id) = match event.event_type.as_str() {
            PAYMENT_SUCCEEDED => {
                // What was received, when Stripe says; else what was asked.
                let paid = object.amount_received.filter(|received| *received > 0).unwrap_or(amount);
                let Some(intent) = object.id.as_deref() else { return Ok(Plan::Nothing(Outcome::UnknownOrder, None)) };
                (PaymentFact::Succeeded, paid, intent)
            }
            PAYMENT_FAILED | PAYMENT_CANCELED => {
                let Some(intent) = object.id.as_deref() else { return Ok(Plan::Nothing(Outcome::UnknownOrder, None)) };
                let fact = if event.event_type == PAYMENT_FAILED { PaymentFact::Failed } else { PaymentFact::Canceled };
                (fact, amount, intent)
            }
            CHARGE_REFUNDED => {
                let Some(intent) = object.payment_intent.as_deref() else { return nothing(Outcome::UnknownOrder) };
                // Stripe's running total for the charge: a replayed or late
                // event cannot lower it or count a refund twice.
                let Some(total) = object.amount_refunded.filter(|total| *total > 0) else {
                    return nothing(Outcome::AmountMismatch);
                };
                (PaymentFact::Refunded { total }, amount, intent)
            }
            _ => return nothing(Outcome::IgnoredType),
        };
        let order_id = match &object.order_id {
            Some(order_id) => Some(order_id.clone()),
            None => self.ledger.order_of_payment_intent(payment_intent_id).await?,
        };
        let receipt_to = object.receipt_to.as_deref();
        let report =
            PaymentReport { event_id: &event.id, payment_id: payment_intent_id, fact, amount, currency, receipt_to };
        Ok(match order_id {
            Some(order_id) => Plan::Change { order_id, report },
            None => Plan::Nothing(Outcome::UnknownOrder, None),
        })
    }
}

fn is_handled_type(event_type: &str) -> bool {
    matches!(event_type, PAYMENT_SUCCEEDED | PAYMENT_FAILED | PAYMENT_CANCELED | CHARGE_REFUNDED)
}
