//! What a PortOne payment means for its order, decided from PortOne's own
//! record of it (read through the API: neither the client's call nor the
//! webhook's body is trusted, PortOne signs nothing) and applied by the
//! settlement service, as Stripe's events are. This adapter turns PortOne's
//! payment into a report, and carries out what the verdict asks of PortOne:
//! cancelling money the order cannot keep.
//!
//! - `paid` with the order's amount and currency: the order becomes paid
//!   and its receipt is queued, once per `(imp_uid, status)`.
//! - `paid` with another amount or currency: cancelled at PortOne, audited
//!   as `amount_mismatch`, the order untouched.
//! - `paid` for an order some other payment (Stripe's or PortOne's) already
//!   paid: cancelled at PortOne, audited as `duplicate_payment`, no second
//!   receipt.
//! - `ready`: nothing yet. `failed`: the order becomes `payment_failed`.

use domain::ids::is_plausible_id;
use domain::order::OrderHead;
use domain::payment::{PaymentFact, PaymentReport, Refusal};
use domain::{Error, Result};
use services::Table;
use services::orders::OrderService;
use services::settlement::ledger::{PaymentAudit, ProviderLedger};
use services::settlement::{
    Effect, LedgerEntry, MailQueue, PaymentSettlement, Settlement, SettlementTable, TableSettlement,
};

use crate::portone::{Payment, PortOneClient, PortOneError};

/// What a payment came to; its `as_str` is the audit's `outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This payment paid the order now.
    Paid,
    /// This payment had paid the order before: nothing changed.
    AlreadyPaid,
    Ready,
    PaymentFailed,
    /// The order could not take the failure (e.g. it is paid): recorded.
    FailureIgnored,
    AmountMismatch,
    DuplicatePayment,
    /// Paid at PortOne for an order that can no longer be paid (canceled):
    /// cancelled at PortOne.
    NotPayable,
    /// PortOne says it is cancelled (before it paid the order, or given
    /// back by us): recorded.
    Cancelled,
    /// Part or all of the payment that paid the order was given back at
    /// PortOne: the order's `refunded_amount` is PortOne's `cancel_amount`.
    Refunded,
    /// A status this service does not act on.
    Unrecognised,
    /// The payment names another order than the caller's.
    OtherOrder,
    /// The payment's `merchant_uid` is no order of ours.
    UnknownOrder,
}

impl Outcome {
    /// What a refused payment is audited as.
    fn refused(why: Refusal) -> Self {
        match why {
            Refusal::AmountMismatch => Self::AmountMismatch,
            Refusal::DuplicatePayment => Self::DuplicatePayment,
            Refusal::NotPayable | Refusal::NotAllowed => Self::NotPayable,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::AlreadyPaid => "already_paid",
            Self::Ready => "ready",
            Self::PaymentFailed => "payment_failed",
            Self::FailureIgnored => "failure_ignored",
            Self::AmountMismatch => "amount_mismatch",
            Self::DuplicatePayment => "duplicate_payment",
            Self::NotPayable => "not_payable",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
            Self::Unrecognised => "unrecognised_status",
            Self::OtherOrder => "other_order",
            Self::UnknownOrder => "unknown_order",
        }
    }
}

/// A payment and what was made of it.
#[derive(Debug, Clone)]
pub struct Confirmation {
    pub payment: Payment,
    pub outcome: Outcome,
    /// The receipt was put on the queue by this call.
    pub receipt_queued: bool,
}

#[derive(Debug, Clone)]
pub struct Confirmer {
    pub settlement: TableSettlement,
    /// The order as the client reads it back.
    pub orders: OrderService,
    pub ledger: ProviderLedger,
    pub portone: PortOneClient,
}

impl Confirmer {
    pub fn new(table: Table, portone: PortOneClient, receipts: MailQueue) -> Self {
        Self {
            settlement: PaymentSettlement::new(SettlementTable::new(table.clone()), receipts),
            orders: OrderService::new(table.clone()),
            ledger: ProviderLedger::new(table),
            portone,
        }
    }

    /// Reads the payment from PortOne and applies it. With `for_order` (the
    /// caller's order, as just read), a payment for another order changes
    /// nothing (`OtherOrder`); without, the payment names the order.
    pub async fn confirm(&self, imp_uid: &str, for_order: Option<&OrderHead>) -> Result<Confirmation> {
        let payment = self.portone.payment(imp_uid).await?;
        let done = |outcome, receipt_queued| Ok(Confirmation { payment: payment.clone(), outcome, receipt_queued });
        if for_order.is_some_and(|expected| expected.id != payment.merchant_uid) {
            tracing::warn!(imp_uid, "the payment is for another order; nothing changed");
            return done(Outcome::OtherOrder, false);
        }
        let order_id = payment.merchant_uid.as_str();
        tracing::Span::current().record("order_id", order_id);
        let order = match (for_order, is_plausible_id(order_id)) {
            (Some(known), _) => Some(known.clone()),
            (None, true) => self.settlement.order_head(order_id).await?,
            (None, false) => None,
        };
        let Some(order) = order else {
            tracing::warn!(imp_uid, "the payment names no order of ours");
            return done(Outcome::UnknownOrder, false);
        };
        platform::telemetry::record_correlation_id(&order.correlation_id);
        let paid_this = order.paid_by.as_deref() == Some(payment.imp_uid.as_str());
        let (outcome, receipt_queued) = match payment.status.as_str() {
            // A refund, whole (`cancelled`) or in part (still `paid`), of the
            // payment that paid the order.
            "cancelled" | "paid" if paid_this && payment.cancel_amount > 0 => {
                (self.refunded(&payment, &order).await?, false)
            }
            "paid" => self.paid(&payment, &order).await?,
            "failed" => (self.failed(&payment, &order).await?, false),
            "ready" => (self.note(&payment, Outcome::Ready).await?, false),
            "cancelled" => (self.note(&payment, Outcome::Cancelled).await?, false),
            _ => (self.note(&payment, Outcome::Unrecognised).await?, false),
        };
        tracing::info!(imp_uid, outcome = outcome.as_str(), "portone payment confirmed");
        done(outcome, receipt_queued)
    }

