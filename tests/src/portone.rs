//! Helpers for the PortOne suite: the local PortOne fake (the stack's, shared
//! by every test running, or one of a test's own in a process it starts),
//! `krw` orders, the two PortOne routes, the audit item the service keeps of
//! each PortOne payment, the webhook's log lines, and one receipt.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::commerce::{
    GuestOrder, Member, Reply, call, emails_to, events_completed, eventually, guest_order_of, seeded, wait_for_order,
};
use crate::{Api, required_setting, status_and_json};

/// `POST` `{order_id, imp_uid}`: the client says it paid.
pub const COMPLETE: &str = "/api/v1/payments/portone/complete";
/// `POST` `{imp_uid, merchant_uid, status}`: PortOne says something changed.
pub const WEBHOOK: &str = "/api/v1/webhooks/portone";
/// The log target of the `portone-payments` function.
pub const TARGET: &str = "portone_payments";

pub const PAID_WITHIN: Duration = Duration::from_secs(20);
/// A receipt goes through the receipt queue and the mailer.
pub const MAILED_WITHIN: Duration = Duration::from_secs(30);
/// After the first email: time enough for a second one to show, were there one.
pub const SETTLE: Duration = Duration::from_secs(3);

/// A client of a PortOne fake (`infra/portone_fake.py`): its `/_fake`
/// control endpoints, which are not PortOne's.
#[derive(Debug, Clone)]
pub struct PortOneFake {
    pub base: String,
    http: reqwest::Client,
}

/// API calls that reached the fake, by endpoint (`GET /_fake/calls`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    pub get_token: u64,
    pub payment: u64,
    pub cancel: u64,
}

impl Calls {
    pub fn total(&self) -> u64 {
        self.get_token + self.payment + self.cancel
    }

    /// The calls made since `earlier` was read.
    pub fn since(&self, earlier: &Calls) -> Calls {
        Calls {
            get_token: self.get_token.saturating_sub(earlier.get_token),
            payment: self.payment.saturating_sub(earlier.payment),
            cancel: self.cancel.saturating_sub(earlier.cancel),
        }
    }
}

impl PortOneFake {
    /// The stack's fake, at `PORTONE_API_BASE`. Every test running shares
    /// it: never reset it and never make it fail (a test that needs PortOne
    /// to fail starts a fake of its own, see [`start_own_fake`]).
    pub fn shared() -> Self {
        Self::at(&required_setting("PORTONE_API_BASE"))
    }

    pub fn at(base: &str) -> Self {
        Self { base: base.trim_end_matches('/').to_owned(), http: reqwest::Client::new() }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response =
            request.send().await.unwrap_or_else(|e| panic!("the PortOne fake at {} does not answer: {e}", self.base));
        status_and_json(response).await
    }

