//! Black-box test harness: talks to a running stack over HTTP (the one
//! `make test` starts, or a `make run` stack), and to its DynamoDB (local)
//! to check what was stored. Settings come from the environment, falling
//! back to `infra/local.env` the way the stack script reads it.

use std::collections::HashMap;
use std::sync::OnceLock;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// `infra/local.env` merged under the process environment, `${NAME}` expanded.
pub fn setting(name: &str) -> Option<String> {
    static SETTINGS: OnceLock<HashMap<String, String>> = OnceLock::new();
    SETTINGS
        .get_or_init(|| {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/local.env");
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let mut values: HashMap<String, String> = std::env::vars().collect();
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let Some((key, raw)) = line.split_once('=') else { continue };
                if values.contains_key(key) {
                    continue;
                }
                let expanded = expand(raw, &values);
                values.insert(key.to_owned(), expanded);
            }
            values
        })
        .get(name)
        .cloned()
}

fn expand(raw: &str, values: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else { break };
        let name = &rest[start + 2..start + end];
        out.push_str(values.get(name).map(String::as_str).unwrap_or_default());
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every setting `infra/local.env` names, resolved as [`setting`] does: the
/// environment a function of the local stack runs with.
pub fn local_settings() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/local.env");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(key, _)| key.to_owned()))
        .filter_map(|key| setting(&key).map(|value| (key, value)))
        .collect()
}

pub fn required_setting(name: &str) -> String {
    setting(name).unwrap_or_else(|| panic!("{name} is not set and not in infra/local.env"))
}

/// A client of the running API.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Default for Api {
    fn default() -> Self {
        Self::new()
    }
}

impl Api {
    pub fn new() -> Self {
        let base = setting("API_BASE_URL").unwrap_or_else(|| {
            format!("http://127.0.0.1:{}", setting("GATEWAY_PORT").unwrap_or_else(|| "3000".into()))
        });
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http client");
        Self { base, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path).json(body).send().await.expect("request reaches the gateway")
    }

    pub async fn get_authed(&self, path: &str, access: &str) -> Response {
        self.request(Method::GET, path).bearer_auth(access).send().await.expect("request reaches the gateway")
    }

    /// Registers a fresh user and returns (username, password, user body).
    pub async fn register_user(&self) -> (String, String, Value) {
        let username = unique_username();
        let password = "correct-horse-battery".to_owned();
        let response = self
            .post_json(
                "/api/v1/auth/register",
                &json!({"username": username, "email": format!("{username}@example.com"), "password": password}),
            )
            .await;
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (username, password, body)
    }

    /// Signs in and returns the token pair body.
    pub async fn sign_in(&self, username: &str, password: &str) -> Value {
        let response = self.post_json("/api/v1/auth/token", &json!({"username": username, "password": password})).await;
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

/// A username no other test run will use.
pub fn unique_username() -> String {
    format!("u{}", ulid::Ulid::new().to_string().to_lowercase())
}

pub async fn status_and_json(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, body)
}

/// Asserts the contract's error format: exactly `code`, `message`, `errors`.
pub fn assert_error(status: StatusCode, body: &Value, expected_status: u16, expected_code: &str) {
    assert_eq!(status.as_u16(), expected_status, "{body}");
    let object = body.as_object().unwrap_or_else(|| panic!("error body is not an object: {body}"));
    let mut keys: Vec<_> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "errors", "message"], "{body}");
    assert_eq!(body["code"], expected_code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

/// The stack's DynamoDB table, to check what the API stored.
pub async fn dynamodb() -> (aws_sdk_dynamodb::Client, String) {
    // The SDK reads these from the environment; local.env may be the only
    // place they are written down.
    let endpoint = required_setting("AWS_ENDPOINT_URL_DYNAMODB");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(required_setting("AWS_REGION")))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            required_setting("AWS_ACCESS_KEY_ID"),
            required_setting("AWS_SECRET_ACCESS_KEY"),
            None,
            None,
            "local.env",
        ))
        .load()
        .await;
    (aws_sdk_dynamodb::Client::new(&config), required_setting("TABLE_NAME"))
}

/// The `request completed` log line of the request that answered with
/// `request_id` (its `X-Request-Id`), read from the stack's log: the
/// gateway's output, where every function's JSON lines land.
pub async fn completed_log_line(request_id: &str) -> Value {
    let path = setting("STACK_LOG").unwrap_or_else(|| {
        format!(
            "{}/../.stack/{}/gateway.log",
            env!("CARGO_MANIFEST_DIR"),
            setting("GATEWAY_PORT").unwrap_or_else(|| "3000".into())
        )
    });
    let needle = format!("\"request_id\":\"{request_id}\"");
    for _ in 0..50 {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let found = text
            .lines()
            .filter(|line| line.contains(&needle) && line.contains("\"request completed\""))
            .find_map(|line| serde_json::from_str::<Value>(line).ok());
        if let Some(line) = found {
            return line;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no `request completed` line for request {request_id} in {path}");
}

/// A stored item, as the suites read them back.
pub type Item = HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

/// The item at `pk` / `sk`, read consistently.
pub async fn item_at(pk: &str, sk: &str) -> Option<Item> {
    use aws_sdk_dynamodb::types::AttributeValue;
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

/// How many calls to `service` the request with `request_id` made.
pub async fn aws_calls(request_id: &str, service: &str) -> u64 {
    completed_log_line(request_id).await["aws_calls"][service].as_u64().unwrap_or(0)
}

/// A request id no other request uses, to find its log line by.
pub fn fresh_request_id() -> String {
    format!("test-{}", ulid::Ulid::new())
}
pub mod commerce;
pub mod graphql;
pub mod portone;
pub mod posts;
pub mod social;
