//! CORS through the gateway, with the template's CorsConfiguration and the
//! local origins of CORS_ALLOWED_ORIGINS.

use e2e_tests::{Api, required_setting};
use reqwest::{Method, StatusCode};

fn allowed_origin() -> String {
    required_setting("CORS_ALLOWED_ORIGINS").split(',').next().unwrap().trim().to_owned()
}

#[tokio::test]
async fn preflights_from_allowed_origins_are_answered() {
    let api = Api::new();
    let origin = allowed_origin();
    let response = api
        .request(Method::OPTIONS, "/api/v1/posts")
        .header("origin", &origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let h = response.headers();
    assert_eq!(h["access-control-allow-origin"], origin.as_str());
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(h["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    assert!(h["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let api = Api::new();
    let response = api
        .request(Method::OPTIONS, "/api/v1/posts")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(!response.headers().contains_key("access-control-allow-origin"));
    let response =
        api.request(Method::GET, "/api/v1/posts").header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!response.headers().contains_key("access-control-allow-origin"));
    assert!(!response.headers().contains_key("access-control-allow-credentials"));
}

#[tokio::test]
async fn actual_requests_from_allowed_origins_carry_the_headers() {
    let api = Api::new();
    let origin = allowed_origin();
    let response = api.request(Method::GET, "/api/v1/auth/me").header("origin", &origin).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let h = response.headers();
    assert_eq!(h["access-control-allow-origin"], origin.as_str());
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(h["access-control-expose-headers"].to_str().unwrap().contains("x-request-id"));
    // Without an Origin, nothing CORS.
    let response = api.request(Method::GET, "/api/v1/auth/me").send().await.unwrap();
    assert!(!response.headers().contains_key("access-control-allow-origin"));
}
