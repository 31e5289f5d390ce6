//! Orders: what `POST /orders` accepts, how an order is priced from the
//! catalog, who may read it, and the one status machine every function
//! (orders, payments, the webhook, the mailer) obeys.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::catalog::{MAX_AMOUNT, Product};
use super::user::normalize_email;
use super::validate::{REQUIRED, is_valid_email, required_string};
use crate::ids::is_plausible_id;
use crate::{FieldErrors, Result};

pub const ITEMS_MIN: usize = 1;
pub const ITEMS_MAX: usize = 50;
pub const QUANTITY_MIN: i64 = 1;
pub const QUANTITY_MAX: i64 = 100;

/// Where an order is in its life. The only transitions that ever happen:
/// `pending → paid | payment_failed | canceled`, `payment_failed → paid`
/// (a later attempt succeeded) `| canceled`, `paid → refunded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Paid,
    PaymentFailed,
    Canceled,
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [Self::Pending, Self::Paid, Self::PaymentFailed, Self::Canceled, Self::Refunded];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::PaymentFailed => "payment_failed",
            Self::Canceled => "canceled",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Whether `self → next` is one of the contract's transitions.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Pending, Paid | PaymentFailed | Canceled) | (PaymentFailed, Paid | Canceled) | (Paid, Refunded)
        )
    }

    /// The statuses an order can be paid from: a payment may be started
    /// (or retried) only here.
    pub fn awaits_payment(self) -> bool {
        self.can_become(Self::Paid)
    }

    /// The statuses from which `next` can be reached in one step.
    pub fn predecessors(next: OrderStatus) -> Vec<OrderStatus> {
        Self::ALL.into_iter().filter(|from| from.can_become(next)).collect()
    }
}

/// Where the order's receipt email is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// Not paid yet, so nothing to send.
    None,
    /// Paid; the receipt is on its way to the mailer.
    Queued,
    Sent,
    /// The address is on the suppression list; nothing was sent.
    Suppressed,
    /// The last attempt failed; it is retried (and then redriven).
    Failed,
}

impl ReceiptStatus {
    pub const ALL: [ReceiptStatus; 5] = [Self::None, Self::Queued, Self::Sent, Self::Suppressed, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Suppressed => "suppressed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// One line of an order: the product's name and price as they were when
/// the order was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrderLine {
    pub product_id: String,
    pub name: String,
    #[schema(example = 1299)]
    pub unit_amount: i64,
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: i64,
    /// `unit_amount × quantity`.
    pub line_amount: i64,
}

/// Stock an order holds: `quantity` of `product_id`, for its item `line`
/// (its index in the request). Returned, once, when the order is canceled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockHold {
    pub product_id: String,
    pub quantity: i64,
    pub line: usize,
}

/// The 409 for items asking more than is left: `(item index, left)`.
pub fn out_of_stock(shortages: &[(usize, i64)]) -> crate::Error {
    let mut errors = FieldErrors::new();
    for (line, left) in shortages {
        errors.add(format!("items.{line}.quantity"), format!("Only {} left.", left.max(&0)));
    }
    crate::Error::Conflict { message: "Not enough stock for this order.".into(), errors: Some(errors) }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub status: OrderStatus,
    pub email: String,
    /// The signed-in customer; `None` for a guest order.
    pub user_id: Option<String>,
    /// SHA-256 of the guest's order token; the token itself is never kept.
    pub token_hash: Option<String>,
    pub lines: Vec<OrderLine>,
    /// The stock its items hold (products with a limit only).
    pub holds: Vec<StockHold>,
    pub amount: i64,
    pub currency: String,
    /// What the provider has given back so far (its own running total).
    pub refunded_amount: i64,
    /// Each running total a confirmed refund brought, in the order they
    /// landed (rising): what one refund gave back is its total less the one
    /// before.
    pub refund_totals: Vec<i64>,
    pub payment_intent_id: Option<String>,
    pub receipt_status: ReceiptStatus,
    pub receipt_sent_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Unpaid past this, the order is canceled by the sweep and its stock
    /// returned (`ORDER_HOLD_MINUTES` after it was placed).
    pub expires_at: OffsetDateTime,
    /// Made with the order and carried by everything done for it (the
    /// PaymentIntent's metadata, the webhook, the receipt message), so one
    /// search of the logs follows an order from the API to its email.
    pub correlation_id: String,
}

