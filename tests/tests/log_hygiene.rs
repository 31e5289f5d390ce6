//! What the logs must never carry: passwords, tokens, emails in the clear,
//! secret notes. The auth and posts flows run with distinctive values, then
//! the whole stack log (every function's lines) is searched for them.

use e2e_tests::{Api, setting, status_and_json, unique_username};
use reqwest::Method;
use serde_json::json;

fn stack_log() -> String {
    let path = setting("STACK_LOG").unwrap_or_else(|| {
        format!(
            "{}/../.stack/{}/gateway.log",
            env!("CARGO_MANIFEST_DIR"),
            setting("GATEWAY_PORT").unwrap_or_else(|| "3000".into())
        )
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read the stack log {path}: {e}"))
}

#[tokio::test]
async fn no_password_token_email_or_secret_note_reaches_the_logs() {
    let api = Api::new();
    let username = unique_username();
    let password = format!("pw-{}", ulid::Ulid::new());
    let email = format!("{username}.private@example.com");
    let note = format!("note-{}", ulid::Ulid::new());

    let (status, _) = status_and_json(
        api.post_json("/api/v1/auth/register", &json!({"username": username, "email": email, "password": password}))
            .await,
    )
    .await;
    assert_eq!(status, 201);
    // A wrong password is logged about too (as a failed sign-in), never itself.
    api.post_json("/api/v1/auth/token", &json!({"username": username, "password": format!("{password}-wrong")})).await;
    let pair = api.sign_in(&username, &password).await;
    let (access, refresh) = (pair["access"].as_str().unwrap(), pair["refresh"].as_str().unwrap());
    let (_, rotated) =
        status_and_json(api.post_json("/api/v1/auth/token/refresh", &json!({"refresh": refresh})).await).await;
    let rotated_refresh = rotated["refresh"].as_str().unwrap();
    api.post_json("/api/v1/auth/token/refresh", &json!({"refresh": refresh})).await; // reuse: logged, not echoed
    let created = api
        .request(Method::POST, "/api/v1/posts")
        .bearer_auth(access)
        .json(&json!({"title": "Log hygiene", "body": "", "secret_note": note}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    api.get_authed("/api/v1/auth/me", access).await;

    // Log lines are written before each response is sent.
    let log = stack_log();
    assert!(log.contains(&username) || log.contains("request completed"), "the log is being written");
    for (what, secret) in [
        ("password", password.as_str()),
        ("email", email.as_str()),
        ("secret note", note.as_str()),
        ("access token", access),
        ("refresh token", refresh),
        ("rotated refresh token", rotated_refresh),
    ] {
        assert!(!log.contains(secret), "the {what} is in the logs");
    }
    // Nor any part of a token: its signature is the secret part.
    for token in [access, refresh] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!log.contains(signature), "a token signature is in the logs");
    }
}

#[tokio::test]
async fn deeply_nested_json_is_a_clear_400() {
    let api = Api::new();
    let body = format!("{{\"username\": {}1{}}}", "[".repeat(200), "]".repeat(200));
    let response = api
        .request(Method::POST, "/api/v1/auth/register")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(response).await;
    e2e_tests::assert_error(status, &body, 400, "bad_request");
}
