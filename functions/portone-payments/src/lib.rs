//! The `portone-payments` function: Korean shoppers pay through PortOne
//! (Iamport v1). `POST /payments/portone/complete` is the client saying
//! "I paid"; `POST /webhooks/portone` is PortOne saying something happened.
//! Neither is trusted: both only name a payment, which is read from
//! PortOne's API and applied by [`confirm`].

pub mod confirm;
pub use platform::portone;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::error::ErrorBody;
use domain::order::OrderView;
use domain::validate::required_string;
use domain::{Error, FieldErrors, Result};
use platform::telemetry::aws_calls_so_far;
use serde::{Deserialize, Serialize};
use services::tokens::TokenService;
use web::http::{ApiOptions, Json, api_layer, json_response};
use web::order_access::OrderAccess;
use web::throttle::{self, ClientAddress, Throttle};

use crate::confirm::{Confirmation, Confirmer, Outcome};

/// The header a guest presents their order token in.

#[derive(Clone)]
pub struct PortOneState {
    pub confirmer: Confirmer,
    pub tokens: Arc<TokenService>,
    pub throttle: Throttle,
    /// `PORTONE_WEBHOOK_ALLOWED_IPS`: when set, the only addresses the
    /// webhook takes calls from.
    pub webhook_sources: Option<Arc<Vec<IpAddr>>>,
}

impl FromRef<PortOneState> for Arc<TokenService> {
    fn from_ref(state: &PortOneState) -> Self {
        state.tokens.clone()
    }
}

/// `1.2.3.4, 5.6.7.8` → the addresses; a malformed one is an error naming it.
pub fn parse_allowed_sources(text: &str) -> std::result::Result<Vec<IpAddr>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<IpAddr>().map_err(|_| format!("{s:?} is not an IP address")))
        .collect()
}

web::api_routes!(client_api, client_routes: PortOneState; complete_portone_payment);
web::api_routes!(webhook_api, webhook_routes: PortOneState; receive_portone_webhook);

/// Every route and its OpenAPI operation, for the document.
pub fn api() -> utoipa_axum::router::OpenApiRouter<PortOneState> {
    client_api().merge(webhook_api())
}

/// Clients' completion calls count against their rates; PortOne's webhook
/// never does (it calls from a few fixed addresses, which the rates would
/// soon stop).
pub fn router(state: PortOneState) -> Router {
    let (throttle, tokens) = (state.throttle.clone(), state.tokens.clone());
    let clients = client_routes().with_state(state.clone());
    let webhook = webhook_routes().with_state(state);
    api_layer(throttle::apply(clients, throttle, tokens).merge(webhook), ApiOptions { no_store: true })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CompleteInput {
    #[schema(value_type = String, required = true)]
    pub order_id: Option<String>,
    /// PortOne's id of the payment (`imp_...`), from the checkout callback.
    #[schema(value_type = String, required = true, example = "imp_123456789012")]
    pub imp_uid: Option<String>,
}

/// After a PortOne checkout: the server reads the payment from PortOne and
/// pays the order only if it is this order's, `paid`, for its amount and
/// currency.
#[utoipa::path(post, path = "/api/v1/payments/portone/complete", tag = "payments", operation_id = "completePortOnePayment",
    security(("bearer" = []), ("orderToken" = [])),
    params(("X-Order-Token" = Option<String>, Header, description = "A guest order's token, from its 201.")),
    request_body = CompleteInput,
    responses(
        (status = 200, description = "Paid (now or before), or `payment_failed`: the order.", body = OrderView),
        (status = 202, description = "PortOne has the payment as `ready`: the order is still `pending`.", body = OrderView),
        (status = 400, description = "PortOne has no such payment, or it is for another order.", body = ErrorBody),
        (status = 404, description = "No such order, or not the caller's.", body = ErrorBody),
        (status = 409, description = "Amount or currency mismatch, or the order was already paid: the payment was cancelled at PortOne.", body = ErrorBody),
        (status = 503, description = "PortOne is unreachable; nothing changed. Retry after `Retry-After`.", body = ErrorBody),
    ))]