/// The order item alone, without its lines: what payments, the webhook and
/// the mailer decide by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderHead {
    pub id: String,
    pub status: OrderStatus,
    pub email: String,
    pub user_id: Option<String>,
    pub token_hash: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub holds: Vec<StockHold>,
    pub refunded_amount: i64,
    pub payment_intent_id: Option<String>,
    pub receipt_status: ReceiptStatus,
    /// When the paying transaction marked the receipt queued (the message
    /// goes to the queue right after it).
    pub receipt_enqueued_at: Option<time::OffsetDateTime>,
    pub correlation_id: String,
    /// The payment that paid it (a Stripe PaymentIntent or a PortOne
    /// `imp_uid`), once paid: a second successful payment is told apart.
    pub paid_by: Option<String>,
}

/// How long a queued receipt is given before a redelivered payment queues
/// it again.
const RECEIPT_REQUEUE_AFTER: time::Duration = time::Duration::seconds(60);

impl OrderHead {
    /// Whether a payment of `amount` in `currency` (lower case) is what
    /// this order asks: the one check every provider's payment and every
    /// PaymentIntent passes.
    pub fn asks_for(&self, amount: i64, currency: &str) -> bool {
        self.amount == amount && self.currency == currency
    }

    /// A payment may be started (or retried) only while the order awaits
    /// one; otherwise a 409 naming its status.
    pub fn ensure_payable(&self) -> Result<()> {
        if self.status.awaits_payment() {
            Ok(())
        } else {
            Err(crate::Error::conflict(format!("This order is {}; it cannot be paid.", self.status.as_str())))
        }
    }

    /// Whether a payment reported again (a provider's redelivery, a client
    /// retrying) should queue the receipt again: the order is paid, the
    /// receipt not sent, and it was not queued in the last minute. A crash
    /// between the paying transaction and the queue is mended by the next
    /// report; a client calling in a loop does not flood the queue.
    pub fn receipt_needs_requeue(&self, now: time::OffsetDateTime) -> bool {
        self.status == OrderStatus::Paid
            && self.receipt_status != ReceiptStatus::Sent
            && self.receipt_enqueued_at.is_none_or(|at| now - at >= RECEIPT_REQUEUE_AFTER)
    }
}

impl ReadableOrder for OrderHead {
    fn readable_by(&self, caller: Option<&str>, presented_token: Option<&str>) -> bool {
        may_read(self.user_id.as_deref(), self.token_hash.as_deref(), caller, presented_token)
    }
}

/// An order, whole or in part, that can tell who may act on it.
pub trait ReadableOrder {
    /// Its owner, or whoever holds its order token. Everyone else is told
    /// it does not exist.
    fn readable_by(&self, caller: Option<&str>, presented_token: Option<&str>) -> bool;
}

impl ReadableOrder for Order {
    fn readable_by(&self, caller: Option<&str>, presented_token: Option<&str>) -> bool {
        may_read(self.user_id.as_deref(), self.token_hash.as_deref(), caller, presented_token)
    }
}

impl Order {
    /// What the refund that brought the running total to `total` gave back.
    pub fn refunded_by(&self, total: i64) -> i64 {
        let before = self.refund_totals.iter().copied().filter(|t| *t < total).max().unwrap_or(0);
        total - before
    }

    pub fn view(&self) -> OrderView {
        OrderView {
            id: self.id.clone(),
            status: self.status,
            email: self.email.clone(),
            items: self.lines.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            refunded_amount: self.refunded_amount,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
            receipt: ReceiptView { status: self.receipt_status, sent_at: self.receipt_sent_at },
            order_token: None,
        }
    }
}

/// An order as clients see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    #[schema(example = "01JF2Z3B7K9M1N4P6Q8R0S2T4V")]
    pub id: String,
    pub status: OrderStatus,
    #[schema(format = Email)]
    pub email: String,
    pub items: Vec<OrderLine>,
    /// The sum of the lines, in the currency's minor unit.
    #[schema(example = 2598)]
    pub amount: i64,
    #[schema(example = "usd")]
    pub currency: String,
    /// Given back so far; the order is `refunded` when this is `amount`.
    #[schema(example = 0)]
    pub refunded_amount: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Unpaid (`pending` or `payment_failed`) past this, it is canceled and
    /// its stock returned.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub receipt: ReceiptView,
    /// Only in the 201 of a guest order: the secret that reads this order
    /// (and nothing else) via `X-Order-Token`. Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_token: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct ReceiptView {
    pub status: ReceiptStatus,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
}