    async fn paid(&self, payment: &Payment, order: &OrderHead) -> Result<(Outcome, bool)> {
        // The order was just read: a payment it cannot take is judged (and
        // given back) without a write.
        let settled = self.settle(payment, order, PaymentFact::Succeeded, Outcome::Paid, Some(order)).await?;
        if let Some(why) = settled.give_back() {
            return Ok((self.cancel(payment, Outcome::refused(why)).await?, false));
        }
        Ok(match settled.effect {
            Effect::Applied(_) => (Outcome::Paid, settled.receipt_queued),
            Effect::Repeated(_) | Effect::Refused(_) => (Outcome::AlreadyPaid, settled.receipt_queued),
        })
    }

    /// PortOne's running total of what it gave back becomes the order's
    /// `refunded_amount`, once per total (a replay or an older total
    /// changes nothing).
    async fn refunded(&self, payment: &Payment, order: &OrderHead) -> Result<Outcome> {
        let status = format!("refunded:{}", payment.cancel_amount);
        let currency = payment.currency.to_ascii_lowercase();
        let event_id = format!("portone:{}:{status}", payment.imp_uid);
        let report = PaymentReport {
            event_id: &event_id,
            payment_id: &payment.imp_uid,
            fact: PaymentFact::Refunded { total: payment.cancel_amount },
            amount: payment.amount,
            currency: &currency,
            receipt_to: Some(&order.email),
        };
        let audit = PaymentAudit { status: &status, ..self.audit_of(payment, Outcome::Refunded) };
        let entry = LedgerEntry::PortOnePayment(audit);
        let settled = self.settlement.settle(&entry, &order.id, &order.correlation_id, &report, None).await?;
        Ok(match settled.effect {
            Effect::Applied(_) => Outcome::Refunded,
            Effect::Repeated(_) | Effect::Refused(_) => Outcome::Cancelled,
        })
    }

    async fn failed(&self, payment: &Payment, order: &OrderHead) -> Result<Outcome> {
        let settled = self.settle(payment, order, PaymentFact::Failed, Outcome::PaymentFailed, None).await?;
        match settled.effect {
            Effect::Applied(_) | Effect::Repeated(_) => Ok(Outcome::PaymentFailed),
            Effect::Refused(_) => self.note(payment, Outcome::FailureIgnored).await,
        }
    }

    /// PortOne's payment as a report to the settlement service, recorded
    /// once per `(imp_uid, status)` with `outcome` if it applies.
    async fn settle(
        &self,
        payment: &Payment,
        order: &OrderHead,
        fact: PaymentFact,
        outcome: Outcome,
        known: Option<&OrderHead>,
    ) -> Result<Settlement> {
        let currency = payment.currency.to_ascii_lowercase();
        let event_id = match fact {
            PaymentFact::Succeeded => format!("portone:{}", payment.imp_uid),
            _ => format!("portone:{}:{}", payment.imp_uid, payment.status),
        };
        let report = PaymentReport {
            event_id: &event_id,
            payment_id: &payment.imp_uid,
            fact,
            amount: payment.amount,
            currency: &currency,
            receipt_to: Some(&order.email),
        };
        let entry = LedgerEntry::PortOnePayment(self.audit_of(payment, outcome));
        self.settlement.settle(&entry, &order.id, &order.correlation_id, &report, known).await
    }

    /// Records a status that changes no order (once per status).
    async fn note(&self, payment: &Payment, outcome: Outcome) -> Result<Outcome> {
        self.ledger.record_portone_status(&self.audit_of(payment, outcome)).await?;
        Ok(outcome)
    }

    /// Cancels the payment at PortOne (unless it already is) and audits why.
    async fn cancel(&self, payment: &Payment, why: Outcome) -> Result<Outcome> {
        if payment.status != "cancelled" {
            let reason = match why {
                Outcome::AmountMismatch => "amount or currency differs from the order",
                Outcome::DuplicatePayment => "the order was already paid",
                _ => "the order can no longer be paid",
            };
            match self.portone.cancel(&payment.imp_uid, reason).await {
                Ok(_) => {}
                // Refused: a concurrent call may have cancelled it first.
                Err(PortOneError::Refused { .. }) => {
                    let now = self.portone.payment(&payment.imp_uid).await?;
                    if now.status != "cancelled" {
                        return Err(Error::internal(format!("PortOne refused to cancel {}", payment.imp_uid)));
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        self.ledger.audit_portone_payment(&self.audit_of(payment, why)).await?;
        Ok(why)
    }

    fn audit_of<'a>(&self, payment: &'a Payment, outcome: Outcome) -> PaymentAudit<'a> {
        PaymentAudit {
            imp_uid: &payment.imp_uid,
            order_id: &payment.merchant_uid,
            status: &payment.status,
            amount: payment.amount,
            currency: &payment.currency,
            outcome: outcome.as_str(),
        }
    }
}
