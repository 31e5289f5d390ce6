//! The providers' own records beside the settlement: Stripe's events (a
//! record per event id, an audit item per delivery) and PortOne's payments
//! (once per status, an audit item per outcome), for the reports that move
//! no order, and for replays.

use domain::Result;
use store::{OrderRepository, PortOnePaymentRepository, StripeEventRepository, Table};

pub use store::portone_payments::PaymentAudit;
pub use store::stripe_events::{Delivery, Recorded, StoredEvent};

#[derive(Debug, Clone)]
pub struct ProviderLedger {
    stripe_events: StripeEventRepository,
    portone_payments: PortOnePaymentRepository,
    orders: OrderRepository,
}

impl ProviderLedger {
    pub fn new(table: Table) -> Self {
        Self {
            stripe_events: StripeEventRepository::new(table.clone()),
            portone_payments: PortOnePaymentRepository::new(table.clone()),
            orders: OrderRepository::new(table),
        }
    }

    /// Records a Stripe event that changes no order, with this delivery's
    /// audit, unless an earlier delivery recorded it.
    pub async fn record_stripe_event(
        &self,
        event_id: &str,
        event_type: &str,
        order_id: Option<&str>,
        summary: &str,
        outcome: &str,
        delivery: &Delivery,
    ) -> Result<Recorded> {
        let record = self.stripe_events.record_put(event_id, event_type, order_id, summary, outcome)?;
        self.stripe_events.record(record, event_id, outcome, delivery).await
    }

    pub async fn stripe_event(&self, event_id: &str) -> Result<Option<StoredEvent>> {
        self.stripe_events.get(event_id).await
    }

    /// Audits one more delivery of a recorded event.
    pub async fn record_stripe_delivery(&self, event_id: &str, outcome: &str, delivery: &Delivery) -> Result<()> {
        self.stripe_events.record_delivery(event_id, outcome, delivery).await
    }

    /// The order a PaymentIntent was made for.
    pub async fn order_of_payment_intent(&self, payment_intent_id: &str) -> Result<Option<String>> {
        self.orders.order_of_payment_intent(payment_intent_id).await
    }

    /// Records a PortOne status that changes no order, once per status;
    /// false when it was recorded before.
    pub async fn record_portone_status(&self, audit: &PaymentAudit<'_>) -> Result<bool> {
        self.portone_payments.record_status(audit).await
    }

    /// Audits what was done with a PortOne payment (given back, refused).
    pub async fn audit_portone_payment(&self, audit: &PaymentAudit<'_>) -> Result<()> {
        self.portone_payments.audit(audit).await
    }
}
