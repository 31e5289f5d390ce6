//! The `create-payment-intent` function: `POST /payments/intent` makes (or
//! finds) the one Stripe PaymentIntent of an order, for the order's amount
//! and currency, never the client's.
//!
//! Repeated and concurrent calls end with one intent recorded on the order:
//! Stripe's idempotency key (derived from the order) makes retried creates
//! return the same intent, and the order takes an intent only by a
//! conditional write. An instance that loses that race cancels the intent
//! it made (if it differs) and answers with the winner's.

pub use platform::stripe;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::error::ErrorBody;
use domain::order::OrderHead;
use domain::validate::required_string;
use domain::{Error, FieldErrors, Result};
use serde::{Deserialize, Serialize};
use services::Table;
use services::orders::{IntentRecord, OrderService};
use services::tokens::TokenService;
use stripe::{PaymentIntent, StripeClient};
use web::http::{ApiOptions, Json, api_layer, json_response};
use web::order_access::OrderAccess;
use web::throttle::{self, Throttle};

#[derive(Clone)]
pub struct IntentState {
    pub orders: OrderService,
    pub stripe: StripeClient,
    pub tokens: Arc<TokenService>,
    pub throttle: Throttle,
}

impl IntentState {
    pub fn new(table: Table, stripe: StripeClient, tokens: TokenService, throttle: Throttle) -> Self {
        Self { orders: OrderService::new(table), stripe, tokens: Arc::new(tokens), throttle }
    }
}

impl FromRef<IntentState> for Arc<TokenService> {
    fn from_ref(state: &IntentState) -> Self {
        state.tokens.clone()
    }
}

web::api_routes!(IntentState; create_payment_intent);

pub fn router(state: IntentState) -> Router {
    let (throttle, tokens) = (state.throttle.clone(), state.tokens.clone());
    let routes = routes().with_state(state);
    // The answer carries the intent's client secret: no cache may keep it.
    api_layer(throttle::apply(routes, throttle, tokens), ApiOptions { no_store: true })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct IntentInput {
    #[schema(value_type = String, required = true)]
    pub order_id: Option<String>,
}

/// What the client needs to confirm the payment with Stripe.js.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IntentView {
    #[schema(example = "pi_3Nq1a2B3c4D5e6F7")]
    pub payment_intent_id: String,
    /// For Stripe.js only; never log or store it.
    pub client_secret: String,
    #[schema(example = 2598)]
    pub amount: i64,
    #[schema(example = "usd")]
    pub currency: String,
}

/// One idempotency key per order: however often and wherever the create is
/// retried, Stripe makes one intent for it.
pub fn idempotency_key(order_id: &str) -> String {
    format!("order-{order_id}-payment-intent")
}

/// The order's Stripe PaymentIntent, made on the first call.
#[utoipa::path(post, path = "/api/v1/payments/intent", tag = "payments", operation_id = "createPaymentIntent",
    security(("bearer" = []), ("orderToken" = [])),
    params(("X-Order-Token" = Option<String>, Header, description = "A guest order's token, from its 201.")),
    request_body = IntentInput,
    responses(
        (status = 200, description = "The order's PaymentIntent (the same one on every call).", body = IntentView),
        (status = 404, description = "No such order, or not the caller's.", body = ErrorBody),
        (status = 409, description = "The order is not `pending` or `payment_failed`.", body = ErrorBody),
    ))]
async fn create_payment_intent(
    State(state): State<IntentState>,
    access: OrderAccess,
    Json(input): Json<IntentInput>,
) -> Result<Response> {
    let mut errors = FieldErrors::new();
    let order_id = required_string(&mut errors, "order_id", input.order_id, false);
    errors.into_result(())?;
    let order = access.open(&order_id, state.orders.head(&order_id)).await?;
    platform::telemetry::record_correlation_id(&order.correlation_id);
    order.ensure_payable()?;
    let intent = match &order.payment_intent_id {
        Some(recorded) => state.stripe.retrieve_payment_intent(recorded).await?,
        None => create_and_record(&state, &order).await?,
    };
    if !order.asks_for(intent.amount, &intent.currency) {
        return Err(Error::internal(format!(
            "payment intent {} is for {} {}, order {} is for {} {}",
            intent.id, intent.amount, intent.currency, order.id, order.amount, order.currency
        )));
    }
    tracing::info!(order_id = %order.id, payment_intent_id = %intent.id, "payment intent ready");
    let view = IntentView {
        payment_intent_id: intent.id,
        client_secret: intent.client_secret,
        amount: intent.amount,
        currency: intent.currency,
    };
    Ok(json_response(StatusCode::OK, &view))
}

/// Creates the intent at Stripe, then records it on the order if no other
/// call got there first; the loser's intent is canceled.
async fn create_and_record(state: &IntentState, order: &OrderHead) -> Result<PaymentIntent> {
    let created = state
        .stripe
        .create_payment_intent(
            order.amount,
            &order.currency,
            &order.id,
            &order.correlation_id,
            &order.email,
            &idempotency_key(&order.id),
        )
        .await?;
    let current = match state.orders.record_payment_intent(&order.id, &created.id).await? {
        IntentRecord::Recorded => {
            tracing::info!(order_id = %order.id, payment_intent_id = %created.id, "payment intent recorded");
            return Ok(created);
        }
        IntentRecord::Kept(current) => current,
    };
    match current.payment_intent_id {
        // Stripe's idempotency gave both calls the same intent.
        Some(winner) if winner == created.id => Ok(created),
        Some(winner) => {
            cancel_orphan(state, &order.id, &created.id).await;
            Ok(state.stripe.retrieve_payment_intent(&winner).await?)
        }
        None => {
            cancel_orphan(state, &order.id, &created.id).await;
            current.ensure_payable()?;
            Err(Error::internal(format!("order {} took no payment intent and awaits payment", order.id)))
        }
    }
}

/// Best effort: an orphan intent nobody was told about can only be paid by
/// someone holding its client secret, which never left this instance.
async fn cancel_orphan(state: &IntentState, order_id: &str, payment_intent_id: &str) {
    match state.stripe.cancel_payment_intent(payment_intent_id).await {
        Ok(_) => tracing::info!(order_id, payment_intent_id, "payment intent lost the race; canceled"),
        Err(e) => tracing::warn!(order_id, payment_intent_id, error = %e, "could not cancel an orphan payment intent"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_router_and_its_document_have_the_same_route() {
        let document = super::api().into_openapi();
        let paths: Vec<&str> = document.paths.paths.keys().map(String::as_str).collect();
        assert_eq!(paths, ["/api/v1/payments/intent"]);
    }

    #[test]
    fn one_idempotency_key_per_order() {
        assert_eq!(super::idempotency_key("01JF"), super::idempotency_key("01JF"));
        assert_ne!(super::idempotency_key("01JF"), super::idempotency_key("01JG"));
    }
}
