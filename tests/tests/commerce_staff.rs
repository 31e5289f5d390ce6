//! Staff: made (and unmade) only by the operations command, they keep the
//! catalog and see every order; everyone else gets 403 (401 when
//! anonymous), and a token that still claims staff after `staff off` gets
//! 403 too.

use e2e_tests::Api;
use e2e_tests::commerce::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A member made staff by `make staff`'s command, signed in afterwards.
async fn staff_member(api: &Api) -> (Member, String) {
    let (username, password, user) = api.register_user().await;
    let said = run_tool("staff", &[&username]).await;
    assert!(said.contains("is staff"), "{said}");
    let access = api.sign_in(&username, &password).await["access"].as_str().unwrap().to_owned();
    let me = call(api, Method::GET, "/api/v1/auth/me", Some(&access), None, None).await;
    assert_eq!(me.body["is_staff"], true, "{}", me.body);
    let member = Member { id: user["id"].as_str().unwrap().to_owned(), username, access };
    (member, password)
}

#[tokio::test]
async fn staff_keep_the_catalog_and_nobody_else_may() {
    let api = Api::new();
    let (staff, _) = staff_member(&api).await;
    let customer = member(&api).await;
    let product = json!({"name": "Poster", "description": "A2, two colours.", "unit_amount": 1500, "currency": "USD", "stock": 2});
    let anonymous = call(&api, Method::POST, "/api/v1/products", None, None, Some(&product)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let refused = call(&api, Method::POST, "/api/v1/products", Some(&customer.access), None, Some(&product)).await;
    assert_eq!((refused.status, &refused.body["code"]), (StatusCode::FORBIDDEN, &json!("permission_denied")));
    let invalid = call(&api, Method::POST, "/api/v1/products", Some(&customer.access), None, Some(&json!({}))).await;
    assert_eq!(invalid.status, StatusCode::FORBIDDEN, "permission is decided before the input is read");

    let created = call(&api, Method::POST, "/api/v1/products", Some(&staff.access), None, Some(&product)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        (&created.body["currency"], &created.body["stock"], &created.body["active"]),
        (&json!("usd"), &json!(2), &json!(true))
    );
    let id = created.body["id"].as_str().unwrap().to_owned();
    let bad =
        call(&api, Method::POST, "/api/v1/products", Some(&staff.access), None, Some(&json!({"name": "x"}))).await;
    assert_eq!((bad.status, &bad.body["code"]), (StatusCode::BAD_REQUEST, &json!("validation_error")));

    // An order at the old price keeps it when staff change the price.
    let order = guest_order_of(&api, &[(&json!(id), 1)]).await;
    assert_eq!(order.body["amount"], 1500);
    let path = format!("/api/v1/products/{id}");
    let repriced =
        call(&api, Method::PATCH, &path, Some(&staff.access), None, Some(&json!({"unit_amount": 1800}))).await;
    assert_eq!((repriced.status, &repriced.body["unit_amount"]), (StatusCode::OK, &json!(1800)), "{}", repriced.body);
    assert_eq!(repriced.body["stock"], 1, "the order holds one");
    assert_eq!(get_order(&api, &order).await["amount"], 1500);
    let by_customer =
        call(&api, Method::PATCH, &path, Some(&customer.access), None, Some(&json!({"unit_amount": 1}))).await;
    assert_eq!(by_customer.status, StatusCode::FORBIDDEN);
    let unlimited = call(&api, Method::PATCH, &path, Some(&staff.access), None, Some(&json!({"stock": null}))).await;
    assert_eq!(unlimited.body["stock"], json!(null));
    let many = guest_order_of(&api, &[(&json!(id), 50)]).await;
    assert_eq!(many.body["amount"], 50 * 1800, "no limit now");
    let missing = call(
        &api,
        Method::PATCH,
        "/api/v1/products/01JD4Z6Q3V8M2N5P7R9S1T3W5X",
        Some(&staff.access),
        None,
        Some(&json!({"active": false})),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn staff_see_every_order_filtered_and_others_only_their_own() {
    let api = Api::new();
    let (staff, _) = staff_member(&api).await;
    let customer = member(&api).await;
    let guest = guest_order(&api, 1).await;
    let other = guest_order(&api, 2).await;
    let canceled =
        call(&api, Method::POST, &format!("/api/v1/orders/{}/cancel", other.id), None, Some(&other.token), None).await;
    assert_eq!(canceled.status, StatusCode::OK);

    let read = call(&api, Method::GET, &format!("/api/v1/orders/{}", guest.id), Some(&staff.access), None, None).await;
    assert_eq!((read.status, &read.body["id"]), (StatusCode::OK, &json!(guest.id)));
    let not_theirs =
        call(&api, Method::GET, &format!("/api/v1/orders/{}", guest.id), Some(&customer.access), None, None).await;
    assert_eq!(not_theirs.status, StatusCode::NOT_FOUND);

    let by_email = format!("/api/v1/orders?email={}", guest.email);
    let listed = call(&api, Method::GET, &by_email, Some(&staff.access), None, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let ids: Vec<&str> = listed.body["results"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [guest.id.as_str()]);
    let by_status = format!("/api/v1/orders?status=canceled&email={}", other.email);
    let listed = call(&api, Method::GET, &by_status, Some(&staff.access), None, None).await;
    assert_eq!(listed.body["results"][0]["id"], json!(other.id));
    let none = format!("/api/v1/orders?status=paid&email={}", other.email);
    assert_eq!(call(&api, Method::GET, &none, Some(&staff.access), None, None).await.body["results"], json!([]));
    let bad = call(&api, Method::GET, "/api/v1/orders?status=lost", Some(&staff.access), None, None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let refused = call(&api, Method::GET, &by_email, Some(&customer.access), None, None).await;
    assert_eq!((refused.status, &refused.body["code"]), (StatusCode::FORBIDDEN, &json!("permission_denied")));
    let own = call(&api, Method::GET, "/api/v1/orders", Some(&customer.access), None, None).await;
    assert_eq!((own.status, &own.body["results"]), (StatusCode::OK, &json!([])));
    assert_eq!(call(&api, Method::GET, "/api/v1/orders", None, None, None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn staff_taken_away_takes_effect_at_once_whatever_the_token_claims() {
    let api = Api::new();
    let (staff, _) = staff_member(&api).await;
    let said = run_tool("staff", &[&staff.username, "off"]).await;
    assert!(said.contains("is no longer staff"), "{said}");
    let listed = call(&api, Method::GET, "/api/v1/orders?status=paid", Some(&staff.access), None, None).await;
    assert_eq!(listed.status, StatusCode::FORBIDDEN, "the old token still claims staff");
    let product = json!({"name": "Sticker", "unit_amount": 100, "currency": "usd"});
    let refused = call(&api, Method::POST, "/api/v1/products", Some(&staff.access), None, Some(&product)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn staff_refund_a_paid_order_in_parts_and_stripe_s_totals_move_it() {
    let api = Api::new();
    let (staff, _) = staff_member(&api).await;
    let customer = member(&api).await;
    let order = guest_order(&api, 2).await;
    let amount = order.body["amount"].as_i64().unwrap();
    let path = format!("/api/v1/orders/{}/refund", order.id);
    let unpaid = call(&api, Method::POST, &path, Some(&staff.access), None, Some(&json!({}))).await;
    assert_eq!((unpaid.status, &unpaid.body["code"]), (StatusCode::CONFLICT, &json!("conflict")));

    let intent = payment_intent(&api, &order).await;
    let (status, paid) = LocalStripe::new().pay_with_card(&intent, "4242424242424242").await;
    assert_eq!((status, &paid["status"]), (StatusCode::OK, &json!("succeeded")), "{paid}");
    wait_for_order(&api, &order, std::time::Duration::from_secs(30), |o| o["status"] == "paid").await;

    let by_customer =
        call(&api, Method::POST, &path, Some(&customer.access), None, Some(&json!({"amount": 100}))).await;
    assert_eq!(by_customer.status, StatusCode::FORBIDDEN);
    let too_much =
        call(&api, Method::POST, &path, Some(&staff.access), None, Some(&json!({"amount": amount + 1}))).await;
    assert_eq!((too_much.status, &too_much.body["code"]), (StatusCode::BAD_REQUEST, &json!("validation_error")));
    assert!(too_much.body["errors"]["amount"].is_array());

    let part = call(&api, Method::POST, &path, Some(&staff.access), None, Some(&json!({"amount": 500}))).await;
    assert_eq!(part.status, StatusCode::ACCEPTED, "{}", part.body);
    assert_eq!(part.body, json!({"order_id": order.id, "amount": 500, "status": "requested"}));
    let (_, refunds) = LocalStripe::new().get(&format!("/v1/refunds?payment_intent={intent}")).await;
    let asked: Vec<i64> = refunds["data"].as_array().unwrap().iter().map(|r| r["amount"].as_i64().unwrap()).collect();
    assert_eq!(asked, [500], "asked of Stripe once: {refunds}");
    // Requested, not confirmed: the order moves when Stripe says so.
    assert_eq!(get_order(&api, &order).await["refunded_amount"], 0);
    let confirmed = charge_refunded_event(&event_id(), &intent, amount, 500, "usd");
    assert_eq!(deliver(&api, &confirmed).await.status, StatusCode::OK);
    let now = get_order(&api, &order).await;
    assert_eq!((&now["status"], &now["refunded_amount"]), (&json!("paid"), &json!(500)));

    let rest = call(&api, Method::POST, &path, Some(&staff.access), None, Some(&json!({}))).await;
    assert_eq!((rest.status, &rest.body["amount"]), (StatusCode::ACCEPTED, &json!(amount - 500)), "{}", rest.body);
    let confirmed = charge_refunded_event(&event_id(), &intent, amount, amount, "usd");
    assert_eq!(deliver(&api, &confirmed).await.status, StatusCode::OK);
    let done = get_order(&api, &order).await;
    assert_eq!((&done["status"], &done["refunded_amount"]), (&json!("refunded"), &json!(amount)));
    let again = call(&api, Method::POST, &path, Some(&staff.access), None, Some(&json!({}))).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "nothing left to refund");

    // One notice per confirmed refund, each with what it gave back and the
    // total so far; Stripe delivering the last event again sends none.
    assert_eq!(deliver(&api, &confirmed).await.status, StatusCode::OK);
    let subject = format!("Your refund for order {}", order.id);
    let notices = eventually(std::time::Duration::from_secs(30), "two refund notices", || {
        let (email, subject) = (order.email.clone(), subject.clone());
        async move {
            let notices: Vec<_> = emails_to(&email).await.into_iter().filter(|m| m["subject"] == subject).collect();
            (notices.len() >= 2).then_some(notices)
        }
    })
    .await;
    let money = |minor: i64| format!("{}.{:02} USD", minor / 100, minor % 100);
    let bodies: Vec<&str> = notices.iter().map(|m| m["body"].as_str().unwrap()).collect();
    // (moto keeps the HTML part.)
    let first = bodies.iter().find(|b| !b.contains(&format!("Refunded so far: {}", money(amount))));
    let last = bodies.iter().find(|b| b.contains(&format!("Refunded so far: {} of {}", money(amount), money(amount))));
    assert!(first.is_some_and(|b| b.contains(&money(500))), "{bodies:?}");
    assert!(last.is_some_and(|b| b.contains(&money(amount - 500))), "{bodies:?}");
    eventually(std::time::Duration::from_secs(30), "the replayed notice's request finished", || {
        let id = order.id.clone();
        async move {
            let lines: Vec<_> = events_completed("mailer", &id)
                .into_iter()
                .filter(|l| l["kind"] == "refund" && l["status"] == "already_sent")
                .collect();
            (!lines.is_empty()).then_some(())
        }
    })
    .await;
    let notices = emails_to(&order.email).await.into_iter().filter(|m| m["subject"] == subject).count();
    assert_eq!(notices, 2, "one notice per confirmed refund");
}
