//! PortOne's routes in process, with PortOne, the table and the queue all
//! unreachable: what is refused before any of them is asked.

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use portone_payments::confirm::Confirmer;
use portone_payments::portone::PortOneClient;
use portone_payments::{PortOneState, router};
use serde_json::json;
use web::testing::{call, call_with, throttle, tokens, unreachable_mail_queue, unreachable_table};

fn app(webhook_sources: Option<Vec<std::net::IpAddr>>) -> Router {
    app_with_rates(webhook_sources, "off")
}

fn app_with_rates(webhook_sources: Option<Vec<std::net::IpAddr>>, rates: &str) -> Router {
    let portone = PortOneClient::new("http://127.0.0.1:9", "key".into(), "secret".into()).unwrap();
    let receipts = unreachable_mail_queue();
    router(PortOneState {
        confirmer: Confirmer::new(unreachable_table(), portone, receipts),
        tokens: tokens(),
        throttle: throttle(rates),
        webhook_sources: webhook_sources.map(Arc::new),
    })
}

#[tokio::test]
async fn completing_needs_both_ids_and_someone_who_may_pay() {
    let app = app(None);
    let path = "/api/v1/payments/portone/complete";
    let missing = call(&app, Method::POST, path, None, Some(json!({}))).await;
    assert_eq!((missing.status, &missing.body["code"]), (StatusCode::BAD_REQUEST, &json!("validation_error")));
    let body = json!({"imp_uid": "imp_1", "order_id": "01JD4Z6Q3V8M2N5P7R9S1T3W5X"});
    let anonymous = call(&app, Method::POST, path, None, Some(body.clone())).await;
    assert_eq!(anonymous.status, StatusCode::NOT_FOUND);
    let blank = call_with(&app, Method::POST, path, &[("x-order-token", " ")], None, Some(body)).await;
    assert_eq!(blank.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_webhook_takes_calls_only_from_the_allowed_addresses_and_needs_a_payment() {
    let allowed = app(Some(vec!["52.78.100.19".parse().unwrap()]));
    let body = json!({"imp_uid": "imp_1", "merchant_uid": "01JD4Z6Q3V8M2N5P7R9S1T3W5X", "status": "paid"});
    let answer = call(&allowed, Method::POST, "/api/v1/webhooks/portone", None, Some(body)).await;
    assert_eq!((answer.status, &answer.body["code"]), (StatusCode::FORBIDDEN, &json!("permission_denied")));
    let open = app(None);
    let missing = call(&open, Method::POST, "/api/v1/webhooks/portone", None, Some(json!({"status": "paid"}))).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_webhook_is_never_throttled_and_completion_calls_are() {
    let app = app_with_rates(None, "anon=2/min");
    let body = json!({"status": "paid"});
    for _ in 0..5 {
        let answer = call(&app, Method::POST, "/api/v1/webhooks/portone", None, Some(body.clone())).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "the webhook's own answer, never a 429");
    }
    let complete = json!({"imp_uid": "imp_1", "order_id": "01JD4Z6Q3V8M2N5P7R9S1T3W5X"});
    let statuses: Vec<StatusCode> = completion_statuses(&app, &complete).await;
    assert_eq!(statuses, [StatusCode::NOT_FOUND, StatusCode::NOT_FOUND, StatusCode::TOO_MANY_REQUESTS]);
}

async fn completion_statuses(app: &Router, body: &serde_json::Value) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses
            .push(call(app, Method::POST, "/api/v1/payments/portone/complete", None, Some(body.clone())).await.status);
    }
    statuses
}