/// `POST /orders` as sent. Every field is optional here so that all the
/// missing ones are reported together.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OrderInput {
    /// Required for guests; signed in, defaults to the account's.
    #[schema(value_type = Option<String>, format = Email)]
    pub email: Option<String>,
    #[schema(value_type = Vec<OrderItemInput>, required = true, min_items = 1, max_items = 50)]
    pub items: Option<Vec<OrderItemInput>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OrderItemInput {
    #[schema(value_type = String, required = true)]
    pub product_id: Option<String>,
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 100)]
    pub quantity: Option<i64>,
}

/// An order request whose shape passed; prices are not known yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    /// `None`: signed in without an email, so the account's applies.
    pub email: Option<String>,
    /// (product id, quantity), in the client's order, no id twice.
    pub items: Vec<(String, i64)>,
}

impl OrderInput {
    /// Checks everything that does not need the catalog. A guest must give
    /// an email; a signed-in customer may.
    pub fn validate(self, signed_in: bool) -> Result<OrderRequest> {
        let mut errors = FieldErrors::new();
        let email = match self.email {
            None if signed_in => None,
            email => {
                let email = required_string(&mut errors, "email", email, false).trim().to_owned();
                if errors.get("email").is_none() && !is_valid_email(&email) {
                    errors.add("email", "Enter a valid email address.");
                }
                Some(normalize_email(&email))
            }
        };
        let inputs = match self.items {
            None => {
                errors.add("items", REQUIRED);
                Vec::new()
            }
            Some(items) if items.len() < ITEMS_MIN => {
                errors.add("items", "This list may not be empty.");
                items
            }
            Some(items) if items.len() > ITEMS_MAX => {
                errors.add("items", format!("Ensure this field has no more than {ITEMS_MAX} elements."));
                Vec::new()
            }
            Some(items) => items,
        };
        let mut seen = HashSet::new();
        let mut items = Vec::with_capacity(inputs.len());
        for (index, item) in inputs.into_iter().enumerate() {
            let field = |name: &str| format!("items.{index}.{name}");
            let product_id = required_string(&mut errors, &field("product_id"), item.product_id, false);
            if !product_id.is_empty() && !seen.insert(product_id.clone()) {
                errors.add(field("product_id"), "Duplicate product: each product may appear once.");
            }
            let quantity = match item.quantity {
                None => {
                    errors.add(field("quantity"), REQUIRED);
                    0
                }
                Some(q) if q < QUANTITY_MIN => {
                    errors.add(
                        field("quantity"),
                        format!("Ensure this value is greater than or equal to {QUANTITY_MIN}."),
                    );
                    q
                }
                Some(q) if q > QUANTITY_MAX => {
                    errors
                        .add(field("quantity"), format!("Ensure this value is less than or equal to {QUANTITY_MAX}."));
                    q
                }
                Some(q) => q,
            };
            items.push((product_id, quantity));
        }
        errors.into_result(OrderRequest { email, items })
    }
}

impl OrderRequest {
    /// The product ids worth looking up (implausible ones name nothing and
    /// are reported as unknown by [`price`]).
    pub fn product_ids(&self) -> Vec<String> {
        self.items.iter().map(|(id, _)| id.clone()).filter(|id| is_plausible_id(id)).collect()
    }
}

/// An order priced from the catalog: the client sent ids and quantities,
/// never names or prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedOrder {
    pub lines: Vec<OrderLine>,
    pub holds: Vec<StockHold>,
    pub amount: i64,
    pub currency: String,
}

