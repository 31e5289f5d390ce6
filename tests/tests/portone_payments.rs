//! PortOne (Iamport v1) payments end to end, through the gateway, with the
//! stack's PortOne fake as PortOne and moto as AWS: orders in `krw`, whose
//! id is the payment's `merchant_uid`, confirmed by
//! `POST /payments/portone/complete` (the client) or
//! `POST /webhooks/portone` (PortOne), and in both cases only as far as
//! PortOne's own record of the payment, read through its API, says.
//!
//! Covered: a `paid` payment pays the order once, with one receipt, and the
//! same call again changes nothing; `ready` is a 202 and the order waits
//! until PortOne has it `paid`; `failed` fails the order and a later payment
//! still pays it; an amount or currency that is not the order's is a 409,
//! cancelled at PortOne and audited; an `imp_uid` PortOne does not know and
//! a payment of another order are 400s that change nothing; only the
//! order's owner or token holder may complete it; the webhook alone pays
//! an order (its body is only a hint: PortOne's record decides), refuses
//! addresses not allowed, and logs one `event completed` line per delivery;
//! the same completion or webhook five times, in a row or at once, pays
//! once and mails once; an order is paid once across Stripe and PortOne,
//! whichever comes first. On a gateway and a PortOne fake of their own:
//! the PortOne token is fetched once and reused, an expired one is
//! replaced, a PortOne failing past our retries or unreachable is a quick
//! 503 with `Retry-After` that changes nothing, and the next call succeeds.
//!
//! Tests share the stack's fake, so each uses orders and payments of its
//! own, never resets it and never makes it fail.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use e2e_tests::commerce::{
    Reply, all_at_once, call, deliver, emails_to, event_id, get_order, member, payment_intent_event, wait_for_order,
};
use e2e_tests::portone::{
    COMPLETE, PAID_WITHIN, PortOneFake, SETTLE, amount_of, assert_audited, assert_paid_with_one_receipt, audit_of,
    complete, complete_as, item_at, item_json, krw_order, member_krw_order, order_as, post_webhook, start_own_fake,
    wait_for_webhook_lines, webhook_lines, webhook_url,
};
use e2e_tests::{Api, assert_error, completed_log_line, local_settings, required_setting, status_and_json};
use local_gateway::{Gateway, GatewayConfig, GatewayError};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn a_paid_payment_pays_the_order_once_with_one_receipt() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    let order = krw_order(&api, 2).await;
    let imp_uid = portone.paid_payment_for(&order).await;

    let reply = complete(&api, &order, &imp_uid).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(header(&reply, "cache-control"), Some("no-store"));
    assert_eq!(reply.body["id"], order.id.as_str());
    assert_eq!(reply.body["status"], "paid", "{}", reply.body);
    assert_eq!(reply.body["amount"], amount_of(&order));
    assert_eq!(reply.body["currency"], "krw");
    assert!(matches!(reply.body["receipt"]["status"].as_str(), Some("queued" | "sent")), "{}", reply.body);
    let shown = get_order(&api, &order).await;
    assert_eq!(keys(&reply.body), keys(&shown), "the order as GET /orders/{{id}} shows it");
    assert_eq!(shown["status"], "paid", "{shown}");

    // Read from PortOne (not taken from the client), and not cancelled.
    let at_portone = portone.payment(&imp_uid).await;
    assert_eq!(at_portone["status"], "paid", "{at_portone}");
    assert_eq!(at_portone["cancel_history"], json!([]), "{at_portone}");
    assert!(at_portone["api_reads"].as_u64().unwrap_or(0) >= 1, "{at_portone}");
    assert_audited(
        &imp_uid,
        &json!({"order_id": order.id, "status": "paid", "outcome": "paid", "amount": amount_of(&order), "currency": "KRW"}),
    )
    .await;

    // The request's one closing line.
    let request_id = header(&reply, "x-request-id").expect("X-Request-Id").to_owned();
    let line = completed_log_line(&request_id).await;
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["path"], COMPLETE, "{line}");
    let closing = e2e_tests::commerce::log_lines(&["\"request completed\"", request_id.as_str()]);
    assert_eq!(closing.len(), 1, "{closing:?}");

    assert_paid_with_one_receipt(&api, &order).await;

    // The same call again: the same order, nothing changed, no second email.
    let before = get_order(&api, &order).await;
    let again = complete(&api, &order, &imp_uid).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body, before, "the same call again changes nothing");
    assert_eq!(get_order(&api, &order).await, before);
    let at_portone = portone.payment(&imp_uid).await;
    assert_eq!(at_portone["status"], "paid", "the payment that paid the order is not a second one: {at_portone}");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(emails_to(&order.email).await.len(), 1);
}

