//! Throttling as the local stack configures it: the general scopes are set
//! out of the tests' reach, `login` keeps its production value (10/min per
//! client address and username).

use e2e_tests::{Api, assert_error, aws_calls, completed_log_line, fresh_request_id, status_and_json};
use reqwest::{Method, StatusCode, header};
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

#[tokio::test]
async fn throttle_writes_are_counted_apart_from_the_operation() {
    let api = Api::new();
    let request_id = fresh_request_id();
    let response =
        api.request(Method::GET, "/api/v1/auth/me").header("x-request-id", &request_id).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let line = completed_log_line(&request_id).await;
    // anon and anon_burst: one counter write each; the 401 itself reads nothing.
    assert_eq!(line["throttle_calls"]["dynamodb"], 2, "{line}");
    assert_eq!(aws_calls(&request_id, "dynamodb").await, 0);
}
