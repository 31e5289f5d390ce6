//! One purchase, followed through the logs: the correlation id made with
//! the order is on the lines of every function that works for it (orders,
//! payment intent, webhook, mailer), and no line of the whole stack log
//! carries the customer's email, the card number, the order token or a
//! Stripe secret.

use std::time::Duration;

use e2e_tests::commerce::{LocalStripe, guest_order, log_lines, payment_intent, wait_for_order};
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
    for function in ["orders", "create_payment_intent", "stripe_webhook", "receipt_mailer"] {
        assert!(targets.iter().any(|t| t.starts_with(function)), "{function} logged nothing with it: {targets:?}");
    }
    let closing_lines = log_lines(&[&correlation_id, "completed"]);
    let paths: Vec<&str> = closing_lines.iter().filter_map(|l| l["path"].as_str()).collect();
    assert!(paths.contains(&"/api/v1/orders"), "{paths:?}");
    assert!(paths.contains(&"/api/v1/payments/intent"), "{paths:?}");
    assert!(paths.contains(&"/api/v1/webhooks/stripe"), "{paths:?}");
    assert!(
        closing_lines.iter().any(|l| l["target"].as_str().is_some_and(|t| t.starts_with("receipt_mailer"))),
        "the mailer's event line carries it too: {closing_lines:?}"
    );

    // The mailer says who it wrote to, masked.
    let first = order.email.chars().next().unwrap();
    let domain = order.email.rsplit_once('@').unwrap().1;
    let sent = log_lines(&["\"receipt sent\"", &correlation_id]);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["to"], format!("{first}***@{domain}"));

    // Nothing secret anywhere in the stack's log.
    let log = std::fs::read_to_string(setting("STACK_LOG").expect("make test sets STACK_LOG")).unwrap();
    for (what, secret) in [
        ("email", order.email.as_str()),
        ("order token", order.token.as_str()),
        ("card number", "4242424242424242"),
        ("Stripe secret key", &required_setting("STRIPE_SECRET_KEY")),
        ("webhook secret", &required_setting("STRIPE_WEBHOOK_SECRET")),
    ] {
        assert!(!log.contains(secret), "the {what} is in the logs");
    }
}
