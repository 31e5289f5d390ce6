//! The contract's General section: error format for bad input, routing
//! errors, limits and the headers every response carries.

use e2e_tests::{Api, assert_error, status_and_json};
use reqwest::{Method, StatusCode, header};

#[tokio::test]
async fn a_body_that_is_not_json_is_a_bad_request() {
    let api = Api::new();
    let response = api
        .request(Method::POST, "/api/v1/auth/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(response).await;
    assert_error(status, &body, 400, "bad_request");
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_a_validation_error() {
    let api = Api::new();
    let (status, body) = status_and_json(api.post_json("/api/v1/auth/token", &serde_json::json!([1, 2])).await).await;
    assert_error(status, &body, 400, "validation_error");
    assert!(body["errors"]["non_field_errors"].is_array(), "{body}");
}

#[tokio::test]
async fn another_content_type_on_a_write_is_415() {
    let api = Api::new();
    let response = api
        .request(Method::POST, "/api/v1/auth/register")
        .header(header::CONTENT_TYPE, "text/plain")
        .body("username=alice")
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(response).await;
    assert_error(status, &body, 415, "unsupported_media_type");
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let api = Api::new();
    let padding = "x".repeat(64 * 1024 + 1);
    let response = api
        .request(Method::POST, "/api/v1/auth/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(format!("{{\"username\": \"{padding}\"}}"))
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(response).await;
    assert_error(status, &body, 413, "payload_too_large");
}

#[tokio::test]
async fn unknown_routes_are_404_in_the_error_format() {
    let api = Api::new();
    for path in ["/api/v1/auth/nowhere", "/api/v1/nothing-here", "/", "/api/v2/auth/me"] {
        let (status, body) = status_and_json(api.request(Method::GET, path).send().await.unwrap()).await;
        assert_error(status, &body, 404, "not_found");
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    let api = Api::new();
    let response = api.request(Method::GET, "/api/v1/auth/register").send().await.unwrap();
    let allow = response.headers().get(header::ALLOW).map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = status_and_json(response).await;
    assert_error(status, &body, 405, "method_not_allowed");
    assert_eq!(allow.as_deref(), Some("POST"));

    let response = api.request(Method::DELETE, "/api/v1/auth/me").send().await.unwrap();
    assert!(response.headers()[header::ALLOW].to_str().unwrap().contains("GET"));
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_nosniff() {
    let api = Api::new();
    let response = api.request(Method::GET, "/api/v1/auth/me").send().await.unwrap();
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let generated = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(!generated.is_empty());

    let response = api
        .request(Method::GET, "/api/v1/auth/me")
        .header("x-request-id", "client-trace:42.a_b-c")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-trace:42.a_b-c");

    // A malformed caller id is replaced, never echoed.
    let response =
        api.request(Method::GET, "/api/v1/auth/me").header("x-request-id", "bad id with spaces").send().await.unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(id, "bad id with spaces");
    assert!(!id.is_empty());

    // Not-found answers from a function carry them too.
    let response = api.request(Method::GET, "/api/v1/auth/nowhere").send().await.unwrap();
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(response.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn each_request_ends_with_one_log_line_counting_its_aws_calls() {
    let api = Api::new();
    let request_id = e2e_tests::fresh_request_id();
    let username = e2e_tests::unique_username();
    let response = api
        .request(Method::POST, "/api/v1/auth/register")
        .header("x-request-id", &request_id)
        .json(&serde_json::json!({"username": username, "email": "log@example.com", "password": "log-line-pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let line = e2e_tests::completed_log_line(&request_id).await;
    assert_eq!(line["level"], "info");
    assert_eq!(line["status"], 201);
    assert!(line["duration_ms"].as_f64().is_some());
    assert!(line["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    // One transaction writes the user and claims the username; one message
    // asks the mailer for the verification email.
    assert_eq!(line["aws_calls"], serde_json::json!({"dynamodb": 1, "sqs": 1}));
    // Nothing secret in the line.
    assert!(!line.to_string().contains("log-line-pass"));
}
