//! An order's life past payment's happy path: stock held atomically from
//! the moment an order exists, canceling (by its owner or token holder, and
//! by Stripe's `payment_intent.canceled`), stock returned exactly once, and
//! Stripe events of the other mode than our key's.

use std::time::Duration;

use e2e_tests::Api;
use e2e_tests::commerce::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn order_of(api: &Api, product: &Value, quantity: i64) -> Reply {
    let body = json!({"email": unique_email(), "items": [{"product_id": product["id"], "quantity": quantity}]});
    call(api, Method::POST, "/api/v1/orders", None, None, Some(&body)).await
}

async fn cancel(api: &Api, order: &GuestOrder) -> Reply {
    call(api, Method::POST, &format!("/api/v1/orders/{}/cancel", order.id), None, Some(&order.token), None).await
}

#[tokio::test]
async fn twenty_concurrent_orders_for_the_last_five_make_five_orders_and_fifteen_409s() {
    let api = Api::new();
    let product = limited_product(900, Some(5)).await;
    let attempts = (0..20)
        .map(|_| {
            let (api, product) = (Api::new(), product.clone());
            async move { order_of(&api, &product, 1).await }
        })
        .collect();
    let replies = all_at_once(attempts).await;
    let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == StatusCode::CONFLICT).collect();
    assert_eq!((created, refused.len()), (5, 15), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    for reply in refused {
        assert_eq!(reply.body["code"], "conflict", "{}", reply.body);
        let why = &reply.body["errors"]["items.0.quantity"];
        assert!(why.as_array().is_some_and(|w| w[0].as_str().unwrap().starts_with("Only ")), "{}", reply.body);
    }
    assert_eq!(stock_of(&product).await, 0, "never below 0");
    let listed = call(&api, Method::GET, "/api/v1/products?page_size=100", None, None, None).await;
    let products = listed.body["results"].as_array().unwrap();
    assert!(products.iter().all(|p| p.get("stock").is_some()), "every product shows its stock (or null)");
}

#[tokio::test]
async fn an_order_asking_more_than_is_left_holds_nothing_and_names_the_item() {
    let api = Api::new();
    let plenty = limited_product(500, None).await;
    let few = limited_product(700, Some(2)).await;
    let body = json!({"email": unique_email(), "items": [
        {"product_id": plenty["id"], "quantity": 3},
        {"product_id": few["id"], "quantity": 3},
    ]});
    let reply = call(&api, Method::POST, "/api/v1/orders", None, None, Some(&body)).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert_eq!(reply.body["errors"]["items.1.quantity"], json!(["Only 2 left."]));
    assert!(reply.body["errors"].get("items.0.quantity").is_none());
    assert_eq!(stock_of(&few).await, 2, "nothing held");
    let ok = order_of(&api, &few, 2).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(stock_of(&few).await, 0);
}

#[tokio::test]
async fn canceling_returns_the_stock_once_however_often_and_concurrently_asked() {
    let api = Api::new();
    let product = limited_product(1200, Some(3)).await;
    let order = GuestOrder::placed(&order_of(&api, &product, 2).await);
    assert_eq!(stock_of(&product).await, 1);
    let intent = payment_intent(&api, &order).await;
    let cancels = (0..4)
        .map(|_| {
            let (api, order) = (Api::new(), order.clone());
            async move { cancel(&api, &order).await }
        })
        .collect();
    for reply in all_at_once(cancels).await {
        assert_eq!((reply.status, &reply.body["status"]), (StatusCode::OK, &json!("canceled")), "{}", reply.body);
    }
    let again = cancel(&api, &order).await;
    assert_eq!((again.status, &again.body["status"]), (StatusCode::OK, &json!("canceled")));
    assert_eq!(stock_of(&product).await, 3, "returned exactly once");
    let (_, stripe_side) = LocalStripe::new().get(&format!("/v1/payment_intents/{intent}")).await;
    assert_eq!(stripe_side["status"], "canceled", "its PaymentIntent can no longer be paid");
    let pay = call(
        &api,
        Method::POST,
        "/api/v1/payments/intent",
        None,
        Some(&order.token),
        Some(&json!({"order_id": order.id})),
    )
    .await;
    assert_eq!(pay.status, StatusCode::CONFLICT, "a canceled order cannot be paid");
}

