//! Orders and the catalog: placing an order (priced from the catalog, never
//! from the client), reading and listing them, and recording the payment
//! an order waits on. Who may read an order is `web::order_access`'s rule
//! over [`domain::order::ReadableOrder`]; what a payment means for an order
//! is [`crate::settlement`]'s.

use std::sync::Arc;

use async_trait::async_trait;
use domain::order::{self, Order, OrderHead, OrderRequest, OrderStatus, ReceiptStatus, new_order_token};
use domain::{Error, FieldErrors, Result, ids, timefmt};
use store::orders::Canceled;
use store::paging::{Direction, ListPage, PositionKey};
use store::{OrderRepository, ProductRepository, Table, UserRepository};

use crate::accounts::confirm_staff;
use crate::tokens::Principal;

pub use store::orders::{IntentRecord, OrderFilter};

/// What canceling a payment at its provider came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentCanceled {
    /// It can no longer be paid (canceled now, or before).
    Canceled,
    /// It was paid first: the payment's own report decides the order.
    AlreadySucceeded,
}

/// The payment provider's side of canceling an order: its PaymentIntent.
#[async_trait]
pub trait PaymentIntents: Send + Sync {
    async fn cancel(&self, payment_intent_id: &str) -> Result<IntentCanceled>;
}

/// A payment to give money back from: the order paid, the payment, and
/// what was given back of it before.
#[derive(Debug, Clone, Copy)]
pub struct RefundOf<'a> {
    pub order_id: &'a str,
    pub payment_id: &'a str,
    pub paid: i64,
    pub refunded_before: i64,
}

/// A provider that gives money back. It confirms later (Stripe's
/// `charge.refunded`, PortOne's webhook), and the order moves then; a retry
/// of the same request never gives back twice.
#[async_trait]
pub trait PaymentRefunds: Send + Sync {
    async fn refund(&self, of: RefundOf<'_>, amount: i64) -> Result<()>;
}

#[cfg(feature = "portone")]
#[async_trait]
impl PaymentRefunds for platform::portone::PortOneClient {
    /// PortOne's partial cancel, with what is left as its checksum: PortOne
    /// refuses it if anything was cancelled meanwhile.
    async fn refund(&self, of: RefundOf<'_>, amount: i64) -> Result<()> {
        let left = of.paid - of.refunded_before;
        match self.cancel_part(of.payment_id, amount, left, "refunded by staff").await {
            Ok(payment) => {
                tracing::info!(
                    imp_uid = of.payment_id,
                    amount,
                    cancel_amount = payment.cancel_amount,
                    "refund requested"
                );
                Ok(())
            }
            Err(platform::portone::PortOneError::Refused { message, .. }) => {
                tracing::warn!(imp_uid = of.payment_id, amount, %message, "portone refused the refund");
                Err(Error::conflict("PortOne refused the refund: the payment changed there; read the order again."))
            }
            Err(other) => Err(other.into()),
        }
    }
}

#[cfg(feature = "stripe")]
#[async_trait]
impl PaymentIntents for platform::stripe::StripeClient {
    async fn cancel(&self, payment_intent_id: &str) -> Result<IntentCanceled> {
        match self.cancel_payment_intent(payment_intent_id).await {
            Ok(_) => Ok(IntentCanceled::Canceled),
            // Refused: it is past canceling; what it is now says why.
            Err(platform::stripe::StripeError::Refused { .. }) => {
                match self.retrieve_payment_intent(payment_intent_id).await?.status.as_str() {
                    "succeeded" => Ok(IntentCanceled::AlreadySucceeded),
                    "canceled" => Ok(IntentCanceled::Canceled),
                    other => Err(Error::internal(format!("stripe would not cancel an intent that is {other}"))),
                }
            }
            Err(other) => Err(other.into()),
        }
    }
}

#[cfg(feature = "stripe")]
#[async_trait]
impl PaymentRefunds for platform::stripe::StripeClient {
    /// A Stripe Refund on the PaymentIntent. The same request (same order,
    /// same total so far, same amount) is the same refund at Stripe,
    /// however often it is retried.
    async fn refund(&self, of: RefundOf<'_>, amount: i64) -> Result<()> {
        let key = format!("refund-{}-{}-{amount}", of.order_id, of.refunded_before);
        let refund = self.create_refund(of.payment_id, Some(amount), &key).await?;
        tracing::info!(payment_intent_id = of.payment_id, refund_id = %refund.id, amount, status = %refund.status, "refund requested");
        Ok(())
    }
}

/// A refund asked of the provider; it takes effect when the provider
/// confirms it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefundRequested {
    pub order_id: String,
    pub amount: i64,
    pub status: &'static str,
}

