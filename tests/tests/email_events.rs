//! SES bounces and complaints end to end: notifications published to the
//! email-events SNS topic (as SES's configuration set would publish them;
//! moto publishes none itself) or put straight on the email-events queue
//! (as SNS would redeliver them), read by the `email-events` function
//! through the gateway's SQS poller, and the suppression list that comes
//! of it, as DynamoDB, the ops tools, the mailer and moto's mailbox show it.
//!
//! Covered: a permanent bounce and a complaint suppress (the address
//! normalised from a mixed-case, display-named recipient), a transient
//! bounce is only counted, the same SNS notification delivered twice counts
//! once, garbage goes to the dead-letter queue with its reason and holds no
//! later event up, a paid order's receipt goes to a clean address and never
//! to a suppressed one, `unsuppress` takes an address off the list (and says
//! so when there is nothing to do), and no log line carries an address.
//!
//! Every test uses addresses of its own, so the tests run side by side with
//! each other and with the other suites.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use commerce_ops::ses_events::{Kind, notification};
use e2e_tests::commerce::{
    GuestOrder, aws_config, deliver, emails_to, event_id, events_completed, eventually, guest_order, log_lines,
    payment_intent, payment_intent_event, run_tool, unique_email, wait_for_mailer_to_drain, wait_for_order,
};
use e2e_tests::{Api, dynamodb, required_setting, setting};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The gateway long-polls the queue; a notification is handled within a
/// poll or two.
const HANDLED_WITHIN: Duration = Duration::from_secs(20);
/// A receipt goes through the webhook, the receipt queue and the mailer.
const MAILED_WITHIN: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_permanent_bounce_puts_the_normalised_address_on_the_list() {
    let address = unique_email();
    let notification_id = publish(Kind::PermanentBounce, &display_form(&address)).await;

    let item = wait_for_address(&address, "the bounced address on the list", is_suppressed).await;
    assert_eq!(text(&item, "suppression_reason"), Some("bounce"), "{item:?}");
    assert_eq!(text(&item, "address"), Some(address.as_str()), "stored normalised: {item:?}");
    assert_eq!(count(&item, "permanent_bounces"), 1, "{item:?}");
    assert_eq!(count(&item, "complaints"), 0, "{item:?}");

    let lines = wait_for_email_event("notification_id", &notification_id, "the bounce's event completed line").await;
    assert_eq!(lines.len(), 1, "handled once: {lines:?}");
    let line = &lines[0];
    assert_eq!(line["status"], "suppressed", "{line}");
    assert_eq!(line["kind"], "permanent_bounce", "{line}");
    assert_eq!(line["aws_calls"]["dynamodb"], 1, "one transaction: the marker and the address: {line}");

    let listing = run_tool("suppressions", &[]).await;
    assert_eq!(listed_reason(&listing, &address).as_deref(), Some("bounce"), "{listing}");
}

#[tokio::test]
async fn a_complaint_puts_the_address_on_the_list() {
    let address = unique_email();
    let notification_id = publish(Kind::Complaint, &address).await;

    let item = wait_for_address(&address, "the complaining address on the list", is_suppressed).await;
    assert_eq!(text(&item, "suppression_reason"), Some("complaint"), "{item:?}");
    assert_eq!(count(&item, "complaints"), 1, "{item:?}");
    assert_eq!(count(&item, "permanent_bounces"), 0, "{item:?}");

    let lines = wait_for_email_event("notification_id", &notification_id, "the complaint's event completed line").await;
    assert_eq!(lines.len(), 1, "handled once: {lines:?}");
    assert_eq!(lines[0]["status"], "suppressed", "{lines:?}");
    assert_eq!(lines[0]["kind"], "complaint", "{lines:?}");

    let listing = run_tool("suppressions", &[]).await;
    assert_eq!(listed_reason(&listing, &address).as_deref(), Some("complaint"), "{listing}");
}