#[tokio::test]
async fn a_ready_payment_is_a_202_and_the_order_is_paid_once_portone_has_it_paid() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    let order = krw_order(&api, 1).await;
    let imp_uid = portone.create_payment(&order.id, amount_of(&order), "KRW", "ready").await;

    let reply = complete(&api, &order, &imp_uid).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["id"], order.id.as_str());
    assert_eq!(reply.body["status"], "pending", "{}", reply.body);
    let waiting = get_order(&api, &order).await;
    assert_eq!(waiting["status"], "pending", "{waiting}");
    assert_eq!(waiting["receipt"]["status"], "none", "{waiting}");

    // The virtual account is paid; the client completes again.
    portone.set_status(&imp_uid, "paid").await;
    let reply = complete(&api, &order, &imp_uid).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "paid", "{}", reply.body);
    assert_audited(&imp_uid, &json!({"order_id": order.id, "status": "paid", "outcome": "paid"})).await;
    assert_paid_with_one_receipt(&api, &order).await;
}

#[tokio::test]
async fn a_failed_payment_fails_the_order_and_a_later_payment_still_pays_it() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    let order = krw_order(&api, 1).await;
    let declined = portone.create_payment(&order.id, amount_of(&order), "KRW", "failed").await;

    let reply = complete(&api, &order, &declined).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "payment_failed", "{}", reply.body);
    let failed = get_order(&api, &order).await;
    assert_eq!(failed["status"], "payment_failed", "{failed}");
    assert_eq!(failed["receipt"]["status"], "none", "{failed}");

    // The shopper tries again, and this time it goes through.
    let imp_uid = portone.paid_payment_for(&order).await;
    let reply = complete(&api, &order, &imp_uid).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "paid", "{}", reply.body);
    assert_eq!(portone.payment(&declined).await["status"], "failed");
    assert_paid_with_one_receipt(&api, &order).await;
}

#[tokio::test]
async fn an_amount_or_currency_that_is_not_the_orders_is_a_409_cancelled_at_portone_and_audited() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    let order = krw_order(&api, 1).await;
    let amount = amount_of(&order);

    for (paid, currency) in [(amount - 1, "KRW"), (amount, "USD")] {
        let imp_uid = portone.create_payment(&order.id, paid, currency, "paid").await;
        let reply = complete(&api, &order, &imp_uid).await;
        assert_error(reply.status, &reply.body, 409, "conflict");

        let at_portone = portone.payment(&imp_uid).await;
        assert_eq!(at_portone["status"], "cancelled", "{paid} {currency}: {at_portone}");
        assert_eq!(at_portone["cancel_amount"], paid, "cancelled in full: {at_portone}");
        assert_eq!(at_portone["cancel_history"].as_array().map(Vec::len), Some(1), "{at_portone}");
        assert_audited(
            &imp_uid,
            &json!({"order_id": order.id, "outcome": "amount_mismatch", "amount": paid, "currency": currency}),
        )
        .await;

        let unpaid = get_order(&api, &order).await;
        assert_eq!(unpaid["status"], "pending", "{unpaid}");
        assert_eq!(unpaid["receipt"]["status"], "none", "{unpaid}");
    }

    // The right payment still pays it.
    let imp_uid = portone.paid_payment_for(&order).await;
    let reply = complete(&api, &order, &imp_uid).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "paid", "{}", reply.body);
}