/// An order just placed, and a guest's order token (shown once, stored
/// only as a hash).
#[derive(Debug)]
pub struct PlacedOrder {
    pub order: Order,
    pub order_token: Option<String>,
}

#[derive(Clone)]
pub struct OrderService {
    orders: OrderRepository,
    products: ProductRepository,
    users: UserRepository,
    /// Where an order's payment is canceled with it (absent where orders
    /// are only read or paid).
    intents: Option<Arc<dyn PaymentIntents>>,
    /// Where refunds are asked: Stripe's, PortOne's.
    stripe_refunds: Option<Arc<dyn PaymentRefunds>>,
    portone_refunds: Option<Arc<dyn PaymentRefunds>>,
    /// How long an unpaid order holds its stock.
    hold: time::Duration,
}

/// What one sweep of expired orders did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Swept {
    /// Canceled, their stock returned.
    pub canceled: usize,
    /// Their payment went through first: left for its webhook.
    pub left_for_payment: usize,
    /// Canceled or paid by something else meanwhile.
    pub already_moved: usize,
    /// Not done now (the provider or the table failed); the next sweep
    /// tries again.
    pub failed: usize,
}

/// The default of `ORDER_HOLD_MINUTES`.
const DEFAULT_HOLD: time::Duration = time::Duration::minutes(30);

impl std::fmt::Debug for OrderService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderService").finish_non_exhaustive()
    }
}

impl OrderService {
    pub fn new(table: Table) -> Self {
        Self {
            orders: OrderRepository::new(table.clone()),
            products: ProductRepository::new(table.clone()),
            users: UserRepository::new(table),
            intents: None,
            stripe_refunds: None,
            portone_refunds: None,
            hold: DEFAULT_HOLD,
        }
    }

    /// The service that can refund payments of either provider.
    pub fn with_refunds(self, stripe: Arc<dyn PaymentRefunds>, portone: Arc<dyn PaymentRefunds>) -> Self {
        Self { stripe_refunds: Some(stripe), portone_refunds: Some(portone), ..self }
    }

    /// How long new orders hold their stock unpaid.
    pub fn with_hold(self, hold: std::time::Duration) -> Self {
        Self { hold: time::Duration::try_from(hold).unwrap_or(DEFAULT_HOLD), ..self }
    }

    /// The service that can also cancel orders, their payments with them.
    pub fn with_payment_intents(self, intents: Arc<dyn PaymentIntents>) -> Self {
        Self { intents: Some(intents), ..self }
    }

