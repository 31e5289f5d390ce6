//! The docs page renders the API's operations in a real browser (Debian's
//! headless Chromium), from assets the stack serves itself: the page works
//! offline, with no CDN.

use std::process::Command;

use e2e_tests::{Api, status_and_json};
use reqwest::Method;

#[tokio::test]
async fn the_openapi_document_is_served() {
    let api = Api::new();
    let response = api.request(Method::GET, "/api/v1/openapi.json").send().await.unwrap();
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let (status, doc) = status_and_json(response).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/api/v1/auth/token"]["post"].is_object());
}

#[tokio::test]
async fn the_docs_page_renders_every_operation_in_headless_chromium() {
    let api = Api::new();
    let url = api.url("/api/v1/docs");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let profile = std::env::temp_dir().join(format!("docs-page-test-{}", ulid::Ulid::new()));
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=20000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(&url)
            .output()
            .unwrap_or_else(|e| panic!("{chromium} could not start ({e}); `make test` installs Debian's chromium"))
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(dom.contains("swagger-ui"), "the page did not render: {}", String::from_utf8_lossy(&output.stderr));
    let doc: serde_json::Value = serde_json::from_str(docs::OPENAPI_JSON).expect("the committed document is JSON");
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let rendered = format!("data-path=\"{path}\"");
            assert!(dom.contains(&rendered), "{method} {path} is not on the page");
        }
    }
    assert!(dom.contains("opblock-get") && dom.contains("opblock-post") && dom.contains("opblock-delete"));
}

/// `PUBLIC_DOCS=off`, as the template sets it for production: the document,
/// the page and its assets are 404 in the error format, like any unknown
/// path. A gateway of its own runs the docs function with the setting, so
/// the shared stack keeps its docs.
#[tokio::test]
async fn closed_docs_answer_404_through_the_gateway() {
    use local_gateway::{Gateway, GatewayConfig};

    let bin_dir = std::env::var("GATEWAY_BIN_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debug")));
    let mut config = GatewayConfig::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml"), bin_dir);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.max_instances_per_function = 1;
    config.extra_env = e2e_tests::local_settings();
    config.extra_env.push(("PUBLIC_DOCS".into(), "off".into()));
    let gateway = Gateway::bind(config).await.unwrap();
    let base = format!("http://{}", gateway.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(gateway.run(async move {
        let _ = stopped.await;
    }));

    for path in ["/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/swagger-ui-bundle.js"] {
        let (status, body) = status_and_json(reqwest::get(format!("{base}{path}")).await.unwrap()).await;
        e2e_tests::assert_error(status, &body, 404, "not_found");
    }
    // The shared stack (PUBLIC_DOCS unset: on) still serves them.
    let response = Api::new().request(Method::GET, "/api/v1/openapi.json").send().await.unwrap();
    assert_eq!(response.status(), 200);

    stop.send(()).ok();
    serving.await.unwrap().unwrap();
}