#[tokio::test]
async fn a_transient_bounce_is_counted_and_suppresses_nothing() {
    let address = unique_email();
    let notification_id = publish(Kind::TransientBounce, &address).await;

    // The line is written after the transaction: the item is there by then.
    let lines = wait_for_email_event("notification_id", &notification_id, "the transient bounce's line").await;
    assert_eq!(lines.len(), 1, "handled once: {lines:?}");
    assert_eq!(lines[0]["status"], "counted", "{lines:?}");
    assert_eq!(lines[0]["kind"], "transient_bounce", "{lines:?}");

    let item = address_item(&address).await.expect("the address is known after its bounce");
    assert_eq!(count(&item, "transient_bounces"), 1, "{item:?}");
    assert!(!is_suppressed(&item), "a soft bounce suppresses nothing: {item:?}");
    assert_eq!(text(&item, "suppression_reason"), None, "{item:?}");

    let listing = run_tool("suppressions", &[]).await;
    assert_eq!(listed_reason(&listing, &address), None, "{listing}");
}

#[tokio::test]
async fn the_same_notification_delivered_twice_counts_once() {
    let address = unique_email();
    let id = notification_id();
    let envelope =
        sns_envelope(&id, &notification(Kind::TransientBounce, &[address.as_str()], &mail_message_id()).to_string());

    // SNS delivers at least once: the same envelope, twice.
    let first = send_to_email_events_queue(&envelope).await;
    let second = send_to_email_events_queue(&envelope).await;
    assert_ne!(first, second, "two queue messages");

    let lines = eventually(HANDLED_WITHIN, "both deliveries handled", || {
        let id = id.clone();
        async move {
            let lines = email_event_lines("notification_id", &id);
            let done = lines.iter().filter(|l| l["status"] == "counted" || l["status"] == "duplicate").count();
            (done >= 2).then_some(lines)
        }
    })
    .await;
    let statuses = |status: &str| lines.iter().filter(|l| l["status"] == status).count();
    assert_eq!(statuses("counted"), 1, "{lines:?}");
    assert_eq!(statuses("duplicate"), 1, "{lines:?}");
    let duplicate = lines.iter().find(|l| l["status"] == "duplicate").expect("the duplicate's line");
    assert_eq!(duplicate["kind"], "transient_bounce", "{duplicate}");

    let item = address_item(&address).await.expect("the address is known after its bounce");
    assert_eq!(count(&item, "transient_bounces"), 1, "counted once: {item:?}");
    assert!(!is_suppressed(&item), "{item:?}");

    let marker = item_at(&format!("EMAIL_EVENT#{id}"), "EMAIL_EVENT").await.expect("the notification is remembered");
    assert_eq!(text(&marker, "notification_id"), Some(id.as_str()), "{marker:?}");
    assert_eq!(text(&marker, "event"), Some("transient_bounces"), "{marker:?}");
}

#[tokio::test]
async fn garbage_goes_to_the_dead_letter_queue_and_holds_up_no_later_event() {
    let not_json = format!("not json at all {}", ulid::Ulid::new());
    let untyped = json!({"hello": "world", "mail": {"messageId": mail_message_id()}});
    let no_type = sns_envelope(&notification_id(), &untyped.to_string());
    let not_json_message = send_to_email_events_queue(&not_json).await;
    let no_type_message = send_to_email_events_queue(&no_type).await;

    // A real notification after the garbage still takes effect.
    let address = unique_email();
    publish(Kind::PermanentBounce, &address).await;
    let item = wait_for_address(&address, "the address bounced after the garbage", is_suppressed).await;
    assert_eq!(text(&item, "suppression_reason"), Some("bounce"), "{item:?}");

    for message_id in [&not_json_message, &no_type_message] {
        let lines = wait_for_email_event("message_id", message_id, "the garbage's event completed line").await;
        assert_eq!(lines.len(), 1, "handled once, never retried: {lines:?}");
        let line = &lines[0];
        assert_eq!(line["status"], "dead_lettered", "{line}");
        assert_eq!(line["aws_calls"]["sqs"], 1, "one SendMessage to the dead-letter queue: {line}");
        assert!(line["notification_id"].is_null(), "garbage names no notification: {line}");
    }

    let sqs = aws_sdk_sqs::Client::new(&aws_config().await);
    let dead = take_dead_letters(&sqs, &[not_json.as_str(), no_type.as_str()]).await;
    let reasons: Vec<String> = dead
        .iter()
        .map(|message| {
            let attributes = message.message_attributes.as_ref();
            let reason = attributes.and_then(|a| a.get("reason")).and_then(|v| v.string_value.clone());
            reason.unwrap_or_else(|| panic!("a dead letter without its reason: {message:?}"))
        })
        .collect();
    assert!(reasons.iter().all(|r| !r.is_empty()), "{reasons:?}");
    assert!(reasons[0].contains("JSON"), "{reasons:?}");
    assert!(reasons[1].contains("eventType"), "{reasons:?}");
}