    /// Places `request` for `caller` (signed in: theirs, their account's
    /// email unless another is given) or for a guest (who must give an
    /// email, and gets an order token).
    pub async fn place(&self, caller: Option<&Principal>, request: OrderRequest) -> Result<PlacedOrder> {
        let catalog = self.products.get_many(&request.product_ids()).await?;
        let priced = order::price(&request, &catalog)?;
        let email = match (request.email, caller) {
            (Some(email), _) => email,
            (None, Some(me)) => {
                self.users.get(&me.user_id).await?.ok_or(Error::NotAuthenticated("User not found."))?.email
            }
            (None, None) => {
                return Err(Error::Validation(FieldErrors::single("email", domain::validate::REQUIRED)));
            }
        };
        let (order_token, token_hash) = match caller {
            Some(_) => (None, None),
            None => {
                let (token, hash) = new_order_token();
                (Some(token), Some(hash))
            }
        };
        let now = timefmt::now();
        let order = Order {
            id: ids::new_id_at(now),
            status: OrderStatus::Pending,
            email,
            user_id: caller.map(|me| me.user_id.clone()),
            token_hash,
            lines: priced.lines,
            holds: priced.holds,
            refunded_amount: 0,
            refund_totals: vec![],
            amount: priced.amount,
            currency: priced.currency,
            payment_intent_id: None,
            receipt_status: ReceiptStatus::None,
            receipt_sent_at: None,
            created_at: now,
            updated_at: now,
            expires_at: now + self.hold,
            correlation_id: ids::new_id_at(now),
        };
        platform::telemetry::record_correlation_id(&order.correlation_id);
        self.orders.create(&order).await?;
        tracing::info!(
            order_id = %order.id,
            amount = order.amount,
            currency = %order.currency,
            lines = order.lines.len(),
            guest = order.user_id.is_none(),
            "order placed"
        );
        Ok(PlacedOrder { order, order_token })
    }

    /// The whole order, with its lines.
    pub async fn order(&self, order_id: &str) -> Result<Option<Order>> {
        self.orders.get(order_id).await
    }

    /// The order without its lines: what paying for it needs.
    pub async fn head(&self, order_id: &str) -> Result<Option<OrderHead>> {
        self.orders.get_head(order_id).await
    }

