//! The payment-settlement service: the one place that applies what a
//! payment provider reports to an order, and says which side effects follow.
//!
//! Stripe's webhook and PortOne's confirmation are adapters: each turns its
//! provider's facts into a [`PaymentReport`] and a [`LedgerEntry`] (the
//! provider's own record of the report, which makes a repeat recognisable)
//! and calls [`PaymentSettlement::settle`]. The service writes the order
//! change and the ledger entry in one transaction, queues the receipt when
//! the order became paid, judges a refused or repeated report by
//! [`judge`], queues a receipt again when one may have been lost, and
//! returns the verdict. A [`Verdict::GiveBack`] is carried out by the
//! adapter, which alone can speak to its provider.

pub mod ledger;
#[cfg(test)]
mod memory;

use std::future::Future;

use domain::Result;
use domain::mail::MailRequest;
use domain::order::{OrderHead, OrderStatus, StockHold};
use domain::payment::{PaymentFact, PaymentReport, Refusal, Verdict, judge};
use domain::timefmt;
use store::orders::Settled;
use store::portone_payments::PaymentAudit;
use store::stripe_events::Delivery;
use store::{OrderRepository, PortOnePaymentRepository, StripeEventRepository, Table};

/// The provider's record of one report, written in the same transaction as
/// the order change and only on its first sight.
#[derive(Debug, Clone)]
pub enum LedgerEntry<'a> {
    /// A Stripe event under its id, with this delivery's audit item.
    StripeEvent {
        event_id: &'a str,
        event_type: &'a str,
        order_id: Option<&'a str>,
        /// The masked summary replay runs again.
        summary: &'a str,
        outcome: &'a str,
        delivery: &'a Delivery,
    },
    /// A PortOne payment's status, with the payment's audit item.
    PortOnePayment(PaymentAudit<'a>),
}

/// What settling needs of the table: the order as it stands, and the
/// one-transaction change (see `OrderRepository::settle`).
pub trait SettlementStore: Send + Sync {
    fn order_head(&self, order_id: &str) -> impl Future<Output = Result<Option<OrderHead>>> + Send;

    /// `returns`: stock that goes back with the change (a canceled order's
    /// holds), in the same transaction.
    fn settle(
        &self,
        entry: &LedgerEntry<'_>,
        order_id: &str,
        report: &PaymentReport<'_>,
        returns: &[StockHold],
    ) -> impl Future<Output = Result<Settled>> + Send;
}

#[cfg(feature = "sqs")]
pub use crate::email::MailQueue;
pub use crate::email::MailSender;

/// The DynamoDB side of settling: orders and both providers' ledgers.
#[derive(Debug, Clone)]
pub struct SettlementTable {
    orders: OrderRepository,
    stripe_events: StripeEventRepository,
    portone_payments: PortOnePaymentRepository,
}

impl SettlementTable {
    pub fn new(table: Table) -> Self {
        Self {
            orders: OrderRepository::new(table.clone()),
            stripe_events: StripeEventRepository::new(table.clone()),
            portone_payments: PortOnePaymentRepository::new(table),
        }
    }
}

impl SettlementStore for SettlementTable {
    async fn order_head(&self, order_id: &str) -> Result<Option<OrderHead>> {
        self.orders.get_head(order_id).await
    }

    async fn settle(
        &self,
        entry: &LedgerEntry<'_>,
        order_id: &str,
        report: &PaymentReport<'_>,
        returns: &[StockHold],
    ) -> Result<Settled> {
        let (record, audit) = match entry {
            LedgerEntry::StripeEvent { event_id, event_type, order_id, summary, outcome, delivery } => (
                self.stripe_events.record_put(event_id, event_type, *order_id, summary, outcome)?,
                self.stripe_events.delivery_write(event_id, outcome, delivery)?,
            ),
            LedgerEntry::PortOnePayment(audit) => {
                (self.portone_payments.status_put(audit)?, self.portone_payments.audit_write(audit)?)
            }
        };
        let mut also = vec![audit];
        also.extend(self.orders.stock_returns(returns)?);
        self.orders.settle(record, order_id, report, also).await
    }
}

/// What settling did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The order moved to this status now.
    Applied(OrderStatus),
    /// The ledger had this report: it was handled before. The verdict is
    /// what the order, as it stands, makes of it.
    Repeated(Verdict),
    /// The order did not take the report, for this reason.
    Refused(Verdict),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    pub effect: Effect,
    /// The receipt went on the queue during this call.
    pub receipt_queued: bool,
    /// A refund's notice went on the queue during this call.
    pub refund_notice_queued: bool,
}