async fn complete_portone_payment(
    State(state): State<PortOneState>,
    access: OrderAccess,
    Json(input): Json<CompleteInput>,
) -> Result<Response> {
    let mut errors = FieldErrors::new();
    let order_id = required_string(&mut errors, "order_id", input.order_id, false);
    let imp_uid = required_string(&mut errors, "imp_uid", input.imp_uid, false);
    errors.into_result(())?;
    let order = access.open(&order_id, state.confirmer.orders.head(&order_id)).await?;
    platform::telemetry::record_correlation_id(&order.correlation_id);
    let confirmation = state.confirmer.confirm(&imp_uid, Some(&order)).await?;
    let status = match confirmation.outcome {
        // The client completing a payment that was partly refunded since:
        // the order as it is.
        Outcome::Paid | Outcome::AlreadyPaid | Outcome::PaymentFailed | Outcome::FailureIgnored | Outcome::Refunded => {
            StatusCode::OK
        }
        Outcome::Ready => StatusCode::ACCEPTED,
        Outcome::AmountMismatch => {
            return Err(Error::conflict(
                "The payment's amount or currency is not the order's; it was cancelled at PortOne.",
            ));
        }
        Outcome::DuplicatePayment => {
            return Err(Error::conflict("This order was already paid; the payment was cancelled at PortOne."));
        }
        Outcome::NotPayable => {
            return Err(Error::conflict("This order can no longer be paid; the payment was cancelled at PortOne."));
        }
        Outcome::Cancelled => return Err(Error::conflict("PortOne has this payment as cancelled.")),
        Outcome::Unrecognised => return Err(Error::conflict("PortOne has this payment in a status we cannot use.")),
        Outcome::OtherOrder | Outcome::UnknownOrder => {
            return Err(Error::BadRequest("This payment is for another order.".into()));
        }
    };
    let order = state.confirmer.orders.order(&order_id).await?.ok_or(Error::NotFound)?;
    Ok(json_response(status, &order.view()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct WebhookInput {
    #[schema(value_type = String, required = true)]
    pub imp_uid: Option<String>,
    /// Not trusted: PortOne's record of the payment names the order.
    pub merchant_uid: Option<String>,
    /// Not trusted: PortOne's record of the payment decides.
    pub status: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Received {
    pub received: bool,
}

/// PortOne's notification that a payment changed. It is signed by nothing,
/// so it only names the payment: what happens is decided by PortOne's API.
#[utoipa::path(post, path = "/api/v1/webhooks/portone", tag = "payments", operation_id = "receivePortOneWebhook",
    request_body = WebhookInput,
    responses(
        (status = 200, description = "Recorded (and applied) once; repeats answer the same.", body = Received),
        (status = 400, description = "PortOne has no such payment.", body = ErrorBody),
        (status = 403, description = "Not from one of `PORTONE_WEBHOOK_ALLOWED_IPS`.", body = ErrorBody),
        (status = 503, description = "PortOne is unreachable; PortOne retries.", body = ErrorBody),
    ))]
async fn receive_portone_webhook(
    State(state): State<PortOneState>,
    ClientAddress(source): ClientAddress,
    Json(input): Json<WebhookInput>,
) -> Result<Response> {
    let started = Instant::now();
    if let Some(allowed) = &state.webhook_sources {
        let known = source.parse::<IpAddr>().is_ok_and(|ip| allowed.contains(&ip));
        if !known {
            tracing::warn!(source = %source, "portone webhook from an address not allowed");
            return Err(Error::PermissionDenied);
        }
    }
    let mut errors = FieldErrors::new();
    let imp_uid = required_string(&mut errors, "imp_uid", input.imp_uid, false);
    errors.into_result(())?;
    let confirmed = state.confirmer.confirm(&imp_uid, None).await;
    log_event_completed(&imp_uid, input.status.as_deref(), &confirmed, started);
    confirmed?;
    Ok(json_response(StatusCode::OK, &Received { received: true }))
}

/// The one `event completed` line of a webhook delivery.
fn log_event_completed(imp_uid: &str, reported: Option<&str>, confirmed: &Result<Confirmation>, started: Instant) {
    let duration_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    let calls = aws_calls_so_far();
    match confirmed {
        Ok(c) => tracing::info!(
            status = c.outcome.as_str(),
            imp_uid,
            reported_status = reported.unwrap_or_default(),
            portone_status = %c.payment.status,
            order_id = %c.payment.merchant_uid,
            receipt_queued = c.receipt_queued,
            duration_ms,
            aws_calls = %calls.operation_json(),
            "event completed"
        ),
        Err(error) => tracing::warn!(
            status = "failed",
            imp_uid,
            error = %error,
            duration_ms,
            aws_calls = %calls.operation_json(),
            "event completed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_sources_parse() {
        assert_eq!(
            parse_allowed_sources("52.78.100.19, 52.78.48.223,").unwrap(),
            vec!["52.78.100.19".parse::<IpAddr>().unwrap(), "52.78.48.223".parse().unwrap()]
        );
        assert!(parse_allowed_sources("52.78.100.19, nope").is_err());
    }
}