#[tokio::test]
async fn a_receipt_goes_to_a_clean_address_and_never_to_a_suppressed_one() {
    let api = Api::new();

    // An address nobody reported: paid, mailed once.
    let clean = guest_order(&api, 1).await;
    pay(&api, &clean).await;
    let mailed = wait_for_order(&api, &clean, MAILED_WITHIN, |o| o["receipt"]["status"] == "sent").await;
    assert_eq!(mailed["status"], "paid", "{mailed}");
    assert!(mailed["receipt"]["sent_at"].is_string(), "{mailed}");
    wait_for_mailer_to_drain(&clean.id, MAILED_WITHIN).await;
    assert_eq!(emails_to(&clean.email).await.len(), 1);

    // An address that bounced before its order was paid: nothing is sent.
    let bounced = guest_order(&api, 1).await;
    publish(Kind::PermanentBounce, &bounced.email).await;
    wait_for_address(&bounced.email, "the buyer's address on the list", is_suppressed).await;
    pay(&api, &bounced).await;
    let held = wait_for_order(&api, &bounced, MAILED_WITHIN, |o| o["receipt"]["status"] == "suppressed").await;
    assert_eq!(held["status"], "paid", "a suppressed address never touches the payment: {held}");
    assert!(held["receipt"]["sent_at"].is_null(), "{held}");

    let line = eventually(MAILED_WITHIN, "the mailer's line for the suppressed receipt", || {
        let id = bounced.id.clone();
        async move { events_completed("mailer", &id).into_iter().find(|l| l["status"] == "suppressed") }
    })
    .await;
    assert_eq!(line["aws_calls"]["ses"].as_u64().unwrap_or(0), 0, "no SES call for a suppressed address: {line}");
    assert!(!line.to_string().contains(&bounced.email), "no customer address in the logs: {line}");
    let mailer = events_completed("mailer", &bounced.id);
    assert!(mailer.iter().all(|l| l["status"] != "sent"), "{mailer:?}");
    assert!(emails_to(&bounced.email).await.is_empty(), "no email to a suppressed address");
}

#[tokio::test]
async fn unsuppress_takes_an_address_off_the_list_once() {
    let address = unique_email();
    publish(Kind::PermanentBounce, &address).await;
    wait_for_address(&address, "the bounced address on the list", is_suppressed).await;

    let removed = run_tool("unsuppress", &[address.as_str()]).await;
    assert!(removed.contains(&format!("{address}: removed from the suppression list")), "{removed}");
    let item = address_item(&address).await.expect("the address stays known");
    assert!(!is_suppressed(&item), "{item:?}");
    assert_eq!(text(&item, "suppression_reason"), None, "{item:?}");
    assert_eq!(count(&item, "permanent_bounces"), 1, "its counts stay: {item:?}");
    let listing = run_tool("suppressions", &[]).await;
    assert_eq!(listed_reason(&listing, &address), None, "{listing}");

    // Again (spelt differently): nothing to do, and it says so (run_tool
    // asserts the exit status is 0).
    let shouted = address.to_uppercase();
    let again = run_tool("unsuppress", &[shouted.as_str()]).await;
    assert!(again.contains(&format!("{address}: not on the suppression list")), "{again}");
}