#[tokio::test]
async fn an_imp_uid_portone_does_not_know_is_a_400_and_changes_nothing() {
    let api = Api::new();
    let order = krw_order(&api, 1).await;
    // PortOne's shape (`imp_` and 12 digits), never made by the fake.
    let unknown = format!("imp_{:012}", ulid::Ulid::new().random() % 1_000_000_000_000);

    let reply = complete(&api, &order, &unknown).await;
    assert_error(reply.status, &reply.body, 400, "bad_request");
    let unchanged = get_order(&api, &order).await;
    assert_eq!(unchanged["status"], "pending", "{unchanged}");
    assert_eq!(unchanged["receipt"]["status"], "none", "{unchanged}");

    let portone = PortOneFake::shared();
    let imp_uid = portone.paid_payment_for(&order).await;
    let reply = complete(&api, &order, &imp_uid).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "paid", "{}", reply.body);
}

#[tokio::test]
async fn a_payment_for_another_order_is_a_400_and_changes_neither_order() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    let mine = krw_order(&api, 1).await;
    let theirs = krw_order(&api, 1).await;
    let their_payment = portone.paid_payment_for(&theirs).await;

    let reply = complete(&api, &mine, &their_payment).await;
    assert_error(reply.status, &reply.body, 400, "bad_request");
    for order in [&mine, &theirs] {
        let unchanged = get_order(&api, order).await;
        assert_eq!(unchanged["status"], "pending", "{unchanged}");
        assert_eq!(unchanged["receipt"]["status"], "none", "{unchanged}");
    }
    let at_portone = portone.payment(&their_payment).await;
    assert_eq!(at_portone["status"], "paid", "not cancelled: {at_portone}");
    assert_eq!(at_portone["cancel_history"], json!([]), "{at_portone}");

    // It still pays the order it is for.
    let reply = complete(&api, &theirs, &their_payment).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "paid", "{}", reply.body);
    assert_eq!(get_order(&api, &mine).await["status"], "pending");
}

#[tokio::test]
async fn only_the_owner_or_the_token_holder_may_complete() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    let order = krw_order(&api, 1).await;
    let other = krw_order(&api, 1).await;
    let stranger = member(&api).await;
    let imp_uid = portone.paid_payment_for(&order).await;
    let no_such_order = ulid::Ulid::new().to_string();

    let cases: [(&str, &str, Option<&str>, Option<&str>); 5] = [
        ("no credentials", order.id.as_str(), None, None),
        ("another order's token", order.id.as_str(), None, Some(other.token.as_str())),
        ("a made-up token", order.id.as_str(), None, Some("not-this-orders-token")),
        ("a stranger's access token", order.id.as_str(), Some(stranger.access.as_str()), None),
        ("an order that does not exist", no_such_order.as_str(), None, Some(order.token.as_str())),
    ];
    for (case, order_id, access, token) in cases {
        let reply = complete_as(&api, order_id, &imp_uid, access, token).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{case}: {}", reply.body);
        assert_error(reply.status, &reply.body, 404, "not_found");
    }
    // Refused before PortOne was asked anything.
    let untouched = portone.payment(&imp_uid).await;
    assert_eq!(untouched["api_reads"], 0, "{untouched}");
    assert_eq!(untouched["status"], "paid", "{untouched}");
    assert_eq!(get_order(&api, &order).await["status"], "pending");

    let reply = call(&api, Method::POST, COMPLETE, None, Some(order.token.as_str()), Some(&json!({}))).await;
    assert_error(reply.status, &reply.body, 400, "validation_error");
    assert!(reply.body["errors"]["order_id"].is_array(), "{}", reply.body);
    assert!(reply.body["errors"]["imp_uid"].is_array(), "{}", reply.body);

    let reply = complete(&api, &order, &imp_uid).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "paid", "{}", reply.body);

    // A member completes their own order with their access token, and only
    // they may. PortOne's currency is compared in any letter case.
    let me = member(&api).await;
    let mine = member_krw_order(&api, &me, 1).await;
    let mine_id = mine["id"].as_str().expect("the order's id").to_owned();
    let my_payment =
        portone.create_payment(&mine_id, mine["amount"].as_i64().expect("the order's amount"), "krw", "paid").await;
    let cases: [(&str, Option<&str>, Option<&str>); 3] = [
        ("no credentials", None, None),
        ("another member", Some(stranger.access.as_str()), None),
        ("a guest order's token", None, Some(other.token.as_str())),
    ];
    for (case, access, token) in cases {
        let reply = complete_as(&api, &mine_id, &my_payment, access, token).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{case}: {}", reply.body);
        assert_error(reply.status, &reply.body, 404, "not_found");
    }
    let reply = complete_as(&api, &mine_id, &my_payment, Some(me.access.as_str()), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "paid", "{}", reply.body);
    let shown = order_as(&api, &mine_id, Some(me.access.as_str()), None).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_eq!(shown.body["status"], "paid", "{}", shown.body);
}

