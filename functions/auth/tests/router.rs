//! The auth routes in process. The table is unreachable: every answer here
//! is given before the store is asked (bad input, bad tokens, the login
//! scope), and one that reaches it is a 503 the test would see.

use auth::{AuthState, router};
use axum::Router;
use axum::http::{Method, StatusCode};
use serde_json::json;
use web::testing::{
    access_token, call, call_with, throttle, token_service, tokens, unreachable_mail_queue, unreachable_table,
};

fn app(rates: &str) -> Router {
    router(AuthState::new(unreachable_table(), token_service(), throttle(rates), unreachable_mail_queue()))
}

#[tokio::test]
async fn bad_registrations_are_400s_naming_each_field() {
    let app = app("off");
    let answer =
        call(&app, Method::POST, "/api/v1/auth/register", None, Some(json!({"username": "a b", "password": "x"})))
            .await;
    assert_eq!((answer.status, &answer.body["code"]), (StatusCode::BAD_REQUEST, &json!("validation_error")));
    for field in ["username", "password", "email"] {
        assert!(answer.body["errors"][field].is_array(), "{field}: {:?}", answer.body);
    }
    let not_json =
        call_with(&app, Method::POST, "/api/v1/auth/register", &[("content-type", "text/plain")], None, None).await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn refresh_and_logout_refuse_what_is_not_a_refresh_token() {
    let app = app("off");
    let access = access_token(&tokens(), "ann");
    for path in ["/api/v1/auth/token/refresh", "/api/v1/auth/logout"] {
        for presented in ["garbage", access.as_str()] {
            let answer = call(&app, Method::POST, path, None, Some(json!({"refresh": presented}))).await;
            assert_eq!((answer.status, &answer.body["code"]), (StatusCode::UNAUTHORIZED, &json!("token_not_valid")));
        }
        let missing = call(&app, Method::POST, path, None, Some(json!({}))).await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn me_needs_a_valid_access_token() {
    let app = app("off");
    let anonymous = call(&app, Method::GET, "/api/v1/auth/me", None, None).await;
    assert_eq!((anonymous.status, &anonymous.body["code"]), (StatusCode::UNAUTHORIZED, &json!("not_authenticated")));
    let forged = call(&app, Method::GET, "/api/v1/auth/me", Some("e30.e30.sig"), None).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_login_scope_refuses_the_eleventh_attempt_in_a_minute() {
    let app = app("login=10/min");
    let attempt = json!({"username": "ann", "password": "wrong password"});
    for _ in 0..10 {
        let answer = call(&app, Method::POST, "/api/v1/auth/token", None, Some(attempt.clone())).await;
        // Counted, then the (unreachable) store is asked.
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", answer.body);
    }
    let eleventh = call(&app, Method::POST, "/api/v1/auth/token", None, Some(attempt)).await;
    assert_eq!((eleventh.status, &eleventh.body["code"]), (StatusCode::TOO_MANY_REQUESTS, &json!("throttled")));
    let other = json!({"username": "bob", "password": "wrong password"});
    let other = call(&app, Method::POST, "/api/v1/auth/token", None, Some(other)).await;
    assert_eq!(other.status, StatusCode::SERVICE_UNAVAILABLE, "another username has its own count");
}

#[tokio::test]
async fn the_email_scope_counts_each_target_address_and_each_client() {
    const RESET: &str = "/api/v1/auth/password/reset";
    // One address asked for again and again: its own count stops it.
    let one_address = app("email=5/hour");
    let ann = json!({"email": "ann@example.org"});
    for _ in 0..5 {
        let answer = call(&one_address, Method::POST, RESET, None, Some(ann.clone())).await;
        // Counted, then the (unreachable) queue is asked.
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", answer.body);
    }
    let sixth = call(&one_address, Method::POST, RESET, None, Some(ann)).await;
    assert_eq!((sixth.status, &sixth.body["code"]), (StatusCode::TOO_MANY_REQUESTS, &json!("throttled")));
    assert!(sixth.headers.contains_key("retry-after"));

    // A new address each time: the client's count stops it.
    let fresh = app("email=5/hour");
    for n in 0..5 {
        let answer = call(&fresh, Method::POST, RESET, None, Some(json!({"email": format!("a{n}@example.org")}))).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", answer.body);
    }
    let sixth = call(&fresh, Method::POST, RESET, None, Some(json!({"email": "a5@example.org"}))).await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn account_tokens_and_passwords_are_checked_before_the_store_is_asked() {
    let app = app("off");
    for token in ["", "made-up", "01ABC.short"] {
        let answer = call(&app, Method::POST, "/api/v1/auth/email/verify", None, Some(json!({"token": token}))).await;
        let expected = if token.is_empty() { "validation_error" } else { "bad_request" };
        assert_eq!((answer.status, &answer.body["code"]), (StatusCode::BAD_REQUEST, &json!(expected)), "{token:?}");
    }
    let confirm = json!({"token": "made-up", "password": "12345678"});
    let answer = call(&app, Method::POST, "/api/v1/auth/password/reset/confirm", None, Some(confirm)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["code"], "validation_error", "the password's rules first: {:?}", answer.body);
    assert!(answer.body["errors"]["password"].is_array());
    let confirm = json!({"token": "made-up", "password": "a-good-password"});
    let answer = call(&app, Method::POST, "/api/v1/auth/password/reset/confirm", None, Some(confirm)).await;
    assert_eq!((answer.status, &answer.body["code"]), (StatusCode::BAD_REQUEST, &json!("bad_request")));
    let anonymous = call(&app, Method::POST, "/api/v1/auth/email/verify/resend", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let bad_email = call(&app, Method::POST, "/api/v1/auth/password/reset", None, Some(json!({"email": "nope"}))).await;
    assert_eq!((bad_email.status, &bad_email.body["code"]), (StatusCode::BAD_REQUEST, &json!("validation_error")));
}