impl Settlement {
    /// Money the adapter must give back at its provider, and why.
    pub fn give_back(&self) -> Option<Refusal> {
        match self.effect {
            Effect::Refused(Verdict::GiveBack(why)) => Some(why),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PaymentSettlement<S, R> {
    store: S,
    receipts: R,
}

/// Settling on DynamoDB with receipts to the mailer's queue.
#[cfg(feature = "sqs")]
pub type TableSettlement = PaymentSettlement<SettlementTable, store::mail_queue::MailQueue>;

impl<S: SettlementStore, R: MailSender> PaymentSettlement<S, R> {
    pub fn new(store: S, receipts: R) -> Self {
        Self { store, receipts }
    }

    pub async fn order_head(&self, order_id: &str) -> Result<Option<OrderHead>> {
        self.store.order_head(order_id).await
    }

    /// Queues an order's receipt again (a replay mending a lost one); the
    /// mailer sends it once however often it is queued.
    pub async fn queue_receipt(&self, order_id: &str, correlation_id: &str) -> Result<()> {
        self.receipts.send(&receipt(order_id, correlation_id, None)).await
    }

    /// Applies `report` to order `order_id`, recording `entry` with it.
    /// `known`: the order as the caller just read it, so a report it cannot
    /// take is judged without a write; `None` writes first and judges only
    /// if the write is refused (nothing is read before writing).
    /// `correlation_id` goes with the receipt.
    pub async fn settle(
        &self,
        entry: &LedgerEntry<'_>,
        order_id: &str,
        correlation_id: &str,
        report: &PaymentReport<'_>,
        known: Option<&OrderHead>,
    ) -> Result<Settlement> {
        let now = timefmt::now();
        // A cancel returns the order's stock in its own transaction: what
        // the order holds is read first (it never changes once written).
        let read;
        let known = match known {
            None if report.fact == PaymentFact::Canceled => {
                read = self.store.order_head(order_id).await?;
                match &read {
                    Some(order) => Some(order),
                    None => return self.not_applied(Effect::Refused(Verdict::UnknownOrder), None).await,
                }
            }
            known => known,
        };
        let returns = match (report.fact, known) {
            (PaymentFact::Canceled, Some(order)) => order.holds.as_slice(),
            _ => &[],
        };
        if let Some(order) = known {
            let verdict = judge(Some(order), report, now);
            if !matches!(verdict, Verdict::Apply(_)) {
                return self.not_applied(Effect::Refused(verdict), Some(order)).await;
            }
        }
        match self.store.settle(entry, order_id, report, returns).await? {
            Settled::Applied => {
                let status = report.target();
                tracing::info!(order_id, to = status.as_str(), "order status changed");
                let receipt_queued = report.fact == PaymentFact::Succeeded;
                if receipt_queued {
                    let to = report.receipt_to.or(known.map(|order| order.email.as_str()));
                    self.receipts.send(&receipt(order_id, correlation_id, to)).await?;
                }
                let refund_notice_queued = self.queue_refund_notice(report, order_id, correlation_id).await?;
                Ok(Settlement { effect: Effect::Applied(status), receipt_queued, refund_notice_queued })
            }
            Settled::Seen { order } => {
                // The ledger holds this report: whatever it meant was done
                // (or given back) when it was first recorded, so a replay is
                // never judged again, which could give money back twice. It
                // only mends a receipt a crash may have lost.
                // So does a refund's notice (the mailer sends one per total
                // however often it is asked).
                let requeue_receipt = report.fact == PaymentFact::Succeeded
                    && order.as_ref().is_some_and(|order| order.receipt_needs_requeue(now));
                let mut settlement = self
                    .not_applied(Effect::Repeated(Verdict::AlreadyDone { requeue_receipt }), order.as_ref())
                    .await?;
                if let Some(order) = order.as_ref().filter(|order| refund_confirmed(report, order)) {
                    settlement.refund_notice_queued =
                        self.queue_refund_notice(report, order_id, &order.correlation_id).await?;
                }
                Ok(settlement)
            }
            Settled::Refused { order } => {
                let verdict = match judge(order.as_ref(), report, now) {
                    // The order refused what it could take: it moved
                    // between the write and its answer.
                    Verdict::Apply(_) => Verdict::Ignore(Refusal::NotAllowed),
                    verdict => verdict,
                };
                self.not_applied(Effect::Refused(verdict), order.as_ref()).await
            }
        }
    }

    /// A report that moved nothing: logged, and the receipt queued again
    /// when the verdict says it may have been lost.
    async fn not_applied(&self, effect: Effect, order: Option<&OrderHead>) -> Result<Settlement> {
        let verdict = match effect {
            Effect::Refused(verdict) | Effect::Repeated(verdict) => verdict,
            Effect::Applied(_) => return Ok(Settlement { effect, receipt_queued: false, refund_notice_queued: false }),
        };
        let mut receipt_queued = false;
        match (verdict, order) {
            (Verdict::AlreadyDone { requeue_receipt: true }, Some(order)) => {
                self.receipts.send(&receipt(&order.id, &order.correlation_id, Some(&order.email))).await?;
                receipt_queued = true;
            }
            (Verdict::GiveBack(why) | Verdict::Ignore(why), Some(order)) => {
                tracing::warn!(
                    order_id = order.id,
                    status = order.status.as_str(),
                    refusal = ?why,
                    "a payment report the order does not take; nothing changed"
                );
            }
            _ => {}
        }
        Ok(Settlement { effect, receipt_queued, refund_notice_queued: false })
    }

    /// Asks the mailer to tell the buyer of a refund the provider confirmed
    /// (nothing for any other report).
    async fn queue_refund_notice(
        &self,
        report: &PaymentReport<'_>,
        order_id: &str,
        correlation_id: &str,
    ) -> Result<bool> {
        let PaymentFact::Refunded { total } = report.fact else { return Ok(false) };
        let request = MailRequest::Refund {
            order_id: order_id.to_owned(),
            refunded_total: total,
            correlation_id: Some(correlation_id.to_owned()),
        };
        self.receipts.send(&request).await?;
        Ok(true)
    }
}

fn receipt(order_id: &str, correlation_id: &str, to: Option<&str>) -> MailRequest {
    MailRequest::Receipt {
        order_id: order_id.to_owned(),
        correlation_id: Some(correlation_id.to_owned()),
        email: to.map(str::to_owned),
    }
}

/// A repeated refund report whose total the order holds: its notice may
/// have been lost with a crash after the write.
fn refund_confirmed(report: &PaymentReport<'_>, order: &OrderHead) -> bool {
    matches!(report.fact, PaymentFact::Refunded { total } if total <= order.refunded_amount)
        && matches!(order.status, OrderStatus::Paid | OrderStatus::Refunded)
}

#[cfg(test)]
mod tests {
    use super::memory::{MemorySettlementStore, RecordedReceipts};
    use super::*;
    use domain::order::ReceiptStatus;

    type Service = PaymentSettlement<MemorySettlementStore, RecordedReceipts>;

    fn order(id: &str, status: OrderStatus) -> OrderHead {
        OrderHead {
            id: id.into(),
            status,
            email: "buyer@example.com".into(),
            user_id: None,
            token_hash: None,
            amount: 2500,
            currency: "usd".into(),
            refunded_amount: 0,
            holds: vec![],
            payment_intent_id: None,
            receipt_status: ReceiptStatus::None,
            receipt_enqueued_at: None,
            correlation_id: format!("corr-{id}"),
            paid_by: None,
        }
    }

    fn service(orders: impl IntoIterator<Item = OrderHead>) -> Service {
        PaymentSettlement::new(MemorySettlementStore::with(orders), RecordedReceipts::default())
    }

    fn report<'a>(event_id: &'a str, payment_id: &'a str, fact: PaymentFact) -> PaymentReport<'a> {
        PaymentReport { event_id, payment_id, fact, amount: 2500, currency: "usd", receipt_to: None }
    }

    static DELIVERY: Delivery =
        Delivery { request_id: String::new(), source: "webhook", signed_at: None, body_sha256: None, body_bytes: None };

    fn stripe_entry(event_id: &str) -> LedgerEntry<'_> {
        LedgerEntry::StripeEvent {
            event_id,
            event_type: "payment_intent.succeeded",
            order_id: None,
            summary: "{}",
            outcome: "paid",
            delivery: &DELIVERY,
        }
    }

    fn portone_entry<'a>(imp_uid: &'a str, status: &'a str) -> LedgerEntry<'a> {
        LedgerEntry::PortOnePayment(PaymentAudit {
            imp_uid,
            order_id: "o1",
            status,
            amount: 2500,
            currency: "KRW",
            outcome: status,
        })
    }

    #[tokio::test]
    async fn a_payment_pays_once_and_queues_one_receipt_however_often_it_is_reported() {
        let service = service([order("o1", OrderStatus::Pending)]);
        let pay = report("evt_1", "pi_1", PaymentFact::Succeeded);
        let first = service.settle(&stripe_entry("evt_1"), "o1", "corr", &pay, None).await.unwrap();
        assert_eq!(
            first,
            Settlement {
                effect: Effect::Applied(OrderStatus::Paid),
                receipt_queued: true,
                refund_notice_queued: false
            }
        );
        let again = service.settle(&stripe_entry("evt_1"), "o1", "corr", &pay, None).await.unwrap();
        assert_eq!(again.effect, Effect::Repeated(Verdict::AlreadyDone { requeue_receipt: false }));
        assert!(!again.receipt_queued, "queued a minute ago: not again yet");
        assert_eq!(service.receipts.sent(), ["o1"]);
        let paid = service.store.order("o1");
        assert_eq!((paid.status, paid.paid_by.as_deref()), (OrderStatus::Paid, Some("pi_1")));
    }

    #[tokio::test]
    async fn a_repeat_queues_the_receipt_again_when_the_first_may_have_been_lost() {
        let service = service([order("o1", OrderStatus::Pending)]);
        let pay = report("evt_1", "pi_1", PaymentFact::Succeeded);
        service.settle(&stripe_entry("evt_1"), "o1", "corr", &pay, None).await.unwrap();
        service.store.orders.lock().unwrap().get_mut("o1").unwrap().receipt_enqueued_at =
            Some(timefmt::now() - time::Duration::minutes(2));
        let again = service.settle(&stripe_entry("evt_1"), "o1", "corr", &pay, None).await.unwrap();
        assert_eq!(again.effect, Effect::Repeated(Verdict::AlreadyDone { requeue_receipt: true }));
        assert!(again.receipt_queued);
        assert_eq!(service.receipts.sent(), ["o1", "o1"]);
    }

    #[tokio::test]
    async fn a_replayed_report_is_never_given_back_again() {
        let service = service([order("o1", OrderStatus::Pending)]);
        let first = report("evt_1", "pi_1", PaymentFact::Succeeded);
        service.settle(&stripe_entry("evt_1"), "o1", "corr", &first, None).await.unwrap();
        let second = report("evt_2", "pi_2", PaymentFact::Succeeded);
        let refused = service.settle(&stripe_entry("evt_2"), "o1", "corr", &second, None).await.unwrap();
        assert_eq!(refused.give_back(), Some(Refusal::DuplicatePayment));
        service.store.record_refused(&stripe_entry("evt_2"));
        let replay = service.settle(&stripe_entry("evt_2"), "o1", "corr", &second, None).await.unwrap();
        assert_eq!(replay.effect, Effect::Repeated(Verdict::AlreadyDone { requeue_receipt: false }));
        assert_eq!(replay.give_back(), None);
    }

    #[tokio::test]
    async fn a_second_payment_for_a_paid_order_is_given_back_by_either_provider() {
        let service = service([order("o1", OrderStatus::Pending)]);
        let stripe = report("evt_1", "pi_1", PaymentFact::Succeeded);
        service.settle(&stripe_entry("evt_1"), "o1", "corr", &stripe, None).await.unwrap();
        let portone = report("portone:imp_2", "imp_2", PaymentFact::Succeeded);
        let second = service.settle(&portone_entry("imp_2", "paid"), "o1", "corr", &portone, None).await.unwrap();
        assert_eq!(second.effect, Effect::Refused(Verdict::GiveBack(Refusal::DuplicatePayment)));
        assert_eq!(second.give_back(), Some(Refusal::DuplicatePayment));
        assert_eq!(service.receipts.sent(), ["o1"], "no second receipt");
        assert_eq!(service.store.order("o1").paid_by.as_deref(), Some("pi_1"));
    }

    #[tokio::test]
    async fn a_report_judged_from_a_known_order_writes_nothing() {
        let service = service([order("o1", OrderStatus::Pending)]);
        let known = service.order_head("o1").await.unwrap().unwrap();
        let short = PaymentReport { amount: 100, ..report("portone:imp_1", "imp_1", PaymentFact::Succeeded) };
        let settled =
            service.settle(&portone_entry("imp_1", "paid"), "o1", "corr", &short, Some(&known)).await.unwrap();
        assert_eq!(settled.give_back(), Some(Refusal::AmountMismatch));
        assert_eq!(*service.store.settle_calls.lock().unwrap(), 0);
        assert_eq!(service.store.order("o1").status, OrderStatus::Pending);
    }

    #[tokio::test]
    async fn money_for_a_canceled_order_is_given_back_and_a_late_failure_changes_nothing() {
        let service = service([order("o1", OrderStatus::Canceled), order("o2", OrderStatus::Pending)]);
        let pay = report("evt_1", "pi_1", PaymentFact::Succeeded);
        let late = service.settle(&stripe_entry("evt_1"), "o1", "corr", &pay, None).await.unwrap();
        assert_eq!(late.give_back(), Some(Refusal::NotPayable));
        assert_eq!(service.store.order("o1").status, OrderStatus::Canceled);

        let pay = report("evt_2", "pi_2", PaymentFact::Succeeded);
        service.settle(&stripe_entry("evt_2"), "o2", "corr", &pay, None).await.unwrap();
        let failed = report("evt_3", "pi_2", PaymentFact::Failed);
        let settled = service.settle(&stripe_entry("evt_3"), "o2", "corr", &failed, None).await.unwrap();
        assert_eq!(settled.effect, Effect::Refused(Verdict::Ignore(Refusal::NotAllowed)));
        assert_eq!(service.store.order("o2").status, OrderStatus::Paid);
    }

    #[tokio::test]
    async fn failure_then_success_then_full_refund_follow_the_status_machine() {
        let service = service([order("o1", OrderStatus::Pending)]);
        let steps = [
            ("portone:imp_1:failed", "imp_1", "failed", PaymentFact::Failed, OrderStatus::PaymentFailed, false),
            ("portone:imp_2", "imp_2", "paid", PaymentFact::Succeeded, OrderStatus::Paid, true),
            (
                "portone:imp_2:cancelled",
                "imp_2",
                "cancelled",
                PaymentFact::Refunded { total: 2500 },
                OrderStatus::Refunded,
                false,
            ),
        ];
        for (event_id, imp_uid, status, fact, expected, receipt) in steps {
            let report = report(event_id, imp_uid, fact);
            let settled = service.settle(&portone_entry(imp_uid, status), "o1", "corr", &report, None).await.unwrap();
            let refund_notice_queued = matches!(fact, PaymentFact::Refunded { .. });
            assert_eq!(
                settled,
                Settlement { effect: Effect::Applied(expected), receipt_queued: receipt, refund_notice_queued }
            );
        }
        assert_eq!(service.receipts.sent(), ["o1", "refund o1 2500"]);
    }

    #[tokio::test]
    async fn each_confirmed_refund_total_asks_for_one_notice_and_a_replay_asks_again_for_the_same() {
        let service = service([order("o1", OrderStatus::Pending)]);
        let pay = report("evt_1", "pi_1", PaymentFact::Succeeded);
        service.settle(&stripe_entry("evt_1"), "o1", "corr", &pay, None).await.unwrap();
        let part = report("evt_2", "pi_1", PaymentFact::Refunded { total: 1000 });
        let settled = service.settle(&stripe_entry("evt_2"), "o1", "corr", &part, None).await.unwrap();
        assert!(settled.refund_notice_queued);
        let replay = service.settle(&stripe_entry("evt_2"), "o1", "corr", &part, None).await.unwrap();
        assert_eq!(replay.effect, Effect::Repeated(Verdict::AlreadyDone { requeue_receipt: false }));
        assert!(replay.refund_notice_queued, "a lost notice is mended; the mailer sends it once");
        let older = report("evt_3", "pi_1", PaymentFact::Refunded { total: 500 });
        let stale = service.settle(&stripe_entry("evt_3"), "o1", "corr", &older, None).await.unwrap();
        assert!(!stale.refund_notice_queued, "a smaller total arriving late is no new refund");
        let rest = report("evt_4", "pi_1", PaymentFact::Refunded { total: 2500 });
        service.settle(&stripe_entry("evt_4"), "o1", "corr", &rest, None).await.unwrap();
        assert_eq!(service.receipts.sent(), ["o1", "refund o1 1000", "refund o1 1000", "refund o1 2500"]);
        assert_eq!(service.store.order("o1").status, OrderStatus::Refunded);
    }

    #[tokio::test]
    async fn a_report_for_no_order_is_unknown() {
        let service = service([]);
        let pay = report("evt_1", "pi_1", PaymentFact::Succeeded);
        let settled = service.settle(&stripe_entry("evt_1"), "nope", "corr", &pay, None).await.unwrap();
        assert_eq!(settled.effect, Effect::Refused(Verdict::UnknownOrder));
        assert!(service.receipts.sent().is_empty());
    }
}
