//! The Lambda Runtime API, one listener per instance.
//!
//! Each function instance gets its own loopback listener (its
//! `AWS_LAMBDA_RUNTIME_API`), so a request on it can only concern that
//! instance: no routing by instance, and a listener dies with its instance.
//! The pool hands invocations in through a channel that `/next` long-polls,
//! and learns what the runtime did through an event channel.
//!
//! Endpoints are those `lambda_runtime` 1.x calls (see its `requests.rs`):
//! `GET /2018-06-01/runtime/invocation/next`,
//! `POST /2018-06-01/runtime/invocation/{id}/response`,
//! `POST /2018-06-01/runtime/invocation/{id}/error`,
//! `POST /2018-06-01/runtime/init/error`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::body::{BodyError, read_limited};

/// Lambda's limit on a synchronous response (and request) payload.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// One invocation handed to an instance.
#[derive(Debug)]
pub(crate) struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    /// Counted from delivery, to compute `Lambda-Runtime-Deadline-Ms`.
    pub timeout: Duration,
}

/// What the runtime inside the instance did.
#[derive(Debug)]
pub(crate) enum RuntimeEvent {
    /// `/next` returned this invocation to the runtime.
    Delivered {
        request_id: String,
        at: Instant,
    },
    Response {
        request_id: String,
        body: Bytes,
    },
    FunctionError {
        request_id: String,
        error_type: String,
        body: Bytes,
    },
    InitError {
        error_type: String,
        body: Bytes,
    },
}

impl RuntimeEvent {
    /// The invocation it concerns; `None` for init errors, which concern
    /// whatever the instance was about to do.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            RuntimeEvent::Delivered { request_id, .. }
            | RuntimeEvent::Response { request_id, .. }
            | RuntimeEvent::FunctionError { request_id, .. } => Some(request_id),
            RuntimeEvent::InitError { .. } => None,
        }
    }
}

/// The pool's handle on one instance's Runtime API. Dropping it stops the
/// listener.
pub(crate) struct RuntimeApi {
    pub addr: SocketAddr,
    pub invocations: mpsc::UnboundedSender<Invocation>,
    pub events: mpsc::UnboundedReceiver<RuntimeEvent>,
    /// When the runtime first called `/next`: the end of its init.
    pub first_poll: Arc<OnceLock<Instant>>,
    server: JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct ApiState {
    arn: String,
    inbox: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    events: mpsc::UnboundedSender<RuntimeEvent>,
    first_poll: Arc<OnceLock<Instant>>,
    /// The invocation delivered and not answered yet; answers for any other
    /// id are refused, as Lambda does.
    current: Mutex<Option<String>>,
}

impl RuntimeApi {
    /// Binds a loopback listener on a free port and serves the Runtime API
    /// for an instance of `function_name`.
    pub async fn start(function_name: &str) -> std::io::Result<RuntimeApi> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (inv_tx, inv_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let first_poll = Arc::new(OnceLock::new());
        let state = Arc::new(ApiState {
            arn: format!("arn:aws:lambda:us-east-1:{}:function:{function_name}", crate::event::ACCOUNT_ID),
            inbox: tokio::sync::Mutex::new(inv_rx),
            events: ev_tx,
            first_poll: first_poll.clone(),
            current: Mutex::new(None),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state);
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("local-gateway: runtime API on {addr} failed: {e}");
            }
        });
        Ok(RuntimeApi { addr, invocations: inv_tx, events: ev_rx, first_poll, server })
    }
}

/// Lambda's error body for the runtime.
fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, [(header::CONTENT_TYPE, "application/json")], r#"{"status":"OK"}"#).into_response()
}

async fn next(State(st): State<Arc<ApiState>>) -> Response {
    let _ = st.first_poll.set(Instant::now());
    // One poller at a time takes the next invocation; a runtime that polls
    // concurrently simply has its extra polls wait.
    let invocation = {
        let mut inbox = st.inbox.lock().await;
        inbox.recv().await
    };
    let Some(inv) = invocation else {
        // The instance is being discarded.
        return runtime_error(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", "instance is shutting down");
    };
    let now = SystemTime::now();
    let deadline_ms = (now + inv.timeout).duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    if let Ok(mut cur) = st.current.lock() {
        *cur = Some(inv.request_id.clone());
    }
    let _ = st.events.send(RuntimeEvent::Delivered { request_id: inv.request_id.clone(), at: Instant::now() });
    let mut res = Response::new(Body::from(inv.payload));
    let h = res.headers_mut();
    let pairs = [
        ("content-type", "application/json".to_owned()),
        ("lambda-runtime-aws-request-id", inv.request_id.clone()),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        ("lambda-runtime-invoked-function-arn", st.arn.clone()),
        ("lambda-runtime-trace-id", trace_id(now)),
    ];
    for (name, value) in pairs {
        if let Ok(v) = value.parse() {
            h.insert(name, v);
        }
    }
    res
}

/// Takes the current invocation if `id` is it.
fn take_current(st: &ApiState, id: &str) -> bool {
    match st.current.lock() {
        Ok(mut cur) if cur.as_deref() == Some(id) => {
            *cur = None;
            true
        }
        _ => false,
    }
}

fn invalid_id() -> Response {
    runtime_error(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID")
}

async fn response(State(st): State<Arc<ApiState>>, Path(id): Path<String>, body: Body) -> Response {
    if !take_current(&st, &id) {
        return invalid_id();
    }
    match read_limited(body, MAX_PAYLOAD_BYTES).await {
        Ok(body) => {
            let _ = st.events.send(RuntimeEvent::Response { request_id: id, body });
            accepted()
        }
        Err(e) => {
            let message = match e {
                BodyError::TooLarge => {
                    format!("Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes).")
                }
                BodyError::Read(e) => format!("could not read response: {e}"),
            };
            let _ = st.events.send(RuntimeEvent::FunctionError {
                request_id: id,
                error_type: "Function.ResponseSizeTooLarge".into(),
                body: Bytes::from(message.clone()),
            });
            runtime_error(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", &message)
        }
    }
}

fn error_type(headers: &HeaderMap) -> String {
    headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).unwrap_or("Unhandled").to_owned()
}

async fn error(State(st): State<Arc<ApiState>>, Path(id): Path<String>, headers: HeaderMap, body: Body) -> Response {
    if !take_current(&st, &id) {
        return invalid_id();
    }
    let body = read_limited(body, MAX_PAYLOAD_BYTES).await.unwrap_or_default();
    let _ = st.events.send(RuntimeEvent::FunctionError { request_id: id, error_type: error_type(&headers), body });
    accepted()
}

async fn init_error(State(st): State<Arc<ApiState>>, headers: HeaderMap, body: Body) -> Response {
    let body = read_limited(body, MAX_PAYLOAD_BYTES).await.unwrap_or_default();
    let _ = st.events.send(RuntimeEvent::InitError { error_type: error_type(&headers), body });
    accepted()
}

/// An X-Ray style trace header: `Root=1-<epoch hex>-<24 hex>;Sampled=0`.
fn trace_id(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let rand = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{secs:08x}-{};Parent={};Sampled=0", &rand[..24], &parent[..16])
}
