//! Throttling as the local stack configures it: the general scopes are set
//! out of the tests' reach, `login` keeps its production value (10/min per
//! client address and username). The general scopes are counted in batches
//! per instance: a caller costs at most one throttle write per second per
//! scope, whatever its rate.

use std::time::Duration;

use e2e_tests::commerce::{eventually, log_lines};
use e2e_tests::{Api, assert_error, aws_calls, completed_log_line, fresh_request_id, status_and_json};
use reqwest::{StatusCode, header};
use serde_json::json;

#[tokio::test]
async fn password_guessing_is_throttled_per_username() {
    let api = Api::new();
    let (username, password, _) = api.register_user().await;
    for attempt in 1..=10 {
        let (status, body) = status_and_json(
            api.post_json("/api/v1/auth/token", &json!({"username": username, "password": format!("guess-{attempt}")}))
                .await,
        )
        .await;
        assert_error(status, &body, 401, "not_authenticated");
    }
    // The 11th try in the minute is refused before the password is checked,
    // whatever the letter case of the username, right password or not.
    let response =
        api.post_json("/api/v1/auth/token", &json!({"username": username.to_uppercase(), "password": password})).await;
    let retry_after: u64 = response.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let (status, body) = status_and_json(response).await;
    assert_error(status, &body, 429, "throttled");

    // Another username from the same address is not affected.
    let (other, other_password, _) = api.register_user().await;
    api.sign_in(&other, &other_password).await;
}

/// A client calling from an address of its own in 127/8, so that no other
/// test's requests share its counts.
fn client_of_its_own() -> reqwest::Client {
    let bytes = ulid::Ulid::new().0.to_be_bytes();
    let address = std::net::IpAddr::from([127, bytes[15].max(2), bytes[14], bytes[13].max(1)]);
    reqwest::Client::builder().local_address(address).build().unwrap()
}

#[tokio::test]
async fn throttle_writes_are_counted_apart_from_the_operation() {
    let api = Api::new();
    let request_id = fresh_request_id();
    let response =
        client_of_its_own().get(api.url("/api/v1/auth/me")).header("x-request-id", &request_id).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let line = completed_log_line(&request_id).await;
    // A new caller: anon and anon_burst, one counter write each; the 401
    // itself reads nothing.
    assert_eq!(line["throttle_calls"]["dynamodb"], 2, "{line}");
    assert_eq!(aws_calls(&request_id, "dynamodb").await, 0);
}

#[tokio::test]
async fn a_caller_looping_on_one_instance_costs_at_most_a_twentieth_of_a_throttle_write_per_request() {
    const REQUESTS: usize = 1000;
    let api = Api::new();
    let client = client_of_its_own();
    let prefix = fresh_request_id();
    // One after another: the gateway hands each to the instance that served
    // the last (the most recently used idle one).
    for n in 0..REQUESTS {
        let response = client
            .get(api.url("/api/v1/posts?page_size=1"))
            .header("x-request-id", format!("{prefix}-{n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "request {n}");
    }
    let needle = format!("\"request_id\":\"{prefix}-");
    let lines = eventually(Duration::from_secs(20), "every request's completed line", || {
        let needle = needle.clone();
        async move {
            let lines: Vec<_> = log_lines(&[needle.as_str(), "\"request completed\""]);
            (lines.len() >= REQUESTS).then_some(lines)
        }
    })
    .await;
    let writes: u64 = lines.iter().map(|line| line["throttle_calls"]["dynamodb"].as_u64().unwrap_or(0)).sum();
    let per_request = writes as f64 / REQUESTS as f64;
    assert!(per_request <= 0.05, "{writes} throttle writes for {REQUESTS} requests ({per_request:.3} each)");
    assert!(writes >= 2, "the caller's first request writes both scopes: {writes}");
}