    /// A page of `user_id`'s orders, newest first.
    pub async fn list_for_user(
        &self,
        user_id: &str,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<ListPage<Order>> {
        self.orders.list_for_user(user_id, direction, start, page_size).await
    }

    /// Any order, for staff; 403 for anyone else.
    pub async fn order_as_staff(&self, caller: &Principal, order_id: &str) -> Result<Order> {
        confirm_staff(&self.users, caller).await?;
        if !domain::ids::is_plausible_id(order_id) {
            return Err(Error::NotFound);
        }
        self.orders.get(order_id).await?.ok_or(Error::NotFound)
    }

    /// Asks the provider that was paid to give back `amount` of `order_id`
    /// (staff only; all that is left by default). The order changes when
    /// the provider confirms the refund. A paid order only (409 otherwise);
    /// an amount over what is left is a 400.
    pub async fn request_refund(
        &self,
        caller: &Principal,
        order_id: &str,
        amount: Option<i64>,
    ) -> Result<RefundRequested> {
        confirm_staff(&self.users, caller).await?;
        if !domain::ids::is_plausible_id(order_id) {
            return Err(Error::NotFound);
        }
        let order = self.orders.get_head(order_id).await?.ok_or(Error::NotFound)?;
        if order.status != OrderStatus::Paid {
            return Err(Error::conflict(format!(
                "This order is {}; only a paid order is refunded.",
                order.status.as_str()
            )));
        }
        let left = order.amount - order.refunded_amount;
        let amount = amount.unwrap_or(left);
        if !(1..=left).contains(&amount) {
            return Err(Error::Validation(FieldErrors::single(
                "amount",
                format!("Ensure this value is between 1 and {left}, what is left to refund."),
            )));
        }
        let payment = order.paid_by.as_deref().ok_or_else(|| Error::internal("a paid order without its payment"))?;
        // Stripe's PaymentIntents are `pi_…`; anything else paid through
        // PortOne (its `imp_uid`).
        let provider = if payment.starts_with("pi_") { &self.stripe_refunds } else { &self.portone_refunds };
        let provider = provider.as_ref().ok_or_else(|| Error::internal("no payment provider to refund at"))?;
        let of = RefundOf { order_id, payment_id: payment, paid: order.amount, refunded_before: order.refunded_amount };
        provider.refund(of, amount).await?;
        tracing::info!(order_id, amount, refunded_before = order.refunded_amount, "refund requested");
        Ok(RefundRequested { order_id: order_id.to_owned(), amount, status: "requested" })
    }

    /// A page of every order, newest first, filtered: staff's list; 403 for
    /// anyone else.
    pub async fn list_all_as_staff(
        &self,
        caller: &Principal,
        filter: &OrderFilter,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<ListPage<Order>> {
        confirm_staff(&self.users, caller).await?;
        self.orders.list_all(filter, direction, start, page_size).await
    }

    /// Records `payment_intent_id` as the order's payment, unless another
    /// was recorded first (then the order as it now stands).
    pub async fn record_payment_intent(&self, order_id: &str, payment_intent_id: &str) -> Result<IntentRecord> {
        self.orders.record_payment_intent(order_id, payment_intent_id).await
    }

    /// Cancels the unpaid orders whose hold ended (at most `limit`), as
    /// [`Self::cancel`] does, except that an order whose payment went
    /// through first is left for that payment's report. One failure does
    /// not stop the others; the next sweep takes what is left.
    pub async fn expire_due(&self, limit: usize) -> Result<Swept> {
        let mut swept = Swept::default();
        for order in self.orders.expired(timefmt::now(), limit).await? {
            match self.cancel_unpaid(&order).await {
                Ok(Cancel::Done) => {
                    swept.canceled += 1;
                    tracing::info!(order_id = %order.id, "unpaid order expired");
                }
                Ok(Cancel::PaidFirst) => swept.left_for_payment += 1,
                Ok(Cancel::Moved(_)) => swept.already_moved += 1,
                Err(error) => {
                    swept.failed += 1;
                    tracing::warn!(order_id = %order.id, error = %error, "could not expire an order; the next sweep tries again");
                }
            }
        }
        Ok(swept)
    }

    /// The payment canceled at its provider, then the order and its stock
    /// in one write.
    async fn cancel_unpaid(&self, order: &OrderHead) -> Result<Cancel> {
        if let Some(intent) = &order.payment_intent_id {
            let intents = self.intents.as_ref().ok_or_else(|| Error::internal("no payment provider to cancel at"))?;
            if intents.cancel(intent).await? == IntentCanceled::AlreadySucceeded {
                return Ok(Cancel::PaidFirst);
            }
        }
        Ok(match self.orders.cancel(order).await? {
            Canceled::Now => Cancel::Done,
            Canceled::Refused { order } => Cancel::Moved(order.map(|o| o.status)),
        })
    }

    /// Cancels `order` (read by whoever may act on it): its PaymentIntent
    /// at the provider first, so it can no longer be paid, then the order
    /// and its stock in one write. Canceling a canceled order changes
    /// nothing; a paid one, or one whose payment went through first, is a
    /// 409. The order as it now is.
    pub async fn cancel(&self, order: &OrderHead) -> Result<Order> {
        if order.status != OrderStatus::Canceled {
            if !order.status.can_become(OrderStatus::Canceled) {
                return Err(not_cancelable(order.status));
            }
            match self.cancel_unpaid(order).await? {
                Cancel::Done => tracing::info!(order_id = %order.id, holds = order.holds.len(), "order canceled"),
                Cancel::PaidFirst => {
                    tracing::info!(order_id = %order.id, "cancel refused: the payment went through first");
                    return Err(Error::conflict("This order's payment has gone through; it cannot be canceled."));
                }
                // Canceled meanwhile by another call: the same answer.
                Cancel::Moved(Some(OrderStatus::Canceled)) => {}
                Cancel::Moved(Some(status)) => return Err(not_cancelable(status)),
                Cancel::Moved(None) => return Err(Error::NotFound),
            }
        }
        self.orders.get(&order.id).await?.ok_or(Error::NotFound)
    }
}

/// What canceling an unpaid order came to.
enum Cancel {
    Done,
    /// Its payment went through before it could be canceled.
    PaidFirst,
    /// Not canceled: the order moved meanwhile (to this status), or is gone.
    Moved(Option<OrderStatus>),
}

fn not_cancelable(status: OrderStatus) -> Error {
    Error::conflict(format!("This order is {}; it cannot be canceled.", status.as_str()))
}