/// Prices `request` from `catalog` (the products found, by id). Unknown or
/// inactive products, mixed currencies and totals past Stripe's ceiling are
/// validation errors on the field that caused them; items asking more than
/// is left are a 409 ([`out_of_stock`]). The stock is only held when the
/// order is written, on the condition that it is still there.
pub fn price(request: &OrderRequest, catalog: &HashMap<String, Product>) -> Result<PricedOrder> {
    let mut errors = FieldErrors::new();
    let mut lines = Vec::with_capacity(request.items.len());
    let mut holds = Vec::new();
    let mut shortages = Vec::new();
    for (index, (product_id, quantity)) in request.items.iter().enumerate() {
        let field = format!("items.{index}.product_id");
        if let Some(stock) = catalog.get(product_id).and_then(|product| product.stock) {
            if *quantity > stock {
                shortages.push((index, stock));
            }
            holds.push(StockHold { product_id: product_id.clone(), quantity: *quantity, line: index });
        }
        match catalog.get(product_id) {
            None => errors.add(field, format!("Invalid pk \"{product_id}\" - object does not exist.")),
            Some(product) if !product.active => errors.add(field, "This product is not available."),
            Some(product) => lines.push(OrderLine {
                product_id: product.id.clone(),
                name: product.name.clone(),
                unit_amount: product.unit_amount,
                quantity: *quantity,
                line_amount: product.unit_amount.saturating_mul(*quantity),
            }),
        }
    }
    let currencies: HashSet<&str> =
        request.items.iter().filter_map(|(id, _)| catalog.get(id).map(|p| p.currency.as_str())).collect();
    if currencies.len() > 1 {
        errors.add("items", "All products of an order must be in the same currency.");
    }
    let amount = lines.iter().fold(0i64, |sum, line| sum.saturating_add(line.line_amount));
    if amount > MAX_AMOUNT {
        errors
            .add("items", format!("Ensure the order total is no more than {MAX_AMOUNT} in the currency's minor unit."));
    }
    let currency = currencies.into_iter().next().unwrap_or_default().to_owned();
    let priced = errors.into_result(PricedOrder { lines, holds, amount, currency })?;
    if shortages.is_empty() { Ok(priced) } else { Err(out_of_stock(&shortages)) }
}

/// An order is readable by its owner, or by whoever holds its order token.
pub fn may_read(
    owner: Option<&str>,
    token_hash: Option<&str>,
    caller: Option<&str>,
    presented_token: Option<&str>,
) -> bool {
    let is_owner = caller.is_some() && owner == caller;
    let holds_token = match (token_hash, presented_token) {
        (Some(stored), Some(token)) => order_token_matches(token, stored),
        _ => false,
    };
    is_owner || holds_token
}

/// A new guest order token and the hash to store in its place.
pub fn new_order_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_order_token(&token);
    (token, hash)
}