#[tokio::test]
async fn portones_webhook_alone_pays_the_order_and_sends_one_receipt() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    let order = krw_order(&api, 1).await;
    let imp_uid = portone.paid_payment_for(&order).await;

    // PortOne's own body, as PortOne sends it.
    assert_eq!(portone.notify(&imp_uid, &webhook_url(&api)).await, 200, "the webhook's answer to PortOne");
    wait_for_order(&api, &order, PAID_WITHIN, |o| o["status"] == "paid").await;
    let lines = wait_for_webhook_lines(&order.id, 1).await;
    assert_eq!(lines.len(), 1, "one event completed line per delivery: {lines:?}");
    let line = &lines[0];
    assert_eq!(line["status"], "paid", "{line}");
    assert_eq!(line["order_id"], order.id.as_str(), "{line}");
    assert!(line["request_id"].is_string(), "{line}");
    assert!(line["duration_ms"].is_number(), "{line}");
    assert!(line["aws_calls"].is_object(), "{line}");
    assert_audited(&imp_uid, &json!({"order_id": order.id, "status": "paid", "outcome": "paid"})).await;
    assert_eq!(portone.payment(&imp_uid).await["status"], "paid");
    assert_paid_with_one_receipt(&api, &order).await;

    // PortOne delivers it again: recorded, no second effect.
    let again = post_webhook(&api, &json!({"imp_uid": imp_uid, "merchant_uid": order.id, "status": "paid"})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body, json!({"received": true}));
    let lines = wait_for_webhook_lines(&order.id, 2).await;
    assert_eq!(lines.iter().filter(|l| l["status"] == "paid").count(), 1, "{lines:?}");
    assert_eq!(get_order(&api, &order).await["status"], "paid");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(emails_to(&order.email).await.len(), 1);
}

#[tokio::test]
async fn a_webhook_body_only_names_the_payment_and_portones_record_decides() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    let bystander = krw_order(&api, 1).await;
    let buyer = krw_order(&api, 1).await;
    let imp_uid = portone.create_payment(&buyer.id, amount_of(&buyer), "KRW", "ready").await;

    // The body names another order and a status PortOne does not have.
    let claim = json!({"imp_uid": imp_uid, "merchant_uid": bystander.id, "status": "paid"});
    let reply = post_webhook(&api, &claim).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, json!({"received": true}));
    assert_eq!(get_order(&api, &bystander).await["status"], "pending");
    assert_eq!(get_order(&api, &buyer).await["status"], "pending", "PortOne has the payment as ready");

    // PortOne has it paid now; the body says otherwise again.
    portone.set_status(&imp_uid, "paid").await;
    let claim = json!({"imp_uid": imp_uid, "merchant_uid": bystander.id, "status": "failed"});
    let reply = post_webhook(&api, &claim).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, json!({"received": true}));
    wait_for_order(&api, &buyer, PAID_WITHIN, |o| o["status"] == "paid").await;

    let lines = wait_for_webhook_lines(&buyer.id, 2).await;
    assert_eq!(lines.iter().filter(|l| l["status"] == "paid").count(), 1, "{lines:?}");
    assert!(webhook_lines(&bystander.id).is_empty(), "no line is about the order the body named");
    let untouched = get_order(&api, &bystander).await;
    assert_eq!(untouched["status"], "pending", "{untouched}");
    assert_eq!(untouched["receipt"]["status"], "none", "{untouched}");
    assert_paid_with_one_receipt(&api, &buyer).await;
    assert!(emails_to(&bystander.email).await.is_empty());
}

