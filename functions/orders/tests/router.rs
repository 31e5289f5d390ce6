//! The orders routes in process, on an unreachable table: what is refused
//! before the store is asked.

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use orders::{OrdersState, router};
use platform::stripe::StripeClient;
use serde_json::json;
use services::cursors::CursorCodec;
use web::testing::{access_token, call, call_with, throttle, token_service, tokens, unreachable_table};

fn app() -> Router {
    let stripe = StripeClient::new("http://127.0.0.1:9", "sk_test_offline".into()).unwrap();
    let cursors = CursorCodec::derive_from(b"c");
    router(OrdersState::new(unreachable_table(), Arc::new(stripe), token_service(), cursors, throttle("off")))
}

#[tokio::test]
async fn an_order_nobody_may_read_is_a_404_without_a_read() {
    let app = app();
    let path = "/api/v1/orders/01JD4Z6Q3V8M2N5P7R9S1T3W5X";
    let anonymous = call(&app, Method::GET, path, None, None).await;
    assert_eq!((anonymous.status, &anonymous.body["code"]), (StatusCode::NOT_FOUND, &json!("not_found")));
    let blank_token = call_with(&app, Method::GET, path, &[("x-order-token", "  ")], None, None).await;
    assert_eq!(blank_token.status, StatusCode::NOT_FOUND);
    let ann = access_token(&tokens(), "ann");
    let not_an_id = call(&app, Method::GET, "/api/v1/orders/ORDER%23x", Some(&ann), None).await;
    assert_eq!(not_an_id.status, StatusCode::NOT_FOUND);
    let cancel = call(&app, Method::POST, &format!("{path}/cancel"), None, None).await;
    assert_eq!(cancel.status, StatusCode::NOT_FOUND, "nobody's to cancel");
}

#[tokio::test]
async fn an_order_that_cannot_be_priced_is_a_400_naming_the_field() {
    let app = app();
    let cases = [
        (json!({"items": []}), "items"),
        (
            json!({"email": "a@example.com", "items": [{"product_id": "01JGFJJZ00BVPG000000000000", "quantity": 0}]}),
            "items.0.quantity",
        ),
        (json!({"items": [{"product_id": "01JGFJJZ00BVPG000000000000", "quantity": 1}]}), "email"),
    ];
    for (body, field) in cases {
        let answer = call(&app, Method::POST, "/api/v1/orders", None, Some(body)).await;
        assert_eq!((answer.status, &answer.body["code"]), (StatusCode::BAD_REQUEST, &json!("validation_error")));
        assert!(answer.body["errors"][field].is_array(), "{field}: {:?}", answer.body);
    }
}

#[tokio::test]
async fn listing_orders_needs_a_signed_in_caller() {
    let app = app();
    let answer = call(&app, Method::GET, "/api/v1/orders", None, None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let ann = access_token(&tokens(), "ann");
    let bad_size = call(&app, Method::GET, "/api/v1/orders?page_size=0", Some(&ann), None).await;
    assert_eq!(bad_size.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.headers.get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"));
}

#[tokio::test]
async fn only_staff_keep_the_catalog_and_see_every_order() {
    let app = app();
    let ann = access_token(&tokens(), "ann");
    let product = json!({"name": "Poster", "unit_amount": 1500, "currency": "usd"});
    let anonymous = call(&app, Method::POST, "/api/v1/products", None, Some(product.clone())).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let customer = call(&app, Method::POST, "/api/v1/products", Some(&ann), Some(product)).await;
    assert_eq!((customer.status, &customer.body["code"]), (StatusCode::FORBIDDEN, &json!("permission_denied")));
    let patch = call(&app, Method::PATCH, "/api/v1/products/01P", Some(&ann), Some(json!({"active": false}))).await;
    assert_eq!(patch.status, StatusCode::FORBIDDEN);
    let filtered = call(&app, Method::GET, "/api/v1/orders?status=paid", Some(&ann), None).await;
    assert_eq!(filtered.status, StatusCode::FORBIDDEN, "filters are staff's");
}
