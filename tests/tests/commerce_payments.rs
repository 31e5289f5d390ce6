//! Payments end to end, through the gateway, with localstripe as Stripe and
//! moto as AWS: the one PaymentIntent per order, a purchase paid with the
//! 4242 card and localstripe's own signed webhook, the webhook's
//! idempotency (five deliveries in a row and five at once), every way a
//! delivery can be forged, amount mismatches, a failure then a success, a
//! refund, a replay, and Stripe being down.
//!
//! Events this service must handle but localstripe does not send (a success
//! after a failed attempt, refunds, mismatched amounts) are signed here with
//! the endpoint secret, exactly as Stripe signs them.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use e2e_tests::commerce::{
    GuestOrder, LocalStripe, all_at_once, call, charge_refunded_event, deliver, deliver_raw, emails_to, event_id,
    events_completed, get_order, guest_order, member, now, payment_intent, payment_intent_event, run_tool,
    stripe_signature, wait_for_mailer_to_drain, wait_for_order, webhook_secret,
};
use e2e_tests::{Api, assert_error, dynamodb, local_settings};
use local_gateway::{Gateway, GatewayConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PAID_WITHIN: Duration = Duration::from_secs(20);
const MAILED_WITHIN: Duration = Duration::from_secs(30);

async fn stored_event(event_id: &str) -> Option<std::collections::HashMap<String, AttributeValue>> {
    let (db, table) = dynamodb().await;
    db.get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(format!("STRIPE_EVENT#{event_id}")))
        .key("sk", AttributeValue::S("STRIPE_EVENT".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

async fn deliveries_of(event_id: &str) -> usize {
    let (db, table) = dynamodb().await;
    db.query()
        .table_name(table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :delivery)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("STRIPE_EVENT#{event_id}")))
        .expression_attribute_values(":delivery", AttributeValue::S("DELIVERY#".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .count as usize
}

fn succeeded(order: &GuestOrder, intent: &str, event: &str) -> Value {
    let amount = order.body["amount"].as_i64().unwrap();
    payment_intent_event("payment_intent.succeeded", event, intent, &order.id, amount, "usd")
}

/// The order is paid, its receipt went out once, to its address, naming the
/// order and its total.
async fn assert_paid_with_one_receipt(api: &Api, order: &GuestOrder) {
    let paid = wait_for_order(api, order, MAILED_WITHIN, |o| o["receipt"]["status"] == "sent").await;
    assert_eq!(paid["status"], "paid");
    assert!(paid["receipt"]["sent_at"].is_string(), "{paid}");
    wait_for_mailer_to_drain(&order.id, MAILED_WITHIN).await;
    let emails = emails_to(&order.email).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    let email = &emails[0];
    assert_eq!(email["subject"], format!("Your receipt for order {}", order.id));
    assert_eq!(email["source"], e2e_tests::required_setting("SES_FROM_ADDRESS"));
    let body = email["body"].as_str().unwrap();
    assert!(body.contains(&order.id), "{body}");
    let total = order.body["amount"].as_i64().unwrap();
    assert!(body.contains(&format!("{}.{:02} USD", total / 100, total % 100)), "{body}");
}

#[tokio::test]
async fn one_payment_intent_per_order_however_often_and_concurrently_asked() {
    let api = Api::new();
    let order = guest_order(&api, 2).await;
    let asks = (0..5)
        .map(|_| {
            let (api, order) = (api.clone(), order.clone());
            async move {
                call(
                    &api,
                    Method::POST,
                    "/api/v1/payments/intent",
                    None,
                    Some(&order.token),
                    Some(&json!({"order_id": order.id})),
                )
                .await
            }
        })
        .collect();
    let replies = all_at_once(asks).await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.headers["cache-control"], "no-store");
    }
    let intent = replies[0].body["payment_intent_id"].as_str().unwrap().to_owned();
    assert!(replies.iter().all(|r| r.body["payment_intent_id"] == intent.as_str()), "{replies:?}");
    assert!(replies.iter().all(|r| r.body["client_secret"] == replies[0].body["client_secret"]));
    assert_eq!(replies[0].body["amount"], order.body["amount"]);
    assert_eq!(replies[0].body["currency"], "usd");
    assert_eq!(payment_intent(&api, &order).await, intent, "asked again later: the same one");

    // At Stripe: the order's amount and currency, and the order's id.
    let (status, at_stripe) = LocalStripe::new().get(&format!("/v1/payment_intents/{intent}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(at_stripe["amount"], order.body["amount"]);
    assert_eq!(at_stripe["currency"], "usd");
    assert_eq!(at_stripe["metadata"]["order_id"], order.id.as_str());

    // Recorded on the order, and the way back from the intent.
    let (db, table) = dynamodb().await;
    let link = db
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(format!("PAYMENT_INTENT#{intent}")))
        .key("sk", AttributeValue::S("PAYMENT_INTENT".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the intent leads back to its order");
    assert_eq!(link["order_id"].as_s().unwrap(), &order.id);
}

#[tokio::test]
async fn only_the_owner_or_token_holder_may_pay_and_only_an_unpaid_order() {
    let api = Api::new();
    let order = guest_order(&api, 1).await;
    let other = guest_order(&api, 1).await;
    let stranger = member(&api).await;
    let body = json!({"order_id": order.id});
    for (access, token) in [(None, None), (None, Some(other.token.as_str())), (Some(stranger.access.as_str()), None)] {
        let reply = call(&api, Method::POST, "/api/v1/payments/intent", access, token, Some(&body)).await;
        assert_error(reply.status, &reply.body, 404, "not_found");
    }
    let missing = call(&api, Method::POST, "/api/v1/payments/intent", None, Some(&order.token), Some(&json!({}))).await;
    assert_error(missing.status, &missing.body, 400, "validation_error");
    assert!(missing.body["errors"]["order_id"].is_array());

    // A member pays their own order with their access token.
    let me = member(&api).await;
    let usd = e2e_tests::commerce::seeded("usd", true);
    let mine = call(
        &api,
        Method::POST,
        "/api/v1/orders",
        Some(&me.access),
        None,
        Some(&json!({"items": [{"product_id": usd["id"], "quantity": 1}]})),
    )
    .await;
    let mine_id = mine.body["id"].as_str().unwrap();
    let reply = call(
        &api,
        Method::POST,
        "/api/v1/payments/intent",
        Some(&me.access),
        None,
        Some(&json!({"order_id": mine_id})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // Paid: no second payment.
    let intent = payment_intent(&api, &order).await;
    assert_eq!(deliver(&api, &succeeded(&order, &intent, &event_id())).await.status, StatusCode::OK);
    let reply = call(&api, Method::POST, "/api/v1/payments/intent", None, Some(&order.token), Some(&body)).await;
    assert_error(reply.status, &reply.body, 409, "conflict");
}

#[tokio::test]
async fn a_purchase_with_the_test_card_is_paid_by_localstripes_webhook_and_mailed_once() {
    let api = Api::new();
    let order = guest_order(&api, 2).await;
    let intent = payment_intent(&api, &order).await;
    let (status, confirmed) = LocalStripe::new().pay_with_card(&intent, "4242424242424242").await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["status"], "succeeded");

    let paid = wait_for_order(&api, &order, PAID_WITHIN, |o| o["status"] == "paid").await;
    assert_ne!(paid["receipt"]["status"], "none");
    assert_paid_with_one_receipt(&api, &order).await;

    // The webhook's line: the event, its order, what it did, what it cost.
    let webhook = events_completed("stripe_webhook", &order.id);
    let line = webhook.iter().find(|l| l["status"] == "paid").expect("the webhook's event completed line");
    assert_eq!(line["event_type"], "payment_intent.succeeded");
    assert_eq!(line["aws_calls"]["sqs"], 1, "{line}");
    assert_eq!(line["aws_calls"]["dynamodb"], 1, "one transaction records the event and pays the order: {line}");
    assert!(line["request_id"].is_string() && line["duration_ms"].is_number(), "{line}");
    // The mailer's line carries the order's correlation id, as the webhook's does.
    let mailer = events_completed("mailer", &order.id);
    let sent = mailer.iter().find(|l| l["status"] == "sent").expect("the mailer's event completed line");
    assert!(line["correlation_id"].is_string(), "{line}");
    assert_eq!(sent["correlation_id"], line["correlation_id"]);
    assert_eq!(sent["aws_calls"]["ses"], 1, "{sent}");
    assert_eq!(sent["aws_calls"]["dynamodb"], 3, "claim (returning the order), suppression list, mark sent: {sent}");

    // What was kept of the event: no email, no card, no client secret.
    let event = stored_event(line["event_id"].as_str().unwrap()).await.expect("the event is recorded");
    let kept = format!("{event:?}");
    for leak in ["@", "secret", "4242", "last4"] {
        assert!(!kept.contains(leak), "{leak} kept in {kept}");
    }
}

#[tokio::test]
async fn the_same_event_five_times_in_a_row_or_at_once_moves_the_order_once() {
    let api = Api::new();
    for concurrently in [false, true] {
        let order = guest_order(&api, 1).await;
        let intent = payment_intent(&api, &order).await;
        let id = event_id();
        let event = succeeded(&order, &intent, &id);
        let replies = if concurrently {
            all_at_once(
                (0..5)
                    .map(|_| {
                        let (api, event) = (api.clone(), event.clone());
                        async move { deliver(&api, &event).await }
                    })
                    .collect(),
            )
            .await
        } else {
            let mut replies = Vec::new();
            for _ in 0..5 {
                replies.push(deliver(&api, &event).await);
            }
            replies
        };
        for reply in &replies {
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            assert_eq!(reply.body, json!({"received": true}));
        }
        assert_paid_with_one_receipt(&api, &order).await;
        let transitions =
            events_completed("stripe_webhook", &order.id).iter().filter(|l| l["status"] == "paid").count();
        assert_eq!(transitions, 1, "one transition (concurrently: {concurrently})");
        assert_eq!(deliveries_of(&id).await, 5, "each delivery is audited");
        let stored = stored_event(&id).await.unwrap();
        assert_eq!(stored["status"].as_s().unwrap(), "processed");
        assert_eq!(stored["outcome"].as_s().unwrap(), "paid");
    }
}

#[tokio::test]
async fn forged_stale_tampered_or_unsigned_deliveries_are_refused_and_change_nothing() {
    let api = Api::new();
    let order = guest_order(&api, 1).await;
    let intent = payment_intent(&api, &order).await;
    let id = event_id();
    let body = serde_json::to_string_pretty(&succeeded(&order, &intent, &id)).unwrap();
    let secret = webhook_secret();
    let good = stripe_signature(&body, &secret, now());
    let cheaper = body.replacen(&format!("\"amount\": {}", order.body["amount"]), "\"amount\": 1", 1);
    assert_ne!(cheaper, body);
    let cases: Vec<(&str, String, Option<String>)> = vec![
        ("another secret", body.clone(), Some(stripe_signature(&body, "whsec_someone_else", now()))),
        ("stale timestamp", body.clone(), Some(stripe_signature(&body, &secret, now() - 301))),
        ("tampered body", cheaper, Some(good.clone())),
        ("missing header", body.clone(), None),
        ("empty header", body.clone(), Some(String::new())),
        ("v0 only", body.clone(), Some(good.replace("v1=", "v0="))),
        ("no timestamp", body.clone(), Some(good.split(',').nth(1).unwrap().to_owned())),
        ("garbage", body.clone(), Some("t=abc,v1=xyz".into())),
    ];
    for (case, payload, signature) in cases {
        let reply = deliver_raw(&api, &payload, signature.as_deref()).await;
        assert_error(reply.status, &reply.body, 400, "bad_request");
        assert!(!reply.body.to_string().contains("secret"), "{case}: {}", reply.body);
    }
    // Signed, but not an event.
    let not_an_event = "{\"hello\": \"world\"}";
    let reply = deliver_raw(&api, not_an_event, Some(&stripe_signature(not_an_event, &secret, now()))).await;
    assert_error(reply.status, &reply.body, 400, "bad_request");

    assert!(stored_event(&id).await.is_none(), "nothing recorded");
    let unchanged = get_order(&api, &order).await;
    assert_eq!(unchanged["status"], "pending");
    assert_eq!(unchanged["receipt"]["status"], "none");
    // And the genuine delivery still works afterwards.
    let reply = deliver_raw(&api, &body, Some(&good)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    wait_for_order(&api, &order, PAID_WITHIN, |o| o["status"] == "paid").await;
}

#[tokio::test]
async fn an_event_whose_amount_or_currency_differs_is_recorded_and_changes_nothing() {
    let api = Api::new();
    let order = guest_order(&api, 1).await;
    let intent = payment_intent(&api, &order).await;
    let amount = order.body["amount"].as_i64().unwrap();
    for (id, paid, currency) in [(event_id(), amount - 1, "usd"), (event_id(), amount, "eur")] {
        let event = payment_intent_event("payment_intent.succeeded", &id, &intent, &order.id, paid, currency);
        let reply = deliver(&api, &event).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let stored = stored_event(&id).await.expect("recorded");
        assert_eq!(stored["outcome"].as_s().unwrap(), "amount_mismatch");
    }
    let order_now = get_order(&api, &order).await;
    assert_eq!(order_now["status"], "pending");
    assert_eq!(order_now["receipt"]["status"], "none");

    // Unknown types are recorded and ignored too.
    let id = event_id();
    let mut other = succeeded(&order, &intent, &id);
    other["type"] = json!("customer.created");
    assert_eq!(deliver(&api, &other).await.status, StatusCode::OK);
    assert_eq!(stored_event(&id).await.unwrap()["outcome"].as_s().unwrap(), "ignored_type");
    assert_eq!(get_order(&api, &order).await["status"], "pending");
}

#[tokio::test]
async fn a_declined_card_then_a_successful_payment_ends_paid_with_one_receipt() {
    let api = Api::new();
    let order = guest_order(&api, 1).await;
    let intent = payment_intent(&api, &order).await;
    // localstripe declines this card at charge time and sends a signed
    // payment_intent.payment_failed.
    let (status, declined) = LocalStripe::new().pay_with_card(&intent, "4000000000000341").await;
    assert_eq!(status.as_u16(), 402, "{declined}");
    let failed = wait_for_order(&api, &order, PAID_WITHIN, |o| o["status"] == "payment_failed").await;
    assert_eq!(failed["receipt"]["status"], "none");
    // A failed order may still be paid: the same intent again.
    assert_eq!(payment_intent(&api, &order).await, intent);
    // The customer's second attempt succeeds (localstripe cannot retry a
    // declined intent, so Stripe's event is signed here).
    let reply = deliver(&api, &succeeded(&order, &intent, &event_id())).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_paid_with_one_receipt(&api, &order).await;
    // A late failure event changes nothing now.
    let late = payment_intent_event(
        "payment_intent.payment_failed",
        &event_id(),
        &intent,
        &order.id,
        order.body["amount"].as_i64().unwrap(),
        "usd",
    );
    assert_eq!(deliver(&api, &late).await.status, StatusCode::OK);
    assert_eq!(get_order(&api, &order).await["status"], "paid");
}

#[tokio::test]
async fn a_full_refund_refunds_the_order_and_a_partial_one_does_not() {
    let api = Api::new();
    let order = guest_order(&api, 1).await;
    let intent = payment_intent(&api, &order).await;
    let amount = order.body["amount"].as_i64().unwrap();
    // Not paid yet: a refund cannot come first.
    let early = event_id();
    assert_eq!(
        deliver(&api, &charge_refunded_event(&early, &intent, amount, amount, "usd")).await.status,
        StatusCode::OK
    );
    assert_eq!(stored_event(&early).await.unwrap()["outcome"].as_s().unwrap(), "transition_not_allowed");

    assert_eq!(deliver(&api, &succeeded(&order, &intent, &event_id())).await.status, StatusCode::OK);
    wait_for_order(&api, &order, PAID_WITHIN, |o| o["status"] == "paid").await;

    let partial = event_id();
    assert_eq!(
        deliver(&api, &charge_refunded_event(&partial, &intent, amount, amount - 100, "usd")).await.status,
        StatusCode::OK
    );
    assert_eq!(stored_event(&partial).await.unwrap()["outcome"].as_s().unwrap(), "partial_refund");
    let part = get_order(&api, &order).await;
    assert_eq!((&part["status"], &part["refunded_amount"]), (&json!("paid"), &json!(amount - 100)));
    // An older total, delivered late, never lowers it.
    let stale = event_id();
    assert_eq!(
        deliver(&api, &charge_refunded_event(&stale, &intent, amount, amount - 200, "usd")).await.status,
        StatusCode::OK
    );
    assert_eq!(get_order(&api, &order).await["refunded_amount"], json!(amount - 100));

    // The charge names only its intent; the order is found through it.
    let full = event_id();
    assert_eq!(
        deliver(&api, &charge_refunded_event(&full, &intent, amount, amount, "usd")).await.status,
        StatusCode::OK
    );
    let whole = get_order(&api, &order).await;
    assert_eq!((&whole["status"], &whole["refunded_amount"]), (&json!("refunded"), &json!(amount)));
    let kept = format!("{:?}", stored_event(&full).await.unwrap());
    assert!(!kept.contains("someone@example.com") && !kept.contains("4242"), "{kept}");
    // Refunded is final: a replayed success does not pay it again.
    assert_eq!(deliver(&api, &succeeded(&order, &intent, &event_id())).await.status, StatusCode::OK);
    assert_eq!(get_order(&api, &order).await["status"], "refunded");
}

#[tokio::test]
async fn replaying_a_recorded_event_twice_changes_nothing_more() {
    let api = Api::new();
    let order = guest_order(&api, 1).await;
    let intent = payment_intent(&api, &order).await;
    let id = event_id();
    assert_eq!(deliver(&api, &succeeded(&order, &intent, &id)).await.status, StatusCode::OK);
    assert_paid_with_one_receipt(&api, &order).await;
    for _ in 0..2 {
        let output = run_tool("replay-stripe-event", &[&id]).await;
        assert!(output.contains("already_done"), "{output}");
    }
    assert_eq!(deliveries_of(&id).await, 3, "the delivery and two replays are audited");
    assert_eq!(emails_to(&order.email).await.len(), 1);
    assert_eq!(get_order(&api, &order).await["status"], "paid");
}

/// A delivery that died after its transaction (event recorded as having
/// paid the order, order paid, receipt marked queued) and before putting
/// the receipt on the queue leaves exactly this behind. Stripe's redelivery
/// must finish the job: the receipt queued and sent once.
#[tokio::test]
async fn a_redelivery_finishes_what_a_crashed_delivery_left_half_done() {
    let api = Api::new();
    let order = guest_order(&api, 1).await;
    let intent = payment_intent(&api, &order).await;
    let id = event_id();
    let (db, table) = dynamodb().await;
    db.put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S(format!("STRIPE_EVENT#{id}")))
        .item("sk", AttributeValue::S("STRIPE_EVENT".into()))
        .item("event_id", AttributeValue::S(id.clone()))
        .item("event_type", AttributeValue::S("payment_intent.succeeded".into()))
        .item("summary", AttributeValue::S("{}".into()))
        .item("status", AttributeValue::S("processed".into()))
        .item("outcome", AttributeValue::S("paid".into()))
        .item("order_id", AttributeValue::S(order.id.clone()))
        .send()
        .await
        .unwrap();
    db.update_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("ORDER#{}", order.id)))
        .key("sk", AttributeValue::S("#ORDER".into()))
        .update_expression("SET #status = :paid, receipt_status = :queued")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":paid", AttributeValue::S("paid".into()))
        .expression_attribute_values(":queued", AttributeValue::S("queued".into()))
        .send()
        .await
        .unwrap();

    let reply = deliver(&api, &succeeded(&order, &intent, &id)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_paid_with_one_receipt(&api, &order).await;
    let line = events_completed("stripe_webhook", &order.id).pop().unwrap();
    assert_eq!((&line["status"], &line["receipt_queued"]), (&json!("duplicate"), &json!(true)), "{line}");
    assert_eq!(stored_event(&id).await.unwrap()["status"].as_s().unwrap(), "processed");
    // And once the receipt is sent, a further redelivery is only audited.
    assert_eq!(deliver(&api, &succeeded(&order, &intent, &id)).await.status, StatusCode::OK);
    let line = events_completed("stripe_webhook", &order.id).pop().unwrap();
    assert_eq!((&line["status"], &line["receipt_queued"]), (&json!("duplicate"), &json!(false)), "{line}");
}

/// A mailer that claimed a receipt and died leaves a claim behind: the
/// receipt waits while the claim's lease runs, then another delivery takes
/// the claim over and sends it, once.
#[tokio::test]
async fn a_claim_left_by_a_crashed_sender_lapses_and_is_taken_over() {
    let api = Api::new();
    let order = guest_order(&api, 1).await;
    let intent = payment_intent(&api, &order).await;
    let (db, table) = dynamodb().await;
    db.update_item()
        .table_name(table)
        .key("pk", AttributeValue::S(format!("ORDER#{}", order.id)))
        .key("sk", AttributeValue::S("#ORDER".into()))
        .update_expression("SET receipt_claim_id = :crashed, receipt_claim_expires_at = :until")
        .expression_attribute_values(":crashed", AttributeValue::S("a-sender-that-died".into()))
        .expression_attribute_values(":until", AttributeValue::N((now() + 3).to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(deliver(&api, &succeeded(&order, &intent, &event_id())).await.status, StatusCode::OK);
    assert_paid_with_one_receipt(&api, &order).await;
    let attempts: Vec<Value> = events_completed("mailer", &order.id);
    assert!(attempts.iter().any(|l| l["status"] == "failed" && l["aws_calls"].get("ses").is_none()), "{attempts:?}");
    assert_eq!(attempts.last().unwrap()["status"], "sent", "{attempts:?}");
}

/// A gateway of this test's own whose functions see Stripe at a closed port.
#[tokio::test]
async fn stripe_unreachable_is_a_quick_503_with_retry_after() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let bin_dir = std::env::var("GATEWAY_BIN_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debug").into());
    let mut config = GatewayConfig::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml"), bin_dir);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.max_instances_per_function = 1;
    config.extra_env = local_settings();
    config.extra_env.push(("STRIPE_API_BASE".into(), format!("http://{closed}")));
    let gateway = Gateway::bind(config).await.unwrap();
    let base = format!("http://{}", gateway.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(gateway.run(async {
        let _ = stopped.await;
    }));

    let api = Api { base, http: reqwest::Client::new() };
    let order = guest_order(&api, 1).await;
    let started = std::time::Instant::now();
    let reply = call(
        &api,
        Method::POST,
        "/api/v1/payments/intent",
        None,
        Some(&order.token),
        Some(&json!({"order_id": order.id})),
    )
    .await;
    assert_error(reply.status, &reply.body, 503, "service_unavailable");
    assert!(reply.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    assert_eq!(get_order(&api, &order).await["status"], "pending");
    let (db, table) = dynamodb().await;
    let head = db
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(format!("ORDER#{}", order.id)))
        .key("sk", AttributeValue::S("#ORDER".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(!head.contains_key("payment_intent_id"), "no intent recorded");
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
