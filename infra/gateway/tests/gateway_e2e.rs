//! End to end: the gateway in-process on a free port, the
//! `misbehaving-function` fixture binary as the function, real HTTP.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use local_gateway::{FunctionPool, Gateway, GatewayConfig, GatewayError};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const TEMPLATE: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    Timeout: 1
    MemorySize: 128
    Environment:
      Variables:
        FIXTURE_TABLE_NAME: !Ref Table
        FIXTURE_GREETING: hello
        FIXTURE_OVERRIDDEN: from-template
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Misbehaving:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: misbehaving-function
    Properties:
      CodeUri: .
      Events:
        Echo:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /echo/{id}
            Method: ANY
        EchoRest:
          Type: HttpApi
          Properties:
            Path: /echo/{id}/{rest+}
            Method: any
        Slow:
          Type: HttpApi
          Properties:
            Path: /slow
            Method: GET
        Crash:
          Type: HttpApi
          Properties:
            Path: /crash
            Method: ANY
        Sleep:
          Type: HttpApi
          Properties:
            Path: /sleep
            Method: ANY
        Fail:
          Type: HttpApi
          Properties:
            Path: /fail
            Method: ANY
        Cookies:
          Type: HttpApi
          Properties:
            Path: /cookies
            Method: GET
        Binary:
          Type: HttpApi
          Properties:
            Path: /binary
            Method: GET
"#;

struct TestGateway {
    base: String,
    pool: FunctionPool,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), GatewayError>>>,
    dir: PathBuf,
    http: reqwest::Client,
}

