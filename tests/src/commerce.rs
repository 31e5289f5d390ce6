//! Helpers for the commerce suites: the seeded catalog, orders as a guest or
//! a member, Stripe events signed the way Stripe signs them, localstripe,
//! waiting for an order's state, and what moto's SES, SQS and the stack's
//! log hold.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{Api, local_settings, required_setting, setting, status_and_json};

/// The committed seed, as `make test`'s stack was seeded with it.
pub fn seed_products() -> Vec<Value> {
    serde_json::from_str(include_str!("../../infra/seed/products.json")).expect("the seed file is JSON")
}

/// The first seeded product of `currency` that is (or is not) active.
pub fn seeded(currency: &str, active: bool) -> Value {
    seed_products()
        .into_iter()
        .find(|p| p["currency"] == currency && p["active"] == active)
        .unwrap_or_else(|| panic!("no {currency} product with active={active} in the seed"))
}

/// The seeded active products of `currency`.
pub fn seeded_active(currency: &str) -> Vec<Value> {
    seed_products().into_iter().filter(|p| p["currency"] == currency && p["active"] == true).collect()
}

/// A registered, signed-in customer.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub username: String,
    pub access: String,
}

pub async fn member(api: &Api) -> Member {
    let (username, password, user) = api.register_user().await;
    let tokens = api.sign_in(&username, &password).await;
    Member {
        id: user["id"].as_str().expect("user id").to_owned(),
        username,
        access: tokens["access"].as_str().expect("access token").to_owned(),
    }
}

/// An address no other test uses, so its mail can be counted.
pub fn unique_email() -> String {
    format!("buyer-{}@example.com", ulid::Ulid::new().to_string().to_lowercase())
}

/// An answer with its `X-Request-Id`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

