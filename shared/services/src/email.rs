//! What the mailer and SES's feedback need: a receipt is claimed before it
//! is sent (one sender at a time, a lease that lapses if the sender dies),
//! never sent to an address on the suppression list, and marked sent,
//! suppressed or let go; SES's bounces and complaints keep the list.

use domain::Result;
use domain::email::normalise_address;
use store::{OrderRepository, SuppressionRepository, Table};

pub use store::orders::ReceiptClaim;
pub use store::suppressions::AddressEvent;

#[derive(Debug, Clone)]
pub struct ReceiptService {
    orders: OrderRepository,
    suppressions: SuppressionRepository,
}

impl ReceiptService {
    pub fn new(table: Table) -> Self {
        Self { orders: OrderRepository::new(table.clone()), suppressions: SuppressionRepository::new(table) }
    }

    /// Claims the order's receipt for `claim_id` until `until` (unix
    /// seconds); one conditional write that returns the order with its
    /// lines, or says why not.
    pub async fn claim(&self, order_id: &str, claim_id: &str, now: i64, until: i64) -> Result<ReceiptClaim> {
        self.orders.claim_receipt(order_id, claim_id, now, until).await
    }

    /// Whether mail to `email` must not be sent. An address that does not
    /// normalise names no mailbox the list could hold.
    pub async fn is_suppressed(&self, email: &str) -> Result<bool> {
        match normalise_address(email) {
            Some(address) => self.suppressions.is_suppressed(&address).await,
            None => Ok(false),
        }
    }

    /// False when the claim lapsed before the mark.
    pub async fn mark_sent(&self, order_id: &str, claim_id: &str, message_id: &str) -> Result<bool> {
        self.orders.mark_receipt_sent(order_id, claim_id, message_id).await
    }

    /// False when the claim lapsed before the mark.
    pub async fn mark_suppressed(&self, order_id: &str, claim_id: &str) -> Result<bool> {
        self.orders.mark_receipt_suppressed(order_id, claim_id).await
    }

    /// Lets a claim go after a failed send, so the next delivery retries.
    pub async fn release(&self, order_id: &str, claim_id: &str) -> Result<()> {
        self.orders.release_receipt_claim(order_id, claim_id).await
    }
}

#[derive(Debug, Clone)]
pub struct SuppressionList {
    suppressions: SuppressionRepository,
}

impl SuppressionList {
    pub fn new(table: Table) -> Self {
        Self { suppressions: SuppressionRepository::new(table) }
    }

    /// Applies one SES notification to its recipients, once: false when
    /// this notification was applied before.
    pub async fn apply(&self, notification_id: &str, event: AddressEvent, addresses: &[String]) -> Result<bool> {
        self.suppressions.apply(notification_id, event, addresses).await
    }
}