#[tokio::test]
async fn a_webhook_from_an_address_not_allowed_is_a_403_and_an_empty_one_a_400() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    let order = krw_order(&api, 1).await;
    let imp_uid = portone.paid_payment_for(&order).await;

    // From an address of this test's own in 127/8, never 127.0.0.1.
    let allowed = required_setting("PORTONE_WEBHOOK_ALLOWED_IPS");
    let bytes = ulid::Ulid::new().0.to_be_bytes();
    let address = IpAddr::from([127, bytes[15].max(2), bytes[14], bytes[13].max(1)]);
    assert!(!allowed.split(',').any(|a| a.trim() == address.to_string()), "{address} is allowed: {allowed}");
    let elsewhere = reqwest::Client::builder().local_address(address).build().expect("a client");
    let response = elsewhere
        .post(webhook_url(&api))
        .json(&json!({"imp_uid": imp_uid, "merchant_uid": order.id, "status": "paid"}))
        .send()
        .await
        .expect("request reaches the gateway");
    let (status, body) = status_and_json(response).await;
    assert_error(status, &body, 403, "permission_denied");
    let untouched = portone.payment(&imp_uid).await;
    assert_eq!(untouched["api_reads"], 0, "refused before PortOne was asked: {untouched}");
    assert_eq!(get_order(&api, &order).await["status"], "pending");

    let reply = post_webhook(&api, &json!({})).await;
    assert_error(reply.status, &reply.body, 400, "validation_error");
    assert!(reply.body["errors"]["imp_uid"].is_array(), "{}", reply.body);

    // From PortOne's (allowed) address it goes through.
    assert_eq!(portone.notify(&imp_uid, &webhook_url(&api)).await, 200);
    wait_for_order(&api, &order, PAID_WITHIN, |o| o["status"] == "paid").await;
}

#[tokio::test]
async fn the_same_completion_five_times_in_a_row_or_at_once_pays_once_and_mails_once() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    for concurrently in [false, true] {
        let order = krw_order(&api, 1).await;
        let imp_uid = portone.paid_payment_for(&order).await;
        let replies: Vec<Reply> = if concurrently {
            all_at_once(
                (0..5)
                    .map(|_| {
                        let (api, order, imp_uid) = (api.clone(), order.clone(), imp_uid.clone());
                        async move { complete(&api, &order, &imp_uid).await }
                    })
                    .collect(),
            )
            .await
        } else {
            let mut replies = Vec::new();
            for _ in 0..5 {
                replies.push(complete(&api, &order, &imp_uid).await);
            }
            replies
        };
        for reply in &replies {
            assert_eq!(reply.status, StatusCode::OK, "concurrently: {concurrently}: {}", reply.body);
            assert_eq!(reply.body["status"], "paid", "{}", reply.body);
        }
        // Its own payment is never taken for a second one and cancelled.
        let at_portone = portone.payment(&imp_uid).await;
        assert_eq!(at_portone["status"], "paid", "concurrently: {concurrently}: {at_portone}");
        assert_eq!(at_portone["cancel_history"], json!([]), "{at_portone}");
        let audit = assert_audited(&imp_uid, &json!({"order_id": order.id, "status": "paid"})).await;
        assert!(matches!(audit["outcome"].as_str(), Some("paid" | "already_paid")), "{audit}");
        assert_paid_with_one_receipt(&api, &order).await;
    }
}

