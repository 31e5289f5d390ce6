//! The general throttle scopes at their limits, on a gateway of this test's
//! own whose functions run with tight `THROTTLE_RATES` (the shared stack
//! keeps them out of the other tests' reach). Counts are shared by every
//! instance: the gateway may run several of each function.

use std::path::PathBuf;

use e2e_tests::{assert_error, local_settings, status_and_json};
use local_gateway::{Gateway, GatewayConfig};
use reqwest::StatusCode;
use serde_json::json;

fn bin_dir() -> PathBuf {
    std::env::var("GATEWAY_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debug")))
}

/// Fixed windows restart on the minute: start a burst well inside one.
async fn clear_of_a_minute_boundary() {
    let second = time::OffsetDateTime::now_utc().second();
    if second >= 55 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - u64::from(second))).await;
    }
}

#[tokio::test]
async fn anonymous_and_signed_in_callers_are_throttled_apart_and_webhooks_never() {
    let mut config = GatewayConfig::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml"), bin_dir());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.max_instances_per_function = 2;
    config.extra_env = local_settings();
    // Per test run, so earlier runs' counters (same minute) do not count.
    let run = ulid::Ulid::new().to_string();
    config.extra_env.push((
        "THROTTLE_RATES".into(),
        "anon=1000/day,anon_burst=4/min,user=1000/day,user_burst=6/min,login=100/min".into(),
    ));
    // Anonymous: counted by client address. This run calls from an address
    // of its own in 127/8, so no other test's requests share its count; it
    // is PortOne's address too, so PortOne's webhook takes its calls.
    let bytes = ulid::Ulid::new().0.to_be_bytes();
    let address = std::net::IpAddr::from([127, bytes[15].max(2), bytes[14], bytes[13].max(1)]);
    config.extra_env.push(("PORTONE_WEBHOOK_ALLOWED_IPS".into(), address.to_string()));
    let gateway = Gateway::bind(config).await.unwrap();
    let base = format!("http://{}", gateway.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(gateway.run(async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();

    let from_own_address = reqwest::Client::builder().local_address(address).build().unwrap();
    clear_of_a_minute_boundary().await;
    let mut anonymous = Vec::new();
    for _ in 0..6 {
        let response = from_own_address.get(format!("{base}/api/v1/posts?page_size=1")).send().await.unwrap();
        anonymous.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry_after));
            let (status, body) = status_and_json(response).await;
            assert_error(status, &body, 429, "throttled");
        }
    }
    assert_eq!(&anonymous[..4], &[StatusCode::OK; 4], "anon_burst=4/min from {address}: {anonymous:?}");
    assert_eq!(&anonymous[4..], &[StatusCode::TOO_MANY_REQUESTS; 2], "{anonymous:?}");

    // Signed in: a user's own budget, not the address's.
    let username = format!("throttled{}", run.to_lowercase());
    let password = "throttle-scope-pass";
    let api = e2e_tests::Api::new();
    let (status, body) = status_and_json(
        api.post_json(
            "/api/v1/auth/register",
            &json!({"username": username, "email": "t@example.com", "password": password}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let access = api.sign_in(&username, password).await["access"].as_str().unwrap().to_owned();
    clear_of_a_minute_boundary().await;
    let mut signed_in = Vec::new();
    for _ in 0..8 {
        let response = http.get(format!("{base}/api/v1/auth/me")).bearer_auth(&access).send().await.unwrap();
        signed_in.push(response.status());
    }
    assert_eq!(&signed_in[..6], &[StatusCode::OK; 6], "user_burst=6/min: {signed_in:?}");
    assert_eq!(&signed_in[6..], &[StatusCode::TOO_MANY_REQUESTS; 2], "{signed_in:?}");

    // Stripe's webhook is never throttled: unsigned deliveries get their
    // 400, however many, from the address that is over its burst.
    for _ in 0..6 {
        let response = from_own_address
            .post(format!("{base}/api/v1/webhooks/stripe"))
            .header("content-type", "application/json")
            .header("stripe-signature", "t=1,v1=00")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    // Nor is PortOne's: a body naming no payment gets its 400, however many.
    for _ in 0..6 {
        let response = from_own_address
            .post(format!("{base}/api/v1/webhooks/portone"))
            .json(&json!({"status": "paid"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }

    stop.send(()).ok();
    serving.await.unwrap().unwrap();
}