pub fn hash_order_token(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Compares hashes in constant time, so response timing says nothing about
/// how much of a guessed token was right.
pub fn order_token_matches(presented: &str, stored_hash: &str) -> bool {
    let presented_hash = hash_order_token(presented);
    presented_hash.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn only_the_contract_transitions_are_allowed() {
        let allowed = [
            (Pending, Paid),
            (Pending, PaymentFailed),
            (Pending, Canceled),
            (PaymentFailed, Paid),
            (PaymentFailed, Canceled),
            (Paid, Refunded),
        ];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                assert_eq!(from.can_become(to), allowed.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn payment_is_awaited_only_while_pending_or_failed() {
        let awaiting: Vec<_> = OrderStatus::ALL.into_iter().filter(|s| s.awaits_payment()).collect();
        assert_eq!(awaiting, [Pending, PaymentFailed]);
        assert_eq!(OrderStatus::predecessors(Refunded), [Paid]);
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        for status in ReceiptStatus::ALL {
            assert_eq!(ReceiptStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OrderStatus::parse("PAID"), None);
    }

    fn input(json: serde_json::Value) -> OrderInput {
        serde_json::from_value(json).unwrap()
    }

    fn errors_of(result: Result<impl std::fmt::Debug>) -> FieldErrors {
        match result {
            Err(crate::Error::Validation(errors)) => errors,
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    #[test]
    fn guests_must_give_an_email_and_members_may() {
        let items = serde_json::json!([{"product_id": "p1", "quantity": 1}]);
        let errors = errors_of(input(serde_json::json!({"items": items})).validate(false));
        assert_eq!(errors.get("email").unwrap(), [REQUIRED]);
        let request = input(serde_json::json!({"items": items})).validate(true).unwrap();
        assert_eq!(request.email, None);
        let request = input(serde_json::json!({"items": items, "email": "A@Example.COM"})).validate(false).unwrap();
        assert_eq!(request.email.as_deref(), Some("A@example.com"));
        let errors = errors_of(input(serde_json::json!({"items": items, "email": "nope"})).validate(true));
        assert_eq!(errors.get("email").unwrap(), ["Enter a valid email address."]);
    }

    #[test]
    fn items_are_checked_one_by_one_with_dotted_paths() {
        let errors = errors_of(
            input(serde_json::json!({"email": "a@b.co", "items": [
                {"product_id": "p1", "quantity": 0},
                {"product_id": "p2", "quantity": 101},
                {"product_id": "p1", "quantity": 1},
                {"quantity": 1},
                {"product_id": "p3"},
            ]}))
            .validate(false),
        );
        assert_eq!(errors.get("items.0.quantity").unwrap(), ["Ensure this value is greater than or equal to 1."]);
        assert_eq!(errors.get("items.1.quantity").unwrap(), ["Ensure this value is less than or equal to 100."]);
        assert!(errors.get("items.2.product_id").unwrap()[0].starts_with("Duplicate product"));
        assert_eq!(errors.get("items.3.product_id").unwrap(), [REQUIRED]);
        assert_eq!(errors.get("items.4.quantity").unwrap(), [REQUIRED]);
        assert!(errors.get("items.0.product_id").is_none());
    }

    #[test]
    fn one_to_fifty_items() {
        let errors = errors_of(input(serde_json::json!({"email": "a@b.co", "items": []})).validate(false));
        assert_eq!(errors.get("items").unwrap(), ["This list may not be empty."]);
        let many: Vec<_> = (0..51).map(|i| serde_json::json!({"product_id": format!("p{i}"), "quantity": 1})).collect();
        let errors = errors_of(input(serde_json::json!({"email": "a@b.co", "items": many})).validate(false));
        assert_eq!(errors.get("items").unwrap(), ["Ensure this field has no more than 50 elements."]);
        let fifty: Vec<_> =
            (0..50).map(|i| serde_json::json!({"product_id": format!("p{i}"), "quantity": 100})).collect();
        assert_eq!(
            input(serde_json::json!({"email": "a@b.co", "items": fifty})).validate(false).unwrap().items.len(),
            50
        );
        let errors = errors_of(input(serde_json::json!({"email": "a@b.co"})).validate(false));
        assert_eq!(errors.get("items").unwrap(), [REQUIRED]);
    }

    fn catalog() -> HashMap<String, Product> {
        let product = |id: &str, amount: i64, currency: &str, active: bool| Product {
            id: id.into(),
            name: format!("Product {id}"),
            description: String::new(),
            unit_amount: amount,
            currency: currency.into(),
            active,
            stock: None,
        };
        let limited = |id: &str, stock: i64| Product { stock: Some(stock), ..product(id, 700, "usd", true) };
        [
            limited("few", 3),
            limited("none", 0),
            product("usd1", 1299, "usd", true),
            product("usd2", 500, "usd", true),
            product("krw1", 15000, "krw", true),
            product("gone", 100, "usd", false),
            product("dear", 60_000_000, "usd", true),
        ]
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect()
    }

    fn request(items: &[(&str, i64)]) -> OrderRequest {
        OrderRequest { email: None, items: items.iter().map(|(id, q)| (id.to_string(), *q)).collect() }
    }

    #[test]
    fn prices_come_from_the_catalog() {
        let priced = price(&request(&[("usd1", 2), ("usd2", 1)]), &catalog()).unwrap();
        assert_eq!(priced.amount, 2 * 1299 + 500);
        assert_eq!(priced.currency, "usd");
        assert_eq!(priced.lines[0].name, "Product usd1");
        assert_eq!(priced.lines[0].line_amount, 2598);
    }

    #[test]
    fn unknown_inactive_and_mixed_currency_orders_are_refused() {
        let errors = errors_of(price(&request(&[("usd1", 1), ("nope", 1), ("gone", 1)]), &catalog()));
        assert_eq!(errors.get("items.1.product_id").unwrap(), ["Invalid pk \"nope\" - object does not exist."]);
        assert_eq!(errors.get("items.2.product_id").unwrap(), ["This product is not available."]);
        let errors = errors_of(price(&request(&[("usd1", 1), ("krw1", 1)]), &catalog()));
        assert!(errors.get("items").is_some());
        let errors = errors_of(price(&request(&[("dear", 2)]), &catalog()));
        assert!(errors.get("items").unwrap()[0].contains("99999999"));
    }

    #[test]
    fn limited_products_are_held_and_never_oversold() {
        let priced = price(&request(&[("usd1", 5), ("few", 3)]), &catalog()).unwrap();
        assert_eq!(priced.holds, [StockHold { product_id: "few".into(), quantity: 3, line: 1 }]);
        match price(&request(&[("few", 4), ("usd1", 1), ("none", 1)]), &catalog()) {
            Err(crate::Error::Conflict { errors: Some(errors), .. }) => {
                assert_eq!(errors.get("items.0.quantity").unwrap(), ["Only 3 left."]);
                assert_eq!(errors.get("items.2.quantity").unwrap(), ["Only 0 left."]);
                assert!(errors.get("items.1.quantity").is_none());
            }
            other => panic!("not a 409 naming the items: {other:?}"),
        }
        let errors = errors_of(price(&request(&[("few", 9), ("nope", 1)]), &catalog()));
        assert!(errors.get("items.1.product_id").is_some(), "a 400 comes before a 409");
    }

    #[test]
    fn an_unpaid_order_can_be_canceled_and_a_paid_one_cannot() {
        for from in [Pending, PaymentFailed] {
            assert!(from.can_become(Canceled), "{from:?}");
        }
        for from in [Paid, Refunded, Canceled] {
            assert!(!from.can_become(Canceled), "{from:?}");
        }
    }

    #[test]
    fn order_tokens_are_stored_hashed_and_compared_whole() {
        let (token, hash) = new_order_token();
        assert_ne!(token, hash);
        assert!(token.len() >= 43);
        assert!(order_token_matches(&token, &hash));
        assert!(!order_token_matches(&token[..token.len() - 1], &hash));
        assert!(!order_token_matches("", &hash));
        let (other, _) = new_order_token();
        assert_ne!(token, other);
    }

    #[test]
    fn a_refund_gave_back_its_total_less_the_one_before() {
        let mut order = order_with_refunds(vec![1000, 1500, 2500]);
        assert_eq!([1000, 1500, 2500].map(|t| order.refunded_by(t)), [1000, 500, 1000]);
        order.refund_totals = vec![];
        assert_eq!(order.refunded_by(700), 700, "no history: the whole total");
    }

    fn order_with_refunds(refund_totals: Vec<i64>) -> Order {
        let now = OffsetDateTime::UNIX_EPOCH;
        Order {
            id: "o".into(),
            status: Paid,
            email: "a@b.co".into(),
            user_id: None,
            token_hash: None,
            lines: vec![],
            holds: vec![],
            amount: 2500,
            currency: "usd".into(),
            refunded_amount: refund_totals.last().copied().unwrap_or(0),
            refund_totals,
            payment_intent_id: None,
            receipt_status: ReceiptStatus::Sent,
            receipt_sent_at: None,
            created_at: now,
            updated_at: now,
            expires_at: now,
            correlation_id: "c".into(),
        }
    }

    #[test]
    fn only_the_owner_or_the_token_holder_may_read() {
        let (token, hash) = new_order_token();
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut order = Order {
            id: "o".into(),
            status: Pending,
            email: "a@b.co".into(),
            user_id: Some("alice".into()),
            token_hash: None,
            lines: vec![],
            holds: vec![],
            refunded_amount: 0,
            refund_totals: vec![],
            amount: 1,
            currency: "usd".into(),
            payment_intent_id: None,
            receipt_status: ReceiptStatus::None,
            receipt_sent_at: None,
            created_at: now,
            updated_at: now,
            expires_at: now,
            correlation_id: "c".into(),
        };
        assert!(order.readable_by(Some("alice"), None));
        assert!(!order.readable_by(Some("bob"), None));
        assert!(!order.readable_by(None, Some(&token)));
        order.user_id = None;
        order.token_hash = Some(hash);
        assert!(order.readable_by(None, Some(&token)));
        assert!(order.readable_by(Some("bob"), Some(&token)));
        assert!(!order.readable_by(Some("bob"), None));
        assert!(!order.readable_by(None, Some("guess")));
        assert!(!order.readable_by(None, None));
    }
}