#[tokio::test]
async fn the_same_webhook_five_times_in_a_row_or_at_once_pays_once_and_mails_once() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    let url = webhook_url(&api);
    for concurrently in [false, true] {
        let order = krw_order(&api, 1).await;
        let imp_uid = portone.paid_payment_for(&order).await;
        let answers: Vec<u16> = if concurrently {
            all_at_once(
                (0..5)
                    .map(|_| {
                        let (portone, imp_uid, url) = (portone.clone(), imp_uid.clone(), url.clone());
                        async move { portone.notify(&imp_uid, &url).await }
                    })
                    .collect(),
            )
            .await
        } else {
            let mut answers = Vec::new();
            for _ in 0..5 {
                answers.push(portone.notify(&imp_uid, &url).await);
            }
            answers
        };
        assert_eq!(answers, vec![200u16; 5], "concurrently: {concurrently}");

        let lines = wait_for_webhook_lines(&order.id, 5).await;
        assert_eq!(lines.len(), 5, "one line per delivery: {lines:?}");
        assert_eq!(lines.iter().filter(|l| l["status"] == "paid").count(), 1, "one transition: {lines:?}");
        // The client's completion after it: already paid by this payment.
        let reply = complete(&api, &order, &imp_uid).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["status"], "paid", "{}", reply.body);
        let at_portone = portone.payment(&imp_uid).await;
        assert_eq!(at_portone["status"], "paid", "concurrently: {concurrently}: {at_portone}");
        assert_eq!(at_portone["cancel_history"], json!([]), "{at_portone}");
        assert_paid_with_one_receipt(&api, &order).await;
    }
}

#[tokio::test]
async fn an_order_paid_through_stripe_gets_its_portone_payment_cancelled_and_one_receipt() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    let order = krw_order(&api, 1).await;
    let amount = amount_of(&order);
    let intent = format!("pi_test{}", ulid::Ulid::new());
    let event = payment_intent_event("payment_intent.succeeded", &event_id(), &intent, &order.id, amount, "krw");
    let reply = deliver(&api, &event).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    wait_for_order(&api, &order, PAID_WITHIN, |o| o["status"] == "paid").await;

    // The shopper also paid through PortOne.
    let imp_uid = portone.paid_payment_for(&order).await;
    let reply = complete(&api, &order, &imp_uid).await;
    assert_error(reply.status, &reply.body, 409, "conflict");
    let at_portone = portone.payment(&imp_uid).await;
    assert_eq!(at_portone["status"], "cancelled", "{at_portone}");
    assert_eq!(at_portone["cancel_amount"], amount, "refunded in full: {at_portone}");
    assert_audited(&imp_uid, &json!({"order_id": order.id, "outcome": "duplicate_payment", "amount": amount})).await;
    assert_eq!(get_order(&api, &order).await["status"], "paid");
    assert_paid_with_one_receipt(&api, &order).await;
}

#[tokio::test]
async fn an_order_paid_through_portone_records_a_later_stripe_payment_as_a_duplicate() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    let order = krw_order(&api, 1).await;
    let amount = amount_of(&order);
    let imp_uid = portone.paid_payment_for(&order).await;
    let reply = complete(&api, &order, &imp_uid).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "paid", "{}", reply.body);

    let id = event_id();
    let intent = format!("pi_test{}", ulid::Ulid::new());
    let event = payment_intent_event("payment_intent.succeeded", &id, &intent, &order.id, amount, "krw");
    let reply = deliver(&api, &event).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let stored = item_at(&format!("STRIPE_EVENT#{id}"), "STRIPE_EVENT").await.expect("the Stripe event is recorded");
    assert_eq!(item_json(&stored)["outcome"], "duplicate_payment", "{stored:?}");

    assert_eq!(get_order(&api, &order).await["status"], "paid");
    let at_portone = portone.payment(&imp_uid).await;
    assert_eq!(at_portone["status"], "paid", "the payment that paid the order stays: {at_portone}");
    assert_eq!(at_portone["cancel_history"], json!([]), "{at_portone}");
    assert_paid_with_one_receipt(&api, &order).await;
}

// ---------------------------------------------------------------------------
// On a gateway and a PortOne fake of the test's own, so that counting
// PortOne's calls or making it fail disturbs no other test.

