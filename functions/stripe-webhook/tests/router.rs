//! Stripe's webhook route in process: an event that is not Stripe's, signed
//! with our secret, within the tolerance, is refused before anything is
//! recorded (the table and queue here are unreachable).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{Method, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use stripe_webhook::process::Processor;
use stripe_webhook::{WebhookState, router};
use web::testing::{call_with, unreachable_mail_queue, unreachable_table};

const SECRET: &str = "whsec_in_process";

fn app() -> Router {
    let receipts = unreachable_mail_queue();
    router(WebhookState {
        processor: Processor::new(unreachable_table(), receipts, false),
        endpoint_secret: SECRET.into(),
    })
}

fn signature(secret: &str, at: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{at}.{body}").as_bytes());
    format!("t={at},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn deliver(app: &Router, body: &Value, signature: Option<String>) -> (StatusCode, Value) {
    let headers: Vec<(&str, &str)> = signature.as_deref().map(|s| ("stripe-signature", s)).into_iter().collect();
    let answer = call_with(app, Method::POST, "/api/v1/webhooks/stripe", &headers, None, Some(body.clone())).await;
    (answer.status, answer.body)
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn unsigned_forged_and_stale_events_are_400s() {
    let app = app();
    let body = json!({"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {}}});
    let text = body.to_string();
    let (status, answer) = deliver(&app, &body, None).await;
    assert_eq!((status, &answer["code"]), (StatusCode::BAD_REQUEST, &json!("bad_request")));
    let (status, _) = deliver(&app, &body, Some(signature("whsec_someone_else", now(), &text))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = deliver(&app, &body, Some(signature(SECRET, now() - 3600, &text))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "older than the tolerance");
    let tampered = json!({"id": "evt_2", "type": "payment_intent.succeeded", "data": {"object": {}}});
    let (status, _) = deliver(&app, &tampered, Some(signature(SECRET, now(), &text))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_signed_body_that_is_no_event_is_a_400() {
    let app = app();
    let body = json!([1, 2, 3]);
    let (status, answer) = deliver(&app, &body, Some(signature(SECRET, now(), &body.to_string()))).await;
    assert_eq!((status, &answer["code"]), (StatusCode::BAD_REQUEST, &json!("bad_request")));
}