/// Sends a request with an optional bearer token, order token and JSON body.
pub async fn call(
    api: &Api,
    method: Method,
    path: &str,
    access: Option<&str>,
    order_token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let url = if path.starts_with("http") { path.to_owned() } else { api.url(path) };
    let mut request = api.http.request(method, url);
    if let Some(access) = access {
        request = request.bearer_auth(access);
    }
    if let Some(token) = order_token {
        request = request.header("x-order-token", token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request reaches the gateway");
    let headers = response.headers().clone();
    let (status, body) = status_and_json(response).await;
    Reply { status, body, headers }
}

/// A guest order as placed: its id, its token and the 201's body.
#[derive(Debug, Clone)]
pub struct GuestOrder {
    pub id: String,
    pub token: String,
    pub email: String,
    pub body: Value,
}

/// Places a guest order of `quantity` × the first active usd product.
pub async fn guest_order(api: &Api, quantity: i64) -> GuestOrder {
    guest_order_of(api, &[(&seeded("usd", true)["id"], quantity)]).await
}

pub async fn guest_order_of(api: &Api, items: &[(&Value, i64)]) -> GuestOrder {
    let email = unique_email();
    let items: Vec<Value> = items.iter().map(|(id, q)| json!({"product_id": id, "quantity": q})).collect();
    let reply =
        call(api, Method::POST, "/api/v1/orders", None, None, Some(&json!({"email": email, "items": items}))).await;
    GuestOrder::placed(&reply)
}

impl GuestOrder {
    /// The guest order a `POST /orders` answer placed (asserting it did).
    pub fn placed(reply: &Reply) -> GuestOrder {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        GuestOrder {
            id: reply.body["id"].as_str().expect("order id").to_owned(),
            token: reply.body["order_token"].as_str().expect("a guest order has a token").to_owned(),
            email: reply.body["email"].as_str().expect("its email").to_owned(),
            body: reply.body.clone(),
        }
    }
}

pub async fn get_order(api: &Api, order: &GuestOrder) -> Value {
    let reply = call(api, Method::GET, &format!("/api/v1/orders/{}", order.id), None, Some(&order.token), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// Reads the order until `done` holds (at most `limit`).
pub async fn wait_for_order(api: &Api, order: &GuestOrder, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let body = get_order(api, order).await;
        if done(&body) {
            return body;
        }
        assert!(started.elapsed() < limit, "gave up after {limit:?} waiting on order {}: {body}", order.id);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `POST /payments/intent` for a guest order; the PaymentIntent's id.
pub async fn payment_intent(api: &Api, order: &GuestOrder) -> String {
    let reply = call(
        api,
        Method::POST,
        "/api/v1/payments/intent",
        None,
        Some(&order.token),
        Some(&json!({"order_id": order.id})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["payment_intent_id"].as_str().expect("payment_intent_id").to_owned()
}

/// A fresh Stripe-looking event id.
pub fn event_id() -> String {
    format!("evt_test{}", ulid::Ulid::new())
}

/// `Stripe-Signature` for `payload` at `timestamp`, as Stripe makes it.
pub fn stripe_signature(payload: &str, secret: &str, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.{payload}").as_bytes());
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn webhook_secret() -> String {
    required_setting("STRIPE_WEBHOOK_SECRET")
}

/// A PaymentIntent event as Stripe sends it (the fields this service reads
/// and some it must not keep).
pub fn payment_intent_event(
    event_type: &str,
    event_id: &str,
    intent_id: &str,
    order_id: &str,
    amount: i64,
    currency: &str,
) -> Value {
    json!({
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": now(),
        "livemode": false,
        "api_version": "2024-06-20",
        "data": {"object": {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": if event_type == "payment_intent.succeeded" { amount } else { 0 },
            "currency": currency,
            "status": if event_type == "payment_intent.succeeded" { "succeeded" } else { "requires_payment_method" },
            "client_secret": format!("{intent_id}_secret_do_not_keep"),
            "receipt_email": "someone@example.com",
            "metadata": {"order_id": order_id},
        }},
    })
}

/// A `charge.refunded` event: the charge names its PaymentIntent, not the order.
pub fn charge_refunded_event(event_id: &str, intent_id: &str, amount: i64, refunded: i64, currency: &str) -> Value {
    json!({
        "id": event_id,
        "object": "event",
        "type": "charge.refunded",
        "created": now(),
        "livemode": false,
        "data": {"object": {
            "id": format!("ch_{}", ulid::Ulid::new()),
            "object": "charge",
            "amount": amount,
            "amount_refunded": refunded,
            "refunded": refunded == amount,
            "currency": currency,
            "payment_intent": intent_id,
            "billing_details": {"email": "someone@example.com", "name": "Some One"},
            "payment_method_details": {"card": {"brand": "visa", "last4": "4242", "exp_year": 2034}},
            "metadata": {},
        }},
    })
}

/// Posts `body` to the webhook as Stripe would, with `signature` as the
/// `Stripe-Signature` header (none if `None`).
pub async fn deliver_raw(api: &Api, body: &str, signature: Option<&str>) -> Reply {
    let mut request = api
        .http
        .post(api.url("/api/v1/webhooks/stripe"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    let response = request.send().await.expect("request reaches the gateway");
    let headers = response.headers().clone();
    let (status, body) = status_and_json(response).await;
    Reply { status, body, headers }
}

/// Delivers `event`, signed now with the endpoint's secret.
pub async fn deliver(api: &Api, event: &Value) -> Reply {
    let body = serde_json::to_string_pretty(event).expect("event JSON");
    let signature = stripe_signature(&body, &webhook_secret(), now());
    deliver_raw(api, &body, Some(&signature)).await
}

/// localstripe, driven the way Stripe.js would drive Stripe.
pub struct LocalStripe {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Default for LocalStripe {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalStripe {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::new(),
            base: required_setting("STRIPE_API_BASE"),
            key: required_setting("STRIPE_SECRET_KEY"),
        }
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .form(form)
            .send()
            .await
            .expect("localstripe answers");
        status_and_json(response).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("localstripe answers");
        status_and_json(response).await
    }

    /// Attaches a card to the intent and confirms it: localstripe then
    /// sends its signed webhook about a second later.
    pub async fn pay_with_card(&self, intent_id: &str, card_number: &str) -> (StatusCode, Value) {
        let (status, method) = self
            .post(
                "/v1/payment_methods",
                &[
                    ("type", "card"),
                    ("card[number]", card_number),
                    ("card[exp_month]", "12"),
                    ("card[exp_year]", "2034"),
                    ("card[cvc]", "123"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{method}");
        let method_id = method["id"].as_str().expect("payment method id");
        let (status, attached) =
            self.post(&format!("/v1/payment_intents/{intent_id}"), &[("payment_method", method_id)]).await;
        assert_eq!(status, StatusCode::OK, "{attached}");
        self.post(&format!("/v1/payment_intents/{intent_id}/confirm"), &[]).await
    }
}

/// Every email moto's SES took to `address`.
pub async fn emails_to(address: &str) -> Vec<Value> {
    let url = format!("{}/moto-api/data.json", required_setting("AWS_ENDPOINT_URL"));
    let data: Value = reqwest::get(url).await.expect("moto answers").json().await.expect("moto's data is JSON");
    data["ses"]["Message"]
        .as_array()
        .map(|all| all.iter().filter(|m| m["destinations"]["ToAddresses"][0] == address).cloned().collect())
        .unwrap_or_default()
}

/// The stack's log lines (JSON ones only) that contain every needle.
pub fn log_lines(needles: &[&str]) -> Vec<Value> {
    let path = setting("STACK_LOG").unwrap_or_else(|| {
        format!(
            "{}/../.stack/{}/gateway.log",
            env!("CARGO_MANIFEST_DIR"),
            setting("GATEWAY_PORT").unwrap_or_else(|| "3000".into())
        )
    });
    std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .filter(|line| needles.iter().all(|n| line.contains(n)))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The `event completed` lines about an order, from `target` (the
/// webhook's `stripe_webhook` or the mailer's `mailer`).
pub fn events_completed(target: &str, order_id: &str) -> Vec<Value> {
    log_lines(&["\"event completed\"", order_id])
        .into_iter()
        .filter(|line| line["target"] == target && line["order_id"] == order_id)
        .collect()
}

/// Waits until the mailer has finished every receipt message the webhook
/// queued for `order_id` (so that a count of emails is final), and returns
/// the mailer's lines.
pub async fn wait_for_mailer_to_drain(order_id: &str, limit: Duration) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let queued =
            events_completed("stripe_webhook", order_id).iter().filter(|line| line["receipt_queued"] == true).count();
        let mailed: Vec<Value> = events_completed("mailer", order_id)
            .into_iter()
            .filter(|line| line["status"] == "sent" || line["status"] == "already_sent")
            .collect();
        if queued > 0 && mailed.len() >= queued {
            return mailed;
        }
        assert!(started.elapsed() < limit, "the mailer did not finish {queued} message(s) for {order_id}: {mailed:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `check` until it returns `Some`, at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < limit, "gave up after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs one of the workspace's binaries (`replay-stripe-event`,
/// `redrive-mail`, …) with the stack's settings; its stdout.
pub async fn run_tool(name: &str, args: &[&str]) -> String {
    let bin_dir = std::env::var("GATEWAY_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debug")));
    let program = bin_dir.join(name);
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&program)
            .args(&args)
            .envs(local_settings())
            .output()
            .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()))
    })
    .await
    .expect("the tool's task");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{name} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// Clients of moto's SQS, SNS and SES v2, for what the API does not show.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(required_setting("AWS_ENDPOINT_URL"))
        .region(aws_config::Region::new(required_setting("AWS_REGION")))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            required_setting("AWS_ACCESS_KEY_ID"),
            required_setting("AWS_SECRET_ACCESS_KEY"),
            None,
            None,
            "local.env",
        ))
        .load()
        .await
}

/// Messages in a queue: (visible, in flight).
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue_name: &str) -> (u64, u64) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let url =
        sqs.get_queue_url().queue_name(queue_name).send().await.expect("queue exists").queue_url.unwrap_or_default();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .unwrap_or_default();
    let number = |name: QueueAttributeName| attributes.get(&name).and_then(|v| v.parse().ok()).unwrap_or(0);
    (
        number(QueueAttributeName::ApproximateNumberOfMessages),
        number(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

/// Runs the futures at once (each on its own task) and collects their
/// outputs in order.
pub async fn all_at_once<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.expect("task"));
    }
    outputs
}

/// A new active usd product of our own, `stock` left (`None`: no limit),
/// written straight into the table as the seed command writes products.
pub async fn limited_product(unit_amount: i64, stock: Option<i64>) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue;
    let id = ulid::Ulid::new().to_string();
    let (db, table) = crate::dynamodb().await;
    let mut put = db
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(format!("PRODUCT#{id}")))
        .item("sk", AttributeValue::S("PRODUCT".into()))
        .item("gsi1pk", AttributeValue::S("PRODUCTS".into()))
        .item("gsi1sk", AttributeValue::S(id.clone()))
        .item("id", AttributeValue::S(id.clone()))
        .item("name", AttributeValue::S(format!("Limited edition {id}")))
        .item("description", AttributeValue::S(String::new()))
        .item("unit_amount", AttributeValue::N(unit_amount.to_string()))
        .item("currency", AttributeValue::S("usd".into()))
        .item("active", AttributeValue::Bool(true))
        .item("created_at", AttributeValue::S("2026-12-01T00:00:00Z".into()))
        .item("updated_at", AttributeValue::S("2026-12-01T00:00:00Z".into()));
    if let Some(stock) = stock {
        put = put.item("stock", AttributeValue::N(stock.to_string())).item("stock_limited", AttributeValue::Bool(true));
    }
    put.send().await.expect("a product written");
    json!({"id": id, "unit_amount": unit_amount, "currency": "usd", "stock": stock})
}

/// A product's stock as the table holds it now.
pub async fn stock_of(product: &Value) -> i64 {
    let id = product["id"].as_str().expect("a product id");
    let item = crate::item_at(&format!("PRODUCT#{id}"), "PRODUCT").await.expect("the product");
    item["stock"].as_n().expect("a stock").parse().expect("a number")
}