#[tokio::test]
async fn the_portone_token_is_fetched_once_and_reused() {
    let own = start_own_fake(None).await;
    let gateway = own_gateway(&own.fake.base).await;
    let before = own.fake.calls().await;
    for _ in 0..5 {
        let order = krw_order(&gateway.api, 1).await;
        let imp_uid = own.fake.paid_payment_for(&order).await;
        let reply = complete(&gateway.api, &order, &imp_uid).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["status"], "paid", "{}", reply.body);
    }
    let calls = own.fake.calls().await.since(&before);
    assert_eq!(calls.get_token, 1, "one token for five completions: {calls:?}");
    assert_eq!(calls.payment, 5, "one read per completion: {calls:?}");
    assert_eq!(calls.cancel, 0, "{calls:?}");
    gateway.shut_down().await;
}

#[tokio::test]
async fn an_expired_portone_token_is_replaced() {
    // Tokens that live 3 s.
    let own = start_own_fake(Some(3)).await;
    let gateway = own_gateway(&own.fake.base).await;
    let first = krw_order(&gateway.api, 1).await;
    let imp_uid = own.fake.paid_payment_for(&first).await;
    let reply = complete(&gateway.api, &first, &imp_uid).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let after_first = own.fake.calls().await;
    assert!(after_first.get_token >= 1, "{after_first:?}");

    tokio::time::sleep(Duration::from_millis(4500)).await;
    let second = krw_order(&gateway.api, 1).await;
    let imp_uid = own.fake.paid_payment_for(&second).await;
    let reply = complete(&gateway.api, &second, &imp_uid).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "paid", "{}", reply.body);
    let calls = own.fake.calls().await.since(&after_first);
    assert!(calls.get_token >= 1, "a new token once the old one expired: {calls:?}");
    gateway.shut_down().await;
}

#[tokio::test]
async fn portone_failing_past_our_retries_is_a_quick_503_and_the_next_call_succeeds() {
    let own = start_own_fake(None).await;
    let gateway = own_gateway(&own.fake.base).await;
    let api = &gateway.api;

    // A token in hand first.
    let warm = krw_order(api, 1).await;
    let imp_uid = own.fake.paid_payment_for(&warm).await;
    assert_eq!(complete(api, &warm, &imp_uid).await.status, StatusCode::OK);

    // One 5xx is retried away.
    let order = krw_order(api, 1).await;
    let imp_uid = own.fake.paid_payment_for(&order).await;
    own.fake.fail_next(503, 1).await;
    let reply = complete(api, &order, &imp_uid).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "paid", "{}", reply.body);

    // Three in a row: our call and both of our retries fail.
    let order = krw_order(api, 1).await;
    let imp_uid = own.fake.paid_payment_for(&order).await;
    own.fake.fail_next(503, 3).await;
    let before = own.fake.calls().await;
    let started = Instant::now();
    let reply = complete(api, &order, &imp_uid).await;
    let elapsed = started.elapsed();
    assert_error(reply.status, &reply.body, 503, "service_unavailable");
    assert!(retry_after(&reply) >= 1, "{:?}", reply.headers);
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    let spent = own.fake.calls().await.since(&before);
    assert!((1..=3).contains(&spent.total()), "at most two retries of our own: {spent:?}");
    assert_eq!(spent.cancel, 0, "{spent:?}");
    let unchanged = get_order(api, &order).await;
    assert_eq!(unchanged["status"], "pending", "{unchanged}");
    assert_eq!(unchanged["receipt"]["status"], "none", "{unchanged}");
    let at_portone = own.fake.payment(&imp_uid).await;
    assert_eq!(at_portone["status"], "paid", "{at_portone}");
    assert_eq!(at_portone["cancel_history"], json!([]), "{at_portone}");
    assert!(audit_of(&imp_uid).await.is_none(), "nothing recorded of a payment never read");

    // PortOne is back: the same call succeeds.
    let reply = complete(api, &order, &imp_uid).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "paid", "{}", reply.body);
    assert_audited(&imp_uid, &json!({"order_id": order.id, "outcome": "paid"})).await;
    gateway.shut_down().await;
}