#[tokio::test]
async fn no_log_line_carries_a_suppressed_address() {
    let address = unique_email();
    let notification_id = publish(Kind::PermanentBounce, &display_form(&address)).await;
    wait_for_address(&address, "the bounced address on the list", is_suppressed).await;
    let completed =
        wait_for_email_event("notification_id", &notification_id, "the bounce's event completed line").await;
    assert_eq!(completed[0]["status"], "suppressed", "{completed:?}");

    // Every line about the notification: the address masked, never whole.
    let about = log_lines(&[notification_id.as_str()]);
    assert!(about.len() >= 2, "the suppression and the event completed lines: {about:?}");
    assert!(about.iter().any(|l| l.to_string().contains("***@")), "the address shows masked: {about:?}");

    // The whole log, JSON or not: its local part (unique to this test) is
    // nowhere, in any case.
    let local = address.split('@').next().expect("an address has a local part");
    let log = stack_log();
    let leaks: Vec<&str> = log.lines().filter(|line| line.to_lowercase().contains(local)).collect();
    assert!(leaks.is_empty(), "the log carries {address}: {leaks:#?}");
}

// ---------------------------------------------------------------------------
// Helpers

type Item = HashMap<String, AttributeValue>;

/// `Ann <BUYER-…@ExAmPlE.CoM>`: `address` as a mail client may name it,
/// which the service must normalise back to `address`.
fn display_form(address: &str) -> String {
    let (local, domain) = address.split_once('@').expect("an address");
    let domain: String =
        domain.chars().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c }).collect();
    format!("Ann <{}@{domain}>", local.to_uppercase())
}