#[tokio::test]
async fn only_its_owner_or_token_holder_cancels_and_a_paid_order_stays_paid() {
    let api = Api::new();
    let order = guest_order(&api, 1).await;
    let path = format!("/api/v1/orders/{}/cancel", order.id);
    let anonymous = call(&api, Method::POST, &path, None, None, None).await;
    assert_eq!(anonymous.status, StatusCode::NOT_FOUND);
    let stranger = member(&api).await;
    let other = call(&api, Method::POST, &path, Some(&stranger.access), None, None).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let intent = payment_intent(&api, &order).await;
    let amount = order.body["amount"].as_i64().unwrap();
    let paid = payment_intent_event("payment_intent.succeeded", &event_id(), &intent, &order.id, amount, "usd");
    assert_eq!(deliver(&api, &paid).await.status, StatusCode::OK);
    let refused = cancel(&api, &order).await;
    assert_eq!((refused.status, &refused.body["code"]), (StatusCode::CONFLICT, &json!("conflict")), "{}", refused.body);
    assert_eq!(get_order(&api, &order).await["status"], "paid");
}

#[tokio::test]
async fn a_canceled_payment_intent_cancels_its_order_and_returns_the_stock_once() {
    let api = Api::new();
    let product = limited_product(800, Some(4)).await;
    let order = GuestOrder::placed(&order_of(&api, &product, 3).await);
    let intent = payment_intent(&api, &order).await;
    let event = payment_intent_event("payment_intent.canceled", &event_id(), &intent, &order.id, 2400, "usd");
    for _ in 0..3 {
        assert_eq!(deliver(&api, &event).await.status, StatusCode::OK);
    }
    assert_eq!(get_order(&api, &order).await["status"], "canceled");
    assert_eq!(stock_of(&product).await, 4);
    let line = events_completed("stripe_webhook", &order.id).into_iter().next().unwrap();
    assert_eq!(line["status"], "canceled", "{line}");
}

#[tokio::test]
async fn an_event_of_the_other_mode_than_our_key_is_recorded_and_changes_nothing() {
    let api = Api::new();
    let order = guest_order(&api, 1).await;
    let intent = payment_intent(&api, &order).await;
    let amount = order.body["amount"].as_i64().unwrap();
    let mut live = payment_intent_event("payment_intent.succeeded", &event_id(), &intent, &order.id, amount, "usd");
    live["livemode"] = json!(true);
    assert_eq!(deliver(&api, &live).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(get_order(&api, &order).await["status"], "pending");
    let line = events_completed("stripe_webhook", &order.id).pop().unwrap();
    assert_eq!(line["status"], "livemode_mismatch", "{line}");
}

/// A second successful payment for a paid order is refunded at Stripe,
/// once, and the order stays paid by the first.
#[tokio::test]
async fn a_second_payment_for_a_paid_order_is_given_back_at_stripe() {
    let api = Api::new();
    let order = guest_order(&api, 1).await;
    let amount = order.body["amount"].as_i64().unwrap().to_string();
    let first = payment_intent(&api, &order).await;
    let stripe = LocalStripe::new();
    let (status, paid) = stripe.pay_with_card(&first, "4242424242424242").await;
    assert_eq!((status, &paid["status"]), (StatusCode::OK, &json!("succeeded")), "{paid}");
    wait_for_order(&api, &order, Duration::from_secs(30), |o| o["status"] == "paid").await;

    // Another intent for the same order, made outside our API, and paid.
    let (status, second) = stripe
        .post(
            "/v1/payment_intents",
            &[("amount", amount.as_str()), ("currency", "usd"), ("metadata[order_id]", order.id.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second = second["id"].as_str().unwrap().to_owned();
    let (status, paid) = stripe.pay_with_card(&second, "4242424242424242").await;
    assert_eq!((status, &paid["status"]), (StatusCode::OK, &json!("succeeded")), "{paid}");

    let refunds = eventually(Duration::from_secs(30), "the second payment given back", || async {
        let (_, refunds) = stripe.get(&format!("/v1/refunds?payment_intent={second}")).await;
        let list = refunds["data"].as_array().cloned().unwrap_or_default();
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["amount"].as_i64().unwrap().to_string(), amount);
    let (_, first_refunds) = stripe.get(&format!("/v1/refunds?payment_intent={first}")).await;
    assert_eq!(first_refunds["data"], json!([]), "the paying payment is kept");
    let now = get_order(&api, &order).await;
    assert_eq!((&now["status"], &now["refunded_amount"]), (&json!("paid"), &json!(0)));
}

/// `make demo` (and `PROVIDER=portone`) runs its whole walk against the
/// stack: a purchase, its receipt, a staff refund of half of it and the
/// buyer's refund notice.
#[tokio::test]
async fn the_demo_buys_and_refunds_half_with_each_provider() {
    for args in [&[][..], &["--portone"][..]] {
        let said = run_tool("commerce-demo", args).await;
        assert!(said.contains("7. A staff member refunds"), "{said}");
        assert!(said.contains("8. The refund notice") && said.contains("subject: \"Your refund for order"), "{said}");
        assert!(said.contains("half of it refunded and the buyer told"), "{said}");
    }
}
