//! One purchase, followed through the logs: the correlation id made with
//! the order is on the lines of every function that works for it (orders,
//! payment intent, webhook, mailer), and no line of the whole stack log
//! carries the customer's email, the card number, the order token or a
//! Stripe secret.

use std::time::Duration;

use e2e_tests::commerce::{
    LocalStripe, deliver_raw, event_id, guest_order, log_lines, now, payment_intent, payment_intent_event,
    stripe_signature, wait_for_order, webhook_secret,
};
use e2e_tests::{Api, required_setting, setting};

#[tokio::test]
async fn one_correlation_id_follows_an_order_from_the_api_to_its_email() {
    let api = Api::new();
    let order = guest_order(&api, 1).await;
    let intent = payment_intent(&api, &order).await;
    let (status, confirmed) = LocalStripe::new().pay_with_card(&intent, "4242424242424242").await;
    assert_eq!(status, 200, "{confirmed}");
    wait_for_order(&api, &order, Duration::from_secs(20), |o| o["receipt"]["status"] == "sent").await;

    // The correlation id, as the orders function logged it at creation.
    let placed = log_lines(&["\"order placed\"", &order.id]);
    let correlation_id = placed
        .first()
        .and_then(|line| line["correlation_id"].as_str())
        .unwrap_or_else(|| panic!("no correlation id on the creation line: {placed:?}"))
        .to_owned();
    assert_ne!(correlation_id, order.id, "a correlation id of its own");

    let targets: std::collections::BTreeSet<String> = log_lines(&[&correlation_id])
        .iter()
        .filter(|line| line["correlation_id"] == correlation_id.as_str())
        .filter_map(|line| line["target"].as_str().map(str::to_owned))
        .collect();
    // Placing the order is the order service's line (the orders function
    // calls it); each other step is its function's own.
    for step in ["services::orders", "create_payment_intent", "stripe_webhook", "mailer"] {
        assert!(targets.iter().any(|t| t.starts_with(step)), "{step} logged nothing with it: {targets:?}");
    }
    let closing_lines = log_lines(&[&correlation_id, "completed"]);
    let paths: Vec<&str> = closing_lines.iter().filter_map(|l| l["path"].as_str()).collect();
    assert!(paths.contains(&"/api/v1/orders"), "{paths:?}");
    assert!(paths.contains(&"/api/v1/payments/intent"), "{paths:?}");
    assert!(paths.contains(&"/api/v1/webhooks/stripe"), "{paths:?}");
    assert!(
        closing_lines.iter().any(|l| l["target"].as_str().is_some_and(|t| t.starts_with("mailer"))),
        "the mailer's event line carries it too: {closing_lines:?}"
    );

    // The mailer says who it wrote to, masked.
    let first = order.email.chars().next().unwrap();
    let domain = order.email.rsplit_once('@').unwrap().1;
    let sent = log_lines(&["\"receipt sent\"", &correlation_id]);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["to"], format!("{first}***@{domain}"));

    // A delivery signed here, so its signature is known: it must not be kept
    // in the log either (nor the event's client secret or receipt email).
    let event = payment_intent_event("payment_intent.succeeded", &event_id(), &intent, &order.id, 1, "usd");
    let body = serde_json::to_string(&event).unwrap();
    let signature = stripe_signature(&body, &webhook_secret(), now());
    let reply = deliver_raw(&api, &body, Some(&signature)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let v1 = signature.rsplit("v1=").next().unwrap().to_owned();
    let client_secret = format!("{intent}_secret_do_not_keep");

    // Nothing secret anywhere in the stack's log.
    let log = std::fs::read_to_string(setting("STACK_LOG").expect("make test sets STACK_LOG")).unwrap();
    for (what, secret) in [
        ("email", order.email.as_str()),
        ("order token", order.token.as_str()),
        ("card number", "4242424242424242"),
        ("Stripe secret key", &required_setting("STRIPE_SECRET_KEY")),
        ("webhook secret", &required_setting("STRIPE_WEBHOOK_SECRET")),
        ("Stripe-Signature", &v1),
        ("PaymentIntent client secret", &client_secret),
        ("the event's receipt email", "someone@example.com"),
    ] {
        assert!(!log.contains(secret), "the {what} is in the logs");
    }
}