#[tokio::test]
async fn portone_unreachable_is_a_quick_503_that_changes_nothing() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let gateway = own_gateway(&format!("http://{closed}")).await;
    let order = krw_order(&gateway.api, 1).await;
    let started = Instant::now();
    let reply = complete(&gateway.api, &order, "imp_123456789012").await;
    let elapsed = started.elapsed();
    assert_error(reply.status, &reply.body, 503, "service_unavailable");
    assert!(retry_after(&reply) >= 1, "{:?}", reply.headers);
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    let unchanged = get_order(&gateway.api, &order).await;
    assert_eq!(unchanged["status"], "pending", "{unchanged}");
    gateway.shut_down().await;
}

// ---------------------------------------------------------------------------
// Helpers

/// A gateway of the test's own, serving the template with the stack's
/// settings but PortOne at `portone_base`; one instance per function, so
/// one PortOne client (and one cached token).
struct OwnGateway {
    api: Api,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Result<(), GatewayError>>,
}

async fn own_gateway(portone_base: &str) -> OwnGateway {
    let bin_dir = std::env::var("GATEWAY_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debug")));
    let mut config = GatewayConfig::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml"), bin_dir);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.max_instances_per_function = 1;
    config.extra_env = local_settings();
    config.extra_env.push(("PORTONE_API_BASE".into(), portone_base.to_owned()));
    let gateway = Gateway::bind(config).await.expect("a gateway of the test's own");
    let api = Api { base: format!("http://{}", gateway.local_addr()), http: reqwest::Client::new() };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(gateway.run(async move {
        let _ = stopped.await;
    }));
    OwnGateway { api, stop, serving }
}

impl OwnGateway {
    async fn shut_down(self) {
        let _ = self.stop.send(());
        self.serving.await.expect("the gateway's task").expect("the gateway stops cleanly");
    }
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).and_then(|value| value.to_str().ok())
}

/// `Retry-After`, in seconds.
fn retry_after(reply: &Reply) -> u64 {
    header(reply, "retry-after")
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After in seconds: {:?}", reply.headers))
}

/// A JSON object's keys, sorted.
fn keys(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    keys.sort_unstable();
    keys
}

/// Staff refund a PortOne payment in parts: PortOne's partial cancel with
/// the checksum of what is left, and the order's `refunded_amount` follows
/// PortOne's `cancel_amount` when PortOne's webhook says so; `refunded` at
/// the whole amount. A replayed webhook counts nothing twice.
#[tokio::test]
async fn staff_refunds_of_a_portone_payment_follow_portones_cancel_amount() {
    let api = Api::new();
    let portone = PortOneFake::shared();
    let order = krw_order(&api, 2).await;
    let amount = amount_of(&order);
    let imp_uid = portone.paid_payment_for(&order).await;
    assert_eq!(complete(&api, &order, &imp_uid).await.status, StatusCode::OK);

    let (username, password, _) = api.register_user().await;
    e2e_tests::commerce::run_tool("staff", &[&username]).await;
    let staff = api.sign_in(&username, &password).await["access"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/orders/{}/refund", order.id);
    let part = amount / 4;
    let asked = call(&api, Method::POST, &path, Some(&staff), None, Some(&json!({"amount": part}))).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let at_portone = portone.payment(&imp_uid).await;
    assert_eq!((&at_portone["status"], &at_portone["cancel_amount"]), (&json!("paid"), &json!(part)), "{at_portone}");

    // PortOne tells us (twice: a replay changes nothing more).
    for _ in 0..2 {
        assert_eq!(portone.notify(&imp_uid, &webhook_url(&api)).await, 200);
    }
    let now = get_order(&api, &order).await;
    assert_eq!((&now["status"], &now["refunded_amount"]), (&json!("paid"), &json!(part)), "{now}");

    let rest = call(&api, Method::POST, &path, Some(&staff), None, Some(&json!({}))).await;
    assert_eq!((rest.status, &rest.body["amount"]), (StatusCode::ACCEPTED, &json!(amount - part)), "{}", rest.body);
    assert_eq!(portone.payment(&imp_uid).await["status"], "cancelled");
    assert_eq!(portone.notify(&imp_uid, &webhook_url(&api)).await, 200);
    let done = get_order(&api, &order).await;
    assert_eq!((&done["status"], &done["refunded_amount"]), (&json!("refunded"), &json!(amount)), "{done}");
}
