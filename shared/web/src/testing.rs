//! What a function's in-process router tests share: a token service and
//! tokens, an in-memory throttle, a table no call can reach, and one call
//! through a router (`tower::ServiceExt::oneshot`) with its JSON answer.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use platform::config::TokenSettings;
use serde_json::Value;
use services::Table;
use services::throttle::{MemoryHitCounter, Throttle, parse_rates};
use services::tokens::TokenService;
use tower::ServiceExt;

pub fn token_settings() -> TokenSettings {
    TokenSettings {
        signing_key: b"an in-process test key, 32 bytes or more".to_vec(),
        issuer: "publishing-api".into(),
        audience: "publishing-api-clients".into(),
        access_lifetime: Duration::from_secs(300),
        refresh_lifetime: Duration::from_secs(3600),
    }
}

pub fn token_service() -> TokenService {
    TokenService::new(token_settings())
}

pub fn tokens() -> Arc<TokenService> {
    Arc::new(token_service())
}

/// A bearer token for `username` (user id `01` + the name in capitals).
pub fn access_token(tokens: &TokenService, username: &str) -> String {
    let now = domain::timefmt::now().unix_timestamp();
    tokens.issue_access(&format!("01{}", username.to_uppercase()), username, now).expect("a token")
}

/// The throttle with `rates` (DRF's notation), counted in memory.
pub fn throttle(rates: &str) -> Throttle {
    Throttle::new(Arc::new(MemoryHitCounter::default()), parse_rates(rates).expect("rates"))
}

/// A table every call to fails at once: a test that reaches it gets a 503.
pub fn unreachable_table() -> Table {
    Table::new(platform::aws::dynamodb_client(&platform::aws::offline_config()), "unreachable")
}

/// A mail queue every send to fails at once (a 503).
#[cfg(feature = "sqs")]
pub fn unreachable_mail_queue() -> services::email::MailQueue {
    let sqs = platform::aws::sqs_client(&platform::aws::offline_config());
    services::email::MailQueue { client: sqs, url: "http://127.0.0.1:9/queue/mail".into() }
}

#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// `Null` for an empty body.
    pub body: Value,
}

/// One request through `router`: `token` as a bearer token, `body` as JSON.
pub async fn call(router: &Router, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Answer {
    call_with(router, method, uri, &[], token, body).await
}

/// [`call`] with extra headers.
pub async fn call_with(
    router: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = match body {
        Some(json) => request.header(header::CONTENT_TYPE, "application/json").body(Body::from(json.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("a request");
    let response = router.clone().oneshot(request).await.expect("routers do not fail");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("a body").to_bytes();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
    Answer { status, headers, body }
}
