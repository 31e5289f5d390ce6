//! With DynamoDB unreachable, requests get 503 `service_unavailable` with
//! `Retry-After`, quickly (SDK timeouts and retries are bounded), and the
//! stack recovers by itself once it is back. The outage is a TCP proxy in
//! front of the local DynamoDB that this test cuts and restores, with a
//! gateway of its own pointed through it, so the shared stack is never
//! disturbed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use e2e_tests::{assert_error, local_settings, required_setting, status_and_json};
use local_gateway::{Gateway, GatewayConfig};
use serde_json::json;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards to `upstream` while `up` is true; while false, every
/// connection (new or open) is closed at once.
async fn start_cuttable_proxy(upstream: String) -> (SocketAddr, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (switch, watcher) = watch::channel(true);
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else { return };
            let mut up = watcher.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if !*up.borrow() {
                    return;
                }
                let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                tokio::select! {
                    _ = copy_bidirectional(&mut client, &mut server) => {}
                    _ = up.wait_for(|on| !*on) => {}
                }
            });
        }
    });
    (address, switch)
}

fn bin_dir() -> PathBuf {
    std::env::var("GATEWAY_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debug")))
}

#[tokio::test]
async fn an_unreachable_store_is_a_quick_503_and_the_stack_recovers() {
    let dynamodb = required_setting("AWS_ENDPOINT_URL_DYNAMODB");
    let upstream = dynamodb.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let (proxy, switch) = start_cuttable_proxy(upstream).await;

    let mut config = GatewayConfig::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml"), bin_dir());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.max_instances_per_function = 1;
    config.extra_env = local_settings();
    config.extra_env.push(("AWS_ENDPOINT_URL_DYNAMODB".into(), format!("http://{proxy}")));
    let gateway = Gateway::bind(config).await.unwrap();
    let base = format!("http://{}", gateway.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(gateway.run(async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let list = || http.get(format!("{base}/api/v1/posts?page_size=1")).send();

    let (status, body) = status_and_json(list().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");

    switch.send_replace(false);
    let started = Instant::now();
    let response = list().await.unwrap();
    let elapsed = started.elapsed();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = status_and_json(response).await;
    assert_error(status, &body, 503, "service_unavailable");
    assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1)));
    assert!(!body.to_string().contains("dynamodb"), "no internal detail: {body}");
    // Well inside the function's 10 s timeout: never a hang into a 504.
    assert!(elapsed < Duration::from_secs(9), "{elapsed:?}");

    // A write fails the same way, and nothing half-done is left behind.
    let register = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"username": e2e_tests::unique_username(), "email": "d@o.wn", "password": "outage-pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), 503);

    switch.send_replace(true);
    let (status, body) = status_and_json(list().await.unwrap()).await;
    assert_eq!(status, 200, "recovered by itself: {body}");

    stop.send(()).ok();
    serving.await.unwrap().unwrap();
}