    /// A control call that must succeed; its answer.
    async fn control(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        let (status, answer) = self.send(method, path, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        answer
    }

    /// A payment PortOne knows: `status` one of `ready`, `paid`, `failed`;
    /// `currency` as PortOne spells it (`KRW`). Its `imp_uid`.
    pub async fn create_payment(&self, merchant_uid: &str, amount: i64, currency: &str, status: &str) -> String {
        let body = json!({"merchant_uid": merchant_uid, "amount": amount, "currency": currency, "status": status});
        let answer = self.control(Method::POST, "/_fake/payments", Some(&body)).await;
        answer["imp_uid"].as_str().unwrap_or_else(|| panic!("no imp_uid in {answer}")).to_owned()
    }

    /// A `paid` payment of exactly the order's amount, in `KRW`.
    pub async fn paid_payment_for(&self, order: &GuestOrder) -> String {
        self.create_payment(&order.id, amount_of(order), "KRW", "paid").await
    }

    /// The payment as PortOne has it, plus `api_reads` (how often the API
    /// read it).
    pub async fn payment(&self, imp_uid: &str) -> Value {
        self.control(Method::GET, &format!("/_fake/payments/{imp_uid}"), None).await
    }

    /// A later change at PortOne (`ready` → `paid`: a virtual account paid).
    pub async fn set_status(&self, imp_uid: &str, status: &str) -> Value {
        let state = self
            .control(Method::POST, &format!("/_fake/payments/{imp_uid}/status"), Some(&json!({"status": status})))
            .await;
        assert_eq!(state["status"], status, "{state}");
        state
    }

    /// Has the fake send PortOne's webhook body about the payment to `url`;
    /// the HTTP status the webhook answered.
    pub async fn notify(&self, imp_uid: &str, url: &str) -> u16 {
        let answer =
            self.control(Method::POST, &format!("/_fake/payments/{imp_uid}/notify"), Some(&json!({"url": url}))).await;
        answer["status"]
            .as_u64()
            .and_then(|status| u16::try_from(status).ok())
            .unwrap_or_else(|| panic!("no status in the fake's answer: {answer}"))
    }

    /// The next `count` API calls (of any endpoint) answer `status`; 0
    /// turns it off. Only on a fake of the test's own.
    pub async fn fail_next(&self, status: u16, count: u32) {
        let answer = self.control(Method::POST, "/_fake/fail", Some(&json!({"status": status, "count": count}))).await;
        assert_eq!(answer["count"], count, "{answer}");
    }

    pub async fn calls(&self) -> Calls {
        let counts = self.control(Method::GET, "/_fake/calls", None).await;
        let count = |name: &str| counts[name].as_u64().unwrap_or(0);
        Calls {
            get_token: count("users/getToken"),
            payment: count("payments/{imp_uid}"),
            cancel: count("payments/cancel"),
        }
    }
}

/// A PortOne fake of one test's own: a process on a free port, killed when
/// this is dropped.
pub struct OwnPortOneFake {
    pub fake: PortOneFake,
    _process: tokio::process::Child,
}

/// Starts `infra/portone_fake.py` (with the stack's Python if `make venv`
/// made one) on a free port, checking the stack's `imp_key` and
/// `imp_secret`, with tokens living `token_ttl_seconds` (PortOne's 30 min
/// if `None`), and waits until it answers.
pub async fn start_own_fake(token_ttl_seconds: Option<u32>) -> OwnPortOneFake {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let venv_python = format!("{root}/.venv/bin/python");
    let python = if Path::new(&venv_python).is_file() { venv_python } else { "python3".to_owned() };
    let mut command = tokio::process::Command::new(python);
    command
        .arg(format!("{root}/infra/portone_fake.py"))
        .arg("--port")
        .arg(port.to_string())
        .env("PORTONE_IMP_KEY", required_setting("PORTONE_IMP_KEY"))
        .env("PORTONE_IMP_SECRET", required_setting("PORTONE_IMP_SECRET"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    match token_ttl_seconds {
        Some(ttl) => command.env("PORTONE_FAKE_TOKEN_TTL", ttl.to_string()),
        None => command.env_remove("PORTONE_FAKE_TOKEN_TTL"),
    };
    let process = command.spawn().expect("Python runs infra/portone_fake.py");
    let fake = PortOneFake::at(&format!("http://127.0.0.1:{port}"));
    let started = Instant::now();
    loop {
        let answered = fake.http.get(format!("{}/_fake/calls", fake.base)).send().await;
        if answered.is_ok_and(|response| response.status() == StatusCode::OK) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the PortOne fake on port {port} did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    OwnPortOneFake { fake, _process: process }
}

/// A guest order of `quantity` × the first active `krw` product.
pub async fn krw_order(api: &Api, quantity: i64) -> GuestOrder {
    let product = seeded("krw", true);
    let order = guest_order_of(api, &[(&product["id"], quantity)]).await;
    assert_eq!(order.body["currency"], "krw", "{}", order.body);
    order
}

/// A signed-in member's order of `quantity` × the first active `krw`
/// product: the 201's body.
pub async fn member_krw_order(api: &Api, member: &Member, quantity: i64) -> Value {
    let product = seeded("krw", true);
    let body = json!({"items": [{"product_id": product["id"], "quantity": quantity}]});
    let reply = call(api, Method::POST, "/api/v1/orders", Some(&member.access), None, Some(&body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["currency"], "krw", "{}", reply.body);
    reply.body
}

/// The order's amount, in won.
pub fn amount_of(order: &GuestOrder) -> i64 {
    order.body["amount"].as_i64().expect("the order's amount")
}

/// `POST /payments/portone/complete` as the guest holding the order's token.
pub async fn complete(api: &Api, order: &GuestOrder, imp_uid: &str) -> Reply {
    complete_as(api, &order.id, imp_uid, None, Some(&order.token)).await
}

/// `POST /payments/portone/complete` with whatever credentials are given.
pub async fn complete_as(
    api: &Api,
    order_id: &str,
    imp_uid: &str,
    access: Option<&str>,
    order_token: Option<&str>,
) -> Reply {
    let body = json!({"order_id": order_id, "imp_uid": imp_uid});
    call(api, Method::POST, COMPLETE, access, order_token, Some(&body)).await
}

/// `GET /orders/{id}` with whatever credentials are given.
pub async fn order_as(api: &Api, order_id: &str, access: Option<&str>, order_token: Option<&str>) -> Reply {
    call(api, Method::GET, &format!("/api/v1/orders/{order_id}"), access, order_token, None).await
}

/// Posts `body` to the webhook straight from the test (from 127.0.0.1).
pub async fn post_webhook(api: &Api, body: &Value) -> Reply {
    call(api, Method::POST, WEBHOOK, None, None, Some(body)).await
}

/// The webhook's URL, for the fake's `notify`.
pub fn webhook_url(api: &Api) -> String {
    api.url(WEBHOOK)
}

pub use crate::{Item, item_at};

/// The service's audit item of a PortOne payment.
pub async fn audit_of(imp_uid: &str) -> Option<Item> {
    item_at(&format!("PORTONE_PAYMENT#{imp_uid}"), "PORTONE_PAYMENT").await
}

/// An item as JSON: strings, numbers (as integers when they are) and
/// booleans; anything else as its debug form.
pub fn item_json(item: &Item) -> Value {
    let mut object = serde_json::Map::new();
    for (name, value) in item {
        let value = match value {
            AttributeValue::S(text) => Value::String(text.clone()),
            AttributeValue::N(number) => {
                number.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(number.clone()))
            }
            AttributeValue::Bool(flag) => Value::Bool(*flag),
            other => Value::String(format!("{other:?}")),
        };
        object.insert(name.clone(), value);
    }
    Value::Object(object)
}

/// Asserts that the payment's audit item exists, names it, and has each of
/// the `expected` attributes (`currency` compared in any letter case, as
/// PortOne spells it `KRW`); the item as JSON.
pub async fn assert_audited(imp_uid: &str, expected: &Value) -> Value {
    let item = audit_of(imp_uid).await.unwrap_or_else(|| panic!("no audit item PORTONE_PAYMENT#{imp_uid}"));
    let seen = item_json(&item);
    assert_eq!(seen["imp_uid"], imp_uid, "{seen}");
    for (name, want) in expected.as_object().expect("the expected attributes are an object") {
        let got = &seen[name.as_str()];
        let same = match (name.as_str(), got.as_str(), want.as_str()) {
            ("currency", Some(got), Some(want)) => got.eq_ignore_ascii_case(want),
            _ => got == want,
        };
        assert!(same, "the audit of {imp_uid} has {name} = {got}, expected {want}: {seen}");
    }
    seen
}

/// The webhook's `event completed` lines about the order.
pub fn webhook_lines(order_id: &str) -> Vec<Value> {
    events_completed(TARGET, order_id)
}

/// Waits until the webhook has logged at least `at_least` `event completed`
/// lines about the order; all of them.
pub async fn wait_for_webhook_lines(order_id: &str, at_least: usize) -> Vec<Value> {
    eventually(PAID_WITHIN, "the PortOne webhook's event completed lines", move || async move {
        let lines = webhook_lines(order_id);
        (lines.len() >= at_least).then_some(lines)
    })
    .await
}

/// The order is paid, and exactly one receipt went to its address, naming
/// the order and its total in won (checked again after [`SETTLE`], so a
/// second email would show).
pub async fn assert_paid_with_one_receipt(api: &Api, order: &GuestOrder) {
    let mailed = wait_for_order(api, order, MAILED_WITHIN, |o| o["receipt"]["status"] == "sent").await;
    assert_eq!(mailed["status"], "paid", "{mailed}");
    assert!(mailed["receipt"]["sent_at"].is_string(), "{mailed}");
    let address = order.email.as_str();
    eventually(MAILED_WITHIN, "the receipt in moto's mailbox", move || async move {
        (!emails_to(address).await.is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(SETTLE).await;
    let emails = emails_to(&order.email).await;
    assert_eq!(emails.len(), 1, "one receipt for order {}: {emails:?}", order.id);
    let email = &emails[0];
    assert_eq!(email["subject"], format!("Your receipt for order {}", order.id));
    let body = email["body"].as_str().unwrap_or_default();
    assert!(body.contains(&order.id), "{body}");
    assert!(body.contains(&format!("{} KRW", amount_of(order))), "{body}");
}