/// A fresh id for an email SES sent.
fn mail_message_id() -> String {
    format!("e2e-mail-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// A fresh SNS `MessageId`.
fn notification_id() -> String {
    format!("e2e-sns-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Publishes a notification of `kind` about `recipient` to the email-events
/// topic, as SES would; SNS's `MessageId`, which names it in the logs.
async fn publish(kind: Kind, recipient: &str) -> String {
    let sns = aws_sdk_sns::Client::new(&aws_config().await);
    let message = notification(kind, &[recipient], &mail_message_id());
    let published = sns
        .publish()
        .topic_arn(required_setting("EMAIL_EVENTS_TOPIC_ARN"))
        .message(message.to_string())
        .send()
        .await
        .expect("SNS takes the notification");
    published.message_id.expect("SNS names the message")
}

/// `message` in SNS's envelope, as SNS delivers it to a queue subscribed
/// without raw delivery.
fn sns_envelope(message_id: &str, message: &str) -> String {
    let topic = required_setting("EMAIL_EVENTS_TOPIC_ARN");
    let region = required_setting("AWS_REGION");
    let timestamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("now formats as RFC 3339");
    json!({
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic,
        "Message": message,
        "Timestamp": timestamp,
        "SignatureVersion": "1",
        "Signature": "RTJFdGVzdHNpZ25hdHVyZW5vdGNoZWNrZWRsb2NhbGx5",
        "SigningCertURL": format!("https://sns.{region}.amazonaws.com/SimpleNotificationService-e2e.pem"),
        "UnsubscribeURL": format!(
            "https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic}:{}",
            ulid::Ulid::new()
        ),
    })
    .to_string()
}

async fn queue_url(sqs: &aws_sdk_sqs::Client, queue_name: &str) -> String {
    sqs.get_queue_url()
        .queue_name(queue_name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("queue {queue_name}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))
        .queue_url
        .expect("a queue URL")
}

/// Puts `body` on the email-events queue as SNS would; the SQS message id
/// (the `message_id` of the function's lines about it).
async fn send_to_email_events_queue(body: &str) -> String {
    let sqs = aws_sdk_sqs::Client::new(&aws_config().await);
    let url = queue_url(&sqs, &required_setting("EMAIL_EVENTS_QUEUE_NAME")).await;
    let sent = sqs.send_message().queue_url(url).message_body(body).send().await.expect("SendMessage");
    sent.message_id.expect("SQS names the message")
}

/// Finds the messages with these bodies in the email-events dead-letter
/// queue (in the order asked), deletes them and returns them. Other tests'
/// messages seen on the way are hidden while searching, so the search moves
/// on, then made visible again at once, untouched.
async fn take_dead_letters(sqs: &aws_sdk_sqs::Client, bodies: &[&str]) -> Vec<aws_sdk_sqs::types::Message> {
    let url = queue_url(sqs, &required_setting("EMAIL_EVENTS_DEAD_LETTER_QUEUE_NAME")).await;
    let started = Instant::now();
    let mut found: Vec<Option<aws_sdk_sqs::types::Message>> = vec![None; bodies.len()];
    let mut others = Vec::new();
    while found.iter().any(Option::is_none) && started.elapsed() < HANDLED_WITHIN {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .send()
            .await
            .expect("ReceiveMessage")
            .messages
            .unwrap_or_default();
        for message in received {
            let position = bodies.iter().position(|body| message.body.as_deref() == Some(*body));
            match position {
                Some(i) if found[i].is_none() => found[i] = Some(message),
                _ => others.push(message),
            }
        }
    }
    for message in &others {
        if let Some(handle) = &message.receipt_handle {
            let _ = sqs
                .change_message_visibility()
                .queue_url(&url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await;
        }
    }
    let found: Vec<_> = found
        .into_iter()
        .zip(bodies)
        .map(|(message, body)| message.unwrap_or_else(|| panic!("{body:?} is not in the dead-letter queue")))
        .collect();
    for message in &found {
        let handle = message.receipt_handle.as_deref().expect("a received message has a receipt handle");
        sqs.delete_message().queue_url(&url).receipt_handle(handle).send().await.expect("DeleteMessage");
    }
    found
}

async fn item_at(pk: &str, sk: &str) -> Option<Item> {
    let (db, table) = dynamodb().await;
    db.get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item
}

/// What the table knows of `address` (normalised).
async fn address_item(address: &str) -> Option<Item> {
    item_at(&format!("EMAIL_ADDRESS#{address}"), "EMAIL_ADDRESS").await
}

/// Reads `address`'s item until `done` holds.
async fn wait_for_address(address: &str, what: &str, done: impl Fn(&Item) -> bool) -> Item {
    let done = &done;
    eventually(HANDLED_WITHIN, what, move || async move { address_item(address).await.filter(|item| done(item)) }).await
}

fn is_suppressed(item: &Item) -> bool {
    item.get("suppressed").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false)
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn count(item: &Item, name: &str) -> i64 {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// The `email-events` function's `event completed` lines whose `field`
/// (`notification_id`, or `message_id`, the SQS message's) is `value`.
fn email_event_lines(field: &str, value: &str) -> Vec<Value> {
    log_lines(&["\"event completed\"", value])
        .into_iter()
        .filter(|line| line["target"] == "email_events" && line[field] == value)
        .collect()
}

/// Waits for at least one such line and returns them all.
async fn wait_for_email_event(field: &str, value: &str, what: &str) -> Vec<Value> {
    eventually(HANDLED_WITHIN, what, move || async move {
        let lines = email_event_lines(field, value);
        (!lines.is_empty()).then_some(lines)
    })
    .await
}

/// The reason `suppressions` lists `address` with, if it lists it.
fn listed_reason(listing: &str, address: &str) -> Option<String> {
    listing.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some(address)).then(|| words.next().unwrap_or_default().to_owned())
    })
}

/// Pays a guest order with a signed `payment_intent.succeeded`, as Stripe
/// would send it.
async fn pay(api: &Api, order: &GuestOrder) {
    let intent = payment_intent(api, order).await;
    let amount = order.body["amount"].as_i64().expect("the order's amount");
    let event = payment_intent_event("payment_intent.succeeded", &event_id(), &intent, &order.id, amount, "usd");
    let reply = deliver(api, &event).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// The stack's whole log (the gateway's output, where every function's
/// lines land), JSON lines or not.
fn stack_log() -> String {
    let path = setting("STACK_LOG").unwrap_or_else(|| {
        format!(
            "{}/../.stack/{}/gateway.log",
            env!("CARGO_MANIFEST_DIR"),
            setting("GATEWAY_PORT").unwrap_or_else(|| "3000".into())
        )
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("the stack's log {path}: {e}"))
}
