//! Unpaid orders expire: on a gateway of this test's own whose functions
//! hold an order for 3 seconds and whose schedules run every second, the
//! sweep (the template's `Schedule` event, run as EventBridge runs it)
//! cancels expired orders, their PaymentIntents first, and returns their
//! stock; an order whose payment went through first is left to be paid.
//! The shared stack keeps its 30-minute hold, out of this test's reach.

use std::path::PathBuf;
use std::time::Duration;

use e2e_tests::commerce::*;
use e2e_tests::{Api, local_settings};
use local_gateway::{Gateway, GatewayConfig};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn bin_dir() -> PathBuf {
    std::env::var("GATEWAY_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debug")))
}

#[tokio::test]
async fn expired_orders_are_canceled_with_their_intents_and_give_their_stock_back() {
    let mut config = GatewayConfig::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml"), bin_dir());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.extra_env = local_settings();
    config.extra_env.push(("ORDER_HOLD_MINUTES".into(), "0.05".into()));
    config.schedule_every = Some(Duration::from_secs(1));
    let mut gateway = Gateway::bind(config).await.unwrap();
    let base = format!("http://{}", gateway.local_addr());
    let (stop_schedules, schedules_stopped) = tokio::sync::watch::channel(false);
    gateway.spawn_schedules(schedules_stopped);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(gateway.run(async move {
        let _ = stopped.await;
    }));
    let api = Api { base, http: reqwest::Client::new() };

    let product = limited_product(650, Some(3)).await;
    let body = json!({"email": unique_email(), "items": [{"product_id": product["id"], "quantity": 2}]});
    let reply = call(&api, Method::POST, "/api/v1/orders", None, None, Some(&body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let expires_at = time::OffsetDateTime::parse(
        reply.body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let created_at = time::OffsetDateTime::parse(
        reply.body["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!((expires_at - created_at).whole_seconds(), 3, "ORDER_HOLD_MINUTES=0.05");
    let expiring = GuestOrder::placed(&reply);
    let intent = payment_intent(&api, &expiring).await;
    assert_eq!(stock_of(&product).await, 1);

    // Another order of the same product, paid at Stripe before its hold ends.
    let paying = guest_order_of(&api, &[(&product["id"], 1)]).await;
    let paying_intent = payment_intent(&api, &paying).await;
    let (status, paid) = LocalStripe::new().pay_with_card(&paying_intent, "4242424242424242").await;
    assert_eq!((status, &paid["status"]), (StatusCode::OK, &json!("succeeded")), "{paid}");

    let canceled = wait_for_order(&api, &expiring, Duration::from_secs(30), |o| o["status"] == "canceled").await;
    assert_eq!(canceled["status"], "canceled");
    let (_, stripe_side) = LocalStripe::new().get(&format!("/v1/payment_intents/{intent}")).await;
    assert_eq!(stripe_side["status"], "canceled", "its PaymentIntent can no longer be paid");
    // Its two units are back; the paying order keeps its one.
    eventually(Duration::from_secs(10), "the stock returned", || async {
        (stock_of(&product).await == 2).then_some(())
    })
    .await;
    // The paying order is left to its payment: localstripe's webhook (to
    // the shared stack) pays it; the sweep never cancels it.
    let settled = wait_for_order(&api, &paying, Duration::from_secs(30), |o| o["status"] == "paid").await;
    assert_eq!(settled["status"], "paid");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(get_order(&api, &paying).await["status"], "paid");
    assert_eq!(stock_of(&product).await, 2, "returned once, however many sweeps ran");

    let _ = stop_schedules.send(true);
    stop.send(()).ok();
    serving.await.unwrap().unwrap();
}
