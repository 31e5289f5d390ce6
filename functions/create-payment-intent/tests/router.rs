//! The payment-intent route in process, on an unreachable table and an
//! unreachable Stripe: what is refused before either is asked.

use axum::Router;
use axum::http::{Method, StatusCode};
use create_payment_intent::stripe::StripeClient;
use create_payment_intent::{IntentState, router};
use serde_json::json;
use web::testing::{access_token, call, call_with, throttle, token_service, tokens, unreachable_table};

fn app() -> Router {
    let stripe = StripeClient::new("http://127.0.0.1:9", "sk_test_offline".into()).unwrap();
    router(IntentState::new(unreachable_table(), stripe, token_service(), throttle("off")))
}

#[tokio::test]
async fn an_intent_needs_an_order_id_and_someone_who_may_pay() {
    let app = app();
    let missing = call(&app, Method::POST, "/api/v1/payments/intent", None, Some(json!({}))).await;
    assert_eq!((missing.status, &missing.body["code"]), (StatusCode::BAD_REQUEST, &json!("validation_error")));
    assert!(missing.body["errors"]["order_id"].is_array());
    let order = json!({"order_id": "01JD4Z6Q3V8M2N5P7R9S1T3W5X"});
    let anonymous = call(&app, Method::POST, "/api/v1/payments/intent", None, Some(order.clone())).await;
    assert_eq!(anonymous.status, StatusCode::NOT_FOUND, "no caller, no token: no such order for them");
    let blank =
        call_with(&app, Method::POST, "/api/v1/payments/intent", &[("x-order-token", "")], None, Some(order)).await;
    assert_eq!(blank.status, StatusCode::NOT_FOUND);
    let ann = access_token(&tokens(), "ann");
    let not_an_id = json!({"order_id": "../orders"});
    let answer = call(&app, Method::POST, "/api/v1/payments/intent", Some(&ann), Some(not_an_id)).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.headers.get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"));
}
