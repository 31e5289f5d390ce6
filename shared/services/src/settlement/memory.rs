//! Settling in memory, with DynamoDB's conditions: what the service's unit
//! tests run on. A ledger entry is taken once; the order moves only from a
//! status that can become the target, with the order's amount and currency.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::{LedgerEntry, MailSender, SettlementStore};
use domain::Result;
use domain::mail::MailRequest;
use domain::order::{OrderHead, ReceiptStatus, StockHold};
use domain::payment::{PaymentFact, PaymentReport};
use domain::timefmt;
use store::keys;
use store::orders::Settled;

#[derive(Debug, Default)]
pub struct MemorySettlementStore {
    pub orders: Mutex<HashMap<String, OrderHead>>,
    ledger: Mutex<HashSet<(String, String)>>,
    /// Transactions asked for (a report judged before writing costs none).
    pub settle_calls: Mutex<usize>,
}

impl MemorySettlementStore {
    pub fn with(orders: impl IntoIterator<Item = OrderHead>) -> Self {
        let store = Self::default();
        store.orders.lock().unwrap().extend(orders.into_iter().map(|order| (order.id.clone(), order)));
        store
    }

    pub fn order(&self, order_id: &str) -> OrderHead {
        self.orders.lock().unwrap()[order_id].clone()
    }

    /// Records `entry` as an adapter does with a report the order refused.
    pub fn record_refused(&self, entry: &LedgerEntry<'_>) {
        self.ledger.lock().unwrap().insert(Self::ledger_key(entry));
    }

    fn ledger_key(entry: &LedgerEntry<'_>) -> (String, String) {
        match entry {
            LedgerEntry::StripeEvent { event_id, .. } => keys::stripe_event(event_id),
            LedgerEntry::PortOnePayment(audit) => keys::portone_payment_status(audit.imp_uid, audit.status),
        }
    }
}

impl SettlementStore for MemorySettlementStore {
    async fn order_head(&self, order_id: &str) -> Result<Option<OrderHead>> {
        Ok(self.orders.lock().unwrap().get(order_id).cloned())
    }

    async fn settle(
        &self,
        entry: &LedgerEntry<'_>,
        order_id: &str,
        report: &PaymentReport<'_>,
        _returns: &[StockHold],
    ) -> Result<Settled> {
        *self.settle_calls.lock().unwrap() += 1;
        let mut orders = self.orders.lock().unwrap();
        let mut ledger = self.ledger.lock().unwrap();
        let target = report.target();
        let current = orders.get(order_id).cloned();
        let takes = current.as_ref().is_some_and(|order| {
            let moves = report.change().starts_from().contains(&order.status)
                && match report.fact {
                    PaymentFact::Refunded { total } => total > order.refunded_amount,
                    _ => true,
                };
            moves && order.amount == report.amount && order.currency == report.currency
        });
        let key = Self::ledger_key(entry);
        if ledger.contains(&key) {
            return Ok(Settled::Seen { order: current.filter(|_| !takes) });
        }
        let Some(order) = orders.get_mut(order_id).filter(|_| takes) else {
            return Ok(Settled::Refused { order: current });
        };
        ledger.insert(key);
        order.status = target;
        if let PaymentFact::Refunded { total } = report.fact {
            order.refunded_amount = total;
        }
        if report.fact == PaymentFact::Succeeded {
            order.paid_by = Some(report.payment_id.to_owned());
            order.receipt_status = ReceiptStatus::Queued;
            order.receipt_enqueued_at.get_or_insert(timefmt::now());
        }
        Ok(Settled::Applied)
    }
}

/// Receipts "sent": the order ids, in order.
#[derive(Debug, Default)]
pub struct RecordedReceipts(pub Mutex<Vec<String>>);

impl RecordedReceipts {
    pub fn sent(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl MailSender for RecordedReceipts {
    async fn send(&self, request: &MailRequest) -> Result<()> {
        let entry = match request {
            MailRequest::Refund { order_id, refunded_total, .. } => format!("refund {order_id} {refunded_total}"),
            other => other.order_id().unwrap_or_default().to_owned(),
        };
        self.0.lock().unwrap().push(entry);
        Ok(())
    }
}
