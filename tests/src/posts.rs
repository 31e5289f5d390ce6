//! Helpers for the "Posts and comments" suites: signed-in users, requests
//! with an optional token and a chosen request id, page walking, and a
//! bounded fan-out for the tests that create many things at once.

use std::future::Future;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::{Api, dynamodb, status_and_json};

/// A registered, signed-in user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub access: String,
}

impl User {
    pub fn token(&self) -> Option<&str> {
        Some(&self.access)
    }
}

/// An answer: status, `Location` (if any), JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: Value,
}

/// Registers and signs in a fresh user.
pub async fn new_user(api: &Api) -> User {
    let (username, password, body) = api.register_user().await;
    let tokens = api.sign_in(&username, &password).await;
    User {
        id: body["id"].as_str().expect("user id").to_owned(),
        username,
        access: tokens["access"].as_str().expect("access token").to_owned(),
    }
}

/// Sends `method path` (a path under the API, or an absolute URL as found in
/// `next`/`previous`/`Location`), with a bearer token if given, a JSON body
/// if given, and `X-Request-Id` if given.
pub async fn send(
    api: &Api,
    method: Method,
    path_or_url: &str,
    token: Option<&str>,
    body: Option<&Value>,
    request_id: Option<&str>,
) -> Answer {
    let url = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
        path_or_url.to_owned()
    } else {
        api.url(path_or_url)
    };
    let mut request = api.http.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(id) = request_id {
        request = request.header("X-Request-Id", id);
    }
    let response = request.send().await.expect("request reaches the gateway");
    let location = response.headers().get(header::LOCATION).map(|v| v.to_str().expect("ascii Location").to_owned());
    let (status, body) = status_and_json(response).await;
    Answer { status, location, body }
}

pub async fn get(api: &Api, path: &str, token: Option<&str>) -> Answer {
    send(api, Method::GET, path, token, None, None).await
}

pub async fn post(api: &Api, path: &str, token: Option<&str>, body: &Value) -> Answer {
    send(api, Method::POST, path, token, Some(body), None).await
}

/// Creates a post as `user` and returns its body (asserting the 201).
pub async fn create_post(api: &Api, user: &User, input: Value) -> Value {
    let answer = post(api, "/api/v1/posts", user.token(), &input).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{input} → {}", answer.body);
    answer.body
}

/// A public post with this title and a short body.
pub async fn create_titled(api: &Api, user: &User, title: &str) -> Value {
    create_post(api, user, json!({"title": title, "body": format!("Body of {title}.")})).await
}

/// Adds a comment as `user` and returns its body (asserting the 201).
pub async fn create_comment(api: &Api, user: &User, post_id: &str, body: &str) -> Value {
    let answer = post(api, &format!("/api/v1/posts/{post_id}/comments"), user.token(), &json!({"body": body})).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body
}

pub fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id in {value}")).to_owned()
}

/// The ids of a page's results, in order.
pub fn result_ids(page: &Value) -> Vec<String> {
    page["results"].as_array().unwrap_or_else(|| panic!("not a page: {page}")).iter().map(id_of).collect()
}

/// Follows `next` from `first` (a path) to the end, at most `max_pages`
/// pages; returns every page.
pub async fn walk(api: &Api, first: &str, token: Option<&str>, max_pages: usize) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut url = Some(first.to_owned());
    while let Some(current) = url.take() {
        let answer = get(api, &current, token).await;
        assert_eq!(answer.status, StatusCode::OK, "{current} → {}", answer.body);
        url = answer.body["next"].as_str().map(str::to_owned);
        pages.push(answer.body);
        assert!(pages.len() <= max_pages, "more than {max_pages} pages from {first}");
    }
    pages
}

/// Every id on every page reachable from `first`.
pub async fn walk_ids(api: &Api, first: &str, token: Option<&str>, max_pages: usize) -> Vec<String> {
    walk(api, first, token, max_pages).await.iter().flat_map(result_ids).collect()
}

/// Runs the futures with at most `limit` in flight, results in input order.
pub async fn bounded<F>(limit: usize, futures: Vec<F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(limit));
    let handles: Vec<_> = futures
        .into_iter()
        .map(|future| {
            let permits = permits.clone();
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore open");
                future.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("task completes"));
    }
    out
}

/// Everything stored in the post's item collection (`pk = POST#<id>`).
pub async fn stored_post_items(post_id: &str) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let (db, table) = dynamodb().await;
    db.query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("POST#{post_id}")))
        .consistent_read(true)
        .send()
        .await
        .expect("query the local DynamoDB")
        .items
        .unwrap_or_default()
}

/// The sorted keys of a JSON object.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> =
        value.as_object().unwrap_or_else(|| panic!("not an object: {value}")).keys().cloned().collect();
    keys.sort();
    keys
}

/// A word that occurs nowhere else: for search tests in the shared table.
pub fn unique_word() -> String {
    format!("w{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Percent-encodes a query value (letters, digits and `-._~` pass).
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The value of query parameter `name` in an absolute URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| decode(v))
    })
}

fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
