//! The `stripe-webhook` function: `POST /webhooks/stripe`. A delivery is
//! verified against the endpoint secret (400 on any failure), recorded once
//! under its event id, applied to its order (see [`process`] for the steps
//! and why a redelivery always finishes the job), and answered 200
//! `{"received": true}` only once all of that is durable; any failure
//! before is a 5xx, so Stripe delivers again.

pub mod event;
pub mod process;
pub mod signature;

use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::{Error, Result, timefmt};
use platform::telemetry::{AwsCalls, aws_calls_so_far};
use services::settlement::ledger::Delivery;
use sha2::{Digest, Sha256};
use web::http::{ApiOptions, RequestId, WEBHOOK_BODY_LIMIT, api_layer, json_response, read_body};

use event::EventSummary;
use process::{Handled, Processor};

/// This crate's failures, before they become the contract's errors.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("signature not valid: {0}")]
    Signature(&'static str),
    #[error("not a Stripe event: {0}")]
    Payload(String),
}

impl From<WebhookError> for Error {
    fn from(error: WebhookError) -> Self {
        match error {
            // The reason goes to the log, not to whoever is probing.
            WebhookError::Signature(_) => Error::BadRequest("Invalid Stripe signature.".into()),
            WebhookError::Payload(_) => Error::BadRequest("Not a Stripe event.".into()),
        }
    }
}

#[derive(Clone)]
pub struct WebhookState {
    pub processor: Processor,
    pub endpoint_secret: std::sync::Arc<str>,
}

impl std::fmt::Debug for WebhookState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookState").field("endpoint_secret", &"<redacted>").finish_non_exhaustive()
    }
}

web::api_routes!(WebhookState; receive_stripe_event);

/// Webhooks are never throttled: Stripe's retries are the back-pressure.
pub fn router(state: WebhookState) -> Router {
    let routes = routes().with_state(state);
    api_layer(routes, ApiOptions::default())
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Received {
    pub received: bool,
}

/// Stripe's events about our PaymentIntents and charges.
#[utoipa::path(post, path = "/api/v1/webhooks/stripe", tag = "payments", operation_id = "receiveStripeEvent",
    security(("stripeSignature" = [])),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix time>,v1=<HMAC-SHA256 hex>`.")),
    request_body(content = serde_json::Value, description = "A Stripe event, at most 1 MiB."),
    responses(
        (status = 200, description = "Recorded (and applied) once; redeliveries answer the same.", body = Received),
        (status = 400, description = "The signature (or the event) is not valid.", body = domain::error::ErrorBody),
    ))]
async fn receive_stripe_event(
    State(state): State<WebhookState>,
    RequestId(request_id): RequestId,
    request: Request,
) -> Result<Response> {
    let started = Instant::now();
    let header = request.headers().get("stripe-signature").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = read_body(request, WEBHOOK_BODY_LIMIT).await?;
    let now = timefmt::now().unix_timestamp();
    let signed_at = signature::verify_stripe_signature(
        &body,
        header.as_deref(),
        &state.endpoint_secret,
        now,
        signature::TOLERANCE_SECS,
    )
    .inspect_err(|e| tracing::warn!(reason = %e, "webhook refused"))?;
    let event = EventSummary::from_body(&body).inspect_err(|e| tracing::warn!(reason = %e, "webhook refused"))?;
    let delivery = Delivery {
        request_id,
        source: "webhook",
        signed_at: Some(signed_at),
        body_sha256: Some(hex::encode(Sha256::digest(&body))),
        body_bytes: Some(body.len()),
    };
    if let Some(correlation_id) = &event.object.correlation_id {
        platform::telemetry::record_correlation_id(correlation_id);
    }
    let handled = state.processor.handle(&event, &delivery).await;
    log_event_completed(&event, &handled, started, &aws_calls_so_far());
    handled?;
    Ok(json_response(StatusCode::OK, &Received { received: true }))
}

/// The one `event completed` line of an event (each delivery, or replay).
pub fn log_event_completed(event: &EventSummary, handled: &Result<Handled>, started: Instant, calls: &AwsCalls) {
    let duration_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    let order_id = handled.as_ref().ok().and_then(|h| h.order_id.clone()).or_else(|| event.object.order_id.clone());
    let order_id = order_id.unwrap_or_default();
    match handled {
        Ok(handled) => tracing::info!(
            status = handled.outcome.as_str(),
            event_id = %event.id,
            event_type = %event.event_type,
            order_id = %order_id,
            receipt_queued = handled.receipt_queued,
            given_back = handled.given_back,
            duration_ms,
            aws_calls = %calls.operation_json(),
            "event completed"
        ),
        Err(error) => tracing::error!(
            status = "failed",
            event_id = %event.id,
            event_type = %event.event_type,
            order_id = %order_id,
            error = %error,
            duration_ms,
            aws_calls = %calls.operation_json(),
            "event completed"
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_router_and_its_document_have_the_same_route() {
        let document = super::api().into_openapi();
        let paths: Vec<&str> = document.paths.paths.keys().map(String::as_str).collect();
        assert_eq!(paths, ["/api/v1/webhooks/stripe"]);
    }

    #[test]
    fn refusals_say_nothing_about_why() {
        for error in [
            super::WebhookError::Signature("timestamp outside the tolerance"),
            super::WebhookError::Payload("x".into()),
        ] {
            let error = domain::Error::from(error);
            assert_eq!(error.status().as_u16(), 400);
            assert!(!error.body().message.contains("tolerance"));
        }
    }
}