impl TestGateway {
    async fn start(max_instances: usize) -> TestGateway {
        let dir = std::env::temp_dir().join(format!("local-gateway-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let template_path = dir.join("template.yaml");
        std::fs::write(&template_path, TEMPLATE).unwrap();
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_misbehaving-function")).parent().unwrap().to_path_buf();
        let config = GatewayConfig {
            template_path,
            bin_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_instances_per_function: max_instances,
            extra_env: vec![("FIXTURE_OVERRIDDEN".into(), "from-config".into())],
            schedule_every: None,
        };
        let gateway = Gateway::bind(config).await.unwrap();
        let addr = gateway.local_addr();
        assert_ne!(addr.port(), 0);
        let pool = gateway.pool("Misbehaving").unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway.run(async {
            let _ = rx.await;
        }));
        TestGateway {
            base: format!("http://{addr}"),
            pool,
            shutdown: Some(tx),
            task: Some(task),
            dir,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task).await.unwrap().unwrap().unwrap();
        }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn json_body(res: reqwest::Response) -> Value {
    let text = res.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts a gateway-made error: status, JSON content type, nosniff, and
/// exactly `{"code","message","errors":null}`.
async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let body = json_body(res).await;
    let obj = body.as_object().unwrap();
    assert_eq!(obj.len(), 3, "{body}");
    assert_eq!(body["code"], code);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(body["errors"], Value::Null);
    body
}

async fn echo_ok(gw: &TestGateway) -> Value {
    let res = gw.get("/echo/1").await;
    assert_eq!(res.status(), 200);
    json_body(res).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_round_trip() {
    let gw = TestGateway::start(2).await;
    let res = gw
        .http
        .post(gw.url("/echo/42/a/b%20c?x=1&x=2&y=z%21"))
        .header("x-custom", "v1")
        .header("cookie", "s=1; t=2")
        .body("hello body")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-fixture"], "echo");
    assert!(res.headers().contains_key("apigw-requestid"));
    let e = json_body(res).await;
    assert_eq!(e["method"], "POST");
    assert_eq!(e["path"], "/echo/42/a/b%20c");
    assert_eq!(e["route_key"], "ANY /echo/{id}/{rest+}");
    assert_eq!(e["path_params"], json!({"id": ["42"], "rest": ["a/b c"]}));
    assert_eq!(e["query"], json!({"x": ["1", "2"], "y": ["z!"]}));
    assert_eq!(e["body"], "hello body");
    assert_eq!(e["headers"]["x-custom"], "v1");
    assert_eq!(e["headers"]["cookie"], "s=1; t=2");
    assert_eq!(e["headers"]["x-forwarded-proto"], "http");
    assert!(e["uri"].as_str().unwrap().starts_with(&format!("{}/echo/42/", gw.base)), "{}", e["uri"]);
    assert!(e["request_id"].as_str().is_some_and(|id| id.len() == 36));
    // Template literals arrive, `!Ref` values do not, config's extra env wins.
    assert_eq!(e["env"]["FIXTURE_GREETING"], "hello");
    assert_eq!(e["env"]["FIXTURE_TABLE_NAME"], Value::Null);
    assert_eq!(e["env"]["FIXTURE_OVERRIDDEN"], "from-config");
    assert_eq!(e["env"]["AWS_LAMBDA_FUNCTION_NAME"], "Misbehaving");
    assert_eq!(e["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    assert!(e["env"]["AWS_REGION"].is_string());

    let res = gw.http.delete(gw.url("/echo/7")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let e = json_body(res).await;
    assert_eq!(e["method"], "DELETE");
    assert_eq!(e["route_key"], "ANY /echo/{id}");
    assert_eq!(e["path_params"], json!({"id": ["7"]}));
    assert_eq!(e["query"], json!({}));
    assert_eq!(e["body"], "");

    // A body that is not UTF-8 travels base64-encoded and arrives intact.
    let res = gw.http.put(gw.url("/echo/bin")).body(vec![0xffu8, b'o', b'k']).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json_body(res).await["body"], "\u{fffd}ok");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_404_in_the_error_format() {
    let gw = TestGateway::start(1).await;
    let res = gw.get("/nope").await;
    let body = assert_error(res, 404, "not_found").await;
    assert_eq!(body, json!({"code": "not_found", "message": "Not found.", "errors": null}));
    // Gateway-made errors carry X-Request-Id: the caller's if well formed.
    let res = gw.http.get(gw.url("/nope")).header("x-request-id", "abc.1:2-3").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc.1:2-3");
    let res = gw.http.get(gw.url("/nope")).header("x-request-id", "bad id!").send().await.unwrap();
    assert_ne!(res.headers()["x-request-id"], "bad id!");
    assert!(!res.headers()["x-request-id"].is_empty());
    // Known path, wrong method.
    assert_error(gw.http.post(gw.url("/slow")).send().await.unwrap(), 404, "not_found").await;
    // A param never matches an empty segment.
    assert_error(gw.get("/echo/").await, 404, "not_found").await;
    // Nothing was started for any of these.
    assert_eq!(gw.pool.live_instances(), 0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_is_502_and_the_instance_is_replaced() {
    let gw = TestGateway::start(1).await;
    let before = echo_ok(&gw).await["pid"].clone();
    assert_error(gw.get("/crash").await, 502, "bad_gateway").await;
    let after = echo_ok(&gw).await["pid"].clone();
    assert_ne!(before, after, "a crashed instance must not be reused");
    assert_eq!(gw.pool.live_instances(), 1);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_error_is_502() {
    let gw = TestGateway::start(1).await;
    assert_error(gw.get("/fail").await, 502, "bad_gateway").await;
    echo_ok(&gw).await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_is_504_and_the_instance_is_replaced() {
    let gw = TestGateway::start(1).await;
    let before = echo_ok(&gw).await["pid"].clone();
    let started = Instant::now();
    assert_error(gw.get("/sleep").await, 504, "gateway_timeout").await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(8), "took {took:?}");
    let after = echo_ok(&gw).await["pid"].clone();
    assert_ne!(before, after, "a timed-out instance must not be reused");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_scale_up_to_the_limit() {
    const LIMIT: usize = 3;
    let gw = TestGateway::start(LIMIT).await;
    let mut requests = Vec::new();
    for _ in 0..8 {
        let http = gw.http.clone();
        let url = gw.url("/slow?ms=400");
        requests.push(tokio::spawn(async move { http.get(url).send().await }));
    }
    let mut max_live = 0;
    while requests.iter().any(|r| !r.is_finished()) {
        max_live = max_live.max(gw.pool.live_instances());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut pids = BTreeSet::new();
    for r in requests {
        let res = r.await.unwrap().unwrap();
        assert_eq!(res.status(), 200);
        pids.insert(json_body(res).await["pid"].as_u64().unwrap());
    }
    assert!(pids.len() > 1, "only one instance served 8 concurrent requests");
    assert!(pids.len() <= LIMIT, "{} instances for a limit of {LIMIT}", pids.len());
    assert!(max_live <= LIMIT, "{max_live} live instances for a limit of {LIMIT}");
    // They stay warm.
    assert_eq!(gw.pool.live_instances(), pids.len());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_413_without_invoking() {
    let gw = TestGateway::start(1).await;
    let body = vec![b'a'; 6 * 1024 * 1024 + 1];
    let res = gw.http.post(gw.url("/echo/1")).body(body).send().await.unwrap();
    assert_error(res, 413, "payload_too_large").await;
    assert_eq!(gw.pool.live_instances(), 0);
    // Just under the limit still goes through (base64 would not be needed).
    let body = vec![b'a'; 1024 * 1024];
    let res = gw.http.post(gw.url("/echo/1")).body(body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json_body(res).await["body"].as_str().unwrap().len(), 1024 * 1024);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_and_binary_responses() {
    let gw = TestGateway::start(1).await;
    let res = gw.get("/cookies").await;
    assert_eq!(res.status(), 200);
    let cookies: Vec<_> = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2; HttpOnly"]);
    let res = gw.get("/binary").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &[0xff, 0x00, 0xfe, 0x80]);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_kills_every_instance() {
    let gw = TestGateway::start(2).await;
    let pid = echo_ok(&gw).await["pid"].as_u64().unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    let pool = gw.pool.clone();
    gw.stop().await;
    assert_eq!(pool.live_instances(), 0);
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "instance {pid} outlived the gateway");
}
