//! Social sign-in's routes in process, with no provider configured but a
//! GitHub pointed at nothing: unknown providers, bad redirect URIs and bad
//! callbacks are refused before the table or a provider is asked.

use axum::Router;
use axum::http::{Method, StatusCode};
use serde_json::json;
use social_auth::{SocialState, providers, router};
use web::testing::{call, throttle, token_service, unreachable_table};

fn app() -> Router {
    let settings = |name: &str| match name {
        "SOCIAL_GITHUB_CLIENT_ID" => Some("client".to_owned()),
        "SOCIAL_GITHUB_CLIENT_SECRET" => Some("secret".to_owned()),
        "SOCIAL_GITHUB_BASE" | "SOCIAL_GITHUB_API" => Some("http://127.0.0.1:9".to_owned()),
        _ => None,
    };
    let providers = providers::from_lookup(settings, &reqwest::Client::new()).unwrap();
    let redirects = vec!["https://app.example/callback".to_owned()];
    router(SocialState::new(unreachable_table(), providers, redirects, token_service(), throttle("off")))
}

#[tokio::test]
async fn the_configured_providers_are_listed_and_others_do_not_exist() {
    let app = app();
    let listed = call(&app, Method::GET, "/api/v1/auth/social/providers", None, None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let ids: Vec<&str> = listed.body.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["github"]);
    let start = json!({"redirect_uri": "https://app.example/callback"});
    let unknown = call(&app, Method::POST, "/api/v1/auth/social/myspace/start", None, Some(start)).await;
    assert_eq!((unknown.status, &unknown.body["code"]), (StatusCode::NOT_FOUND, &json!("not_found")));
}

#[tokio::test]
async fn a_redirect_uri_off_the_list_and_a_callback_without_code_are_400s() {
    let app = app();
    let start = json!({"redirect_uri": "https://evil.example/callback"});
    let answer = call(&app, Method::POST, "/api/v1/auth/social/github/start", None, Some(start)).await;
    assert_eq!((answer.status, &answer.body["code"]), (StatusCode::BAD_REQUEST, &json!("validation_error")));
    assert!(answer.body["errors"]["redirect_uri"].is_array());
    let callback =
        call(&app, Method::POST, "/api/v1/auth/social/github/callback", None, Some(json!({"state": "s"}))).await;
    assert_eq!(callback.status, StatusCode::BAD_REQUEST);
    assert!(callback.body["errors"]["code"].is_array(), "{:?}", callback.body);
}
