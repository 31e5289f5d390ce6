//! The HTTP side: route a request, build its event, invoke, answer.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

use crate::body::{BodyError, DRAIN_LIMIT_BYTES, read_limited_draining};
use crate::config::GatewayConfig;
use crate::cors::CorsPolicy;
use crate::error::{GatewayError, InvokeError};
use crate::event::{EventContext, build_event, decode_response};
use crate::pool::{FunctionPool, FunctionSpec};
use crate::queues::QueuePoller;
use crate::routes::Router;
use crate::runtime_api::MAX_PAYLOAD_BYTES;
use crate::schedules::ScheduleRunner;
use crate::template::{RouteSpec, Template};

/// A gateway bound to its port, not serving yet.
pub struct Gateway {
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    state: Arc<AppState>,
    /// The template's SQS event sources; [`serve`] polls them.
    queue_pollers: Vec<QueuePoller>,
    /// The template's schedules; [`serve`] runs them.
    schedule_runners: Vec<ScheduleRunner>,
}

struct AppState {
    router: Router<String>,
    cors: Option<CorsPolicy>,
    /// By logical id; every function of the template has one, HTTP or not.
    pools: BTreeMap<String, FunctionPool>,
    local_port: u16,
}

impl Gateway {
    /// Loads the template, builds the routes and pools, and binds
    /// `config.listen` (port 0 picks a free port; see [`local_addr`]).
    ///
    /// [`local_addr`]: Gateway::local_addr
    pub async fn bind(config: GatewayConfig) -> Result<Gateway, GatewayError> {
        let template = Template::load(&config.template_path)?;
        let template_err = |message: String| GatewayError::Template { path: config.template_path.clone(), message };
        let extra_env = config.extra_env.clone();
        let env_lookup = move |name: &str| {
            extra_env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| std::env::var(name).ok())
        };
        let cors = template.cors.as_ref().map(|config| CorsPolicy::from_config(config, &env_lookup));

        let mut router = Router::new();
        let mut pools = BTreeMap::new();
        let mut queue_pollers = Vec::new();
        let mut schedule_runners = Vec::new();
        for def in &template.functions {
            for r in &def.http_routes {
                match &r.route {
                    RouteSpec::Path { method, path } => router.add(method, path, def.logical_id.clone()),
                    RouteSpec::Default => router.set_default(def.logical_id.clone()),
                }
                .map_err(|m| template_err(format!("{}.Events.{}: {m}", def.logical_id, r.event_name)))?;
            }
            let spec = FunctionSpec::from_def(def, &config.bin_dir, &config.extra_env);
            if !spec.binary.is_file() {
                // Not fatal: it may be built after the gateway starts.
                eprintln!(
                    "local-gateway: warning: {} has no binary at {} (yet)",
                    def.logical_id,
                    spec.binary.display()
                );
            }
            let pool = FunctionPool::new(spec, config.max_instances_per_function);
            for source in &def.sqs_sources {
                queue_pollers.push(QueuePoller {
                    function: def.logical_id.clone(),
                    pool: pool.clone(),
                    source: source.clone(),
                    env: config.extra_env.clone(),
                });
            }
            for source in &def.schedules {
                schedule_runners.push(ScheduleRunner {
                    function: def.logical_id.clone(),
                    pool: pool.clone(),
                    source: source.clone(),
                    every: config.schedule_every.unwrap_or(source.every),
                });
            }
            pools.insert(def.logical_id.clone(), pool);
        }

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| GatewayError::Bind { addr: config.listen, source })?;
        let local_addr = listener.local_addr().map_err(|source| GatewayError::Bind { addr: config.listen, source })?;

        let routes: Vec<String> = router.route_keys().map(|(key, f)| format!("{key} -> {f}")).collect();
        println!(
            "local-gateway: serving http://{local_addr} ({} function{}): {}",
            template.functions.len(),
            if template.functions.len() == 1 { "" } else { "s" },
            if routes.is_empty() { "no routes".to_owned() } else { routes.join(", ") }
        );

        Ok(Gateway {
            listener,
            local_addr,
            state: Arc::new(AppState { router, cors, pools, local_port: local_addr.port() }),
            queue_pollers,
            schedule_runners,
        })
    }

    /// Runs the template's schedules until `stop` turns true ([`serve`]
    /// does; a gateway embedded in a test may, alone).
    pub fn spawn_schedules(&mut self, stop: tokio::sync::watch::Receiver<bool>) {
        for runner in std::mem::take(&mut self.schedule_runners) {
            tokio::spawn(runner.run(stop.clone()));
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The pool of the function with this logical id (an SQS poller invokes
    /// through it).
    pub fn pool(&self, logical_id: &str) -> Option<FunctionPool> {
        self.state.pools.get(logical_id).cloned()
    }

    pub fn pools(&self) -> impl Iterator<Item = &FunctionPool> {
        self.state.pools.values()
    }

    /// Serves until `shutdown` completes; then fails what is in flight and
    /// kills every instance.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), GatewayError> {
        let pools: Vec<FunctionPool> = self.state.pools.values().cloned().collect();
        let closing = pools.clone();
        let app = axum::Router::new().fallback(handle).with_state(self.state);
        let served = axum::serve(self.listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                shutdown.await;
                // Closing the pools first makes in-flight invocations end at
                // once (503), so the graceful wait for connections is short.
                for pool in &closing {
                    pool.close();
                }
            })
            .await;
        for pool in &pools {
            pool.shutdown().await;
        }
        served.map_err(GatewayError::Serve)
    }
}

/// [`Gateway::bind`], the template's SQS event sources polled (see
/// [`crate::queues`]) and its schedules run ([`crate::schedules`]), then
/// [`Gateway::run`]. A gateway embedded with `bind` and `run` alone polls no
/// queue and runs no schedule.
pub async fn serve(
    config: GatewayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let mut gateway = Gateway::bind(config).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    for poller in std::mem::take(&mut gateway.queue_pollers) {
        tokio::spawn(poller.run(stopped.clone()));
    }
    gateway.spawn_schedules(stopped.clone());
    gateway
        .run(async move {
            shutdown.await;
            let _ = stop.send(true);
        })
        .await
}

/// A gateway-made error in the API's error format
/// (`{"code","message","errors":null}`).
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    #[derive(serde::Serialize)]
    struct ErrorBody<'a> {
        code: &'a str,
        message: &'a str,
        errors: Option<()>,
    }
    let body = serde_json::to_string(&ErrorBody { code, message, errors: None })
        .unwrap_or_else(|_| String::from(r#"{"code":"internal_error","message":"Internal error.","errors":null}"#));
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

/// An answer the gateway makes itself instead of the function's.
struct GatewayReply {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
}

impl GatewayReply {
    const NOT_FOUND: GatewayReply = GatewayReply::new(StatusCode::NOT_FOUND, "not_found", "Not found.");
    const TOO_LARGE: GatewayReply = GatewayReply::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "Request body is larger than the 6 MiB Lambda accepts.",
    );
    const UNREADABLE: GatewayReply =
        GatewayReply::new(StatusCode::BAD_REQUEST, "bad_request", "The request body could not be read.");
    const BAD_GATEWAY: GatewayReply =
        GatewayReply::new(StatusCode::BAD_GATEWAY, "bad_gateway", "The function failed or gave an invalid response.");
    const TIMEOUT: GatewayReply =
        GatewayReply::new(StatusCode::GATEWAY_TIMEOUT, "gateway_timeout", "The function did not answer in time.");
    const SHUTTING_DOWN: GatewayReply =
        GatewayReply::new(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", "The gateway is shutting down.");
    const INTERNAL: GatewayReply =
        GatewayReply::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Internal error.");

    const fn new(status: StatusCode, code: &'static str, message: &'static str) -> GatewayReply {
        GatewayReply { status, code, message }
    }
}

/// The caller's `X-Request-Id` if well formed (API.md: 1-128 of letters,
/// digits and `._:-`).
fn caller_request_id(headers: &http::HeaderMap) -> Option<HeaderValue> {
    let v = headers.get("x-request-id")?;
    let s = v.to_str().ok()?;
    let ok = (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    ok.then(|| v.clone())
}

async fn handle(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let apigw_request_id = uuid::Uuid::new_v4().to_string();
    let apigw_id_value = HeaderValue::from_str(&apigw_request_id).ok();
    let caller_id = caller_request_id(req.headers());
    if let Some(preflight) = state.cors.as_ref().and_then(|c| c.preflight(req.method(), req.headers())) {
        return preflight.map(|()| Body::empty());
    }
    let request_headers = state.cors.is_some().then(|| req.headers().clone());
    let mut res = match route_and_invoke(&state, peer, req, &apigw_request_id).await {
        Ok(res) => res,
        Err(reply) => {
            let mut res = error_response(reply.status, reply.code, reply.message);
            // Every response carries X-Request-Id (API.md); functions set
            // their own, so only the gateway's errors need one here.
            if let Some(id) = caller_id.or_else(|| apigw_id_value.clone()) {
                res.headers_mut().insert("x-request-id", id);
            }
            res
        }
    };
    if let Some(v) = apigw_id_value {
        // API Gateway's own request id header.
        res.headers_mut().insert("apigw-requestid", v);
    }
    if let (Some(cors), Some(request_headers)) = (&state.cors, &request_headers) {
        cors.decorate(request_headers, res.headers_mut());
    }
    res
}

async fn route_and_invoke(
    state: &AppState,
    peer: SocketAddr,
    req: Request,
    apigw_request_id: &str,
) -> Result<Response, GatewayReply> {
    let (parts, body) = req.into_parts();
    let matched = state.router.find(&parts.method, parts.uri.path()).ok_or(GatewayReply::NOT_FOUND)?;
    let declared =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT_BYTES as u64) {
        return Err(GatewayReply::TOO_LARGE);
    }
    let body = read_limited_draining(body, MAX_PAYLOAD_BYTES).await.map_err(|e| match e {
        BodyError::TooLarge => GatewayReply::TOO_LARGE,
        BodyError::Read(_) => GatewayReply::UNREADABLE,
    })?;

    let ctx = EventContext {
        peer,
        local_port: state.local_port,
        request_id: apigw_request_id.to_owned(),
        now: time::OffsetDateTime::now_utc(),
    };
    let event = build_event(&parts, &body, matched.route_key, matched.path_params.clone(), &ctx);
    let payload = Bytes::from(serde_json::to_vec(&event).map_err(|_| GatewayReply::INTERNAL)?);
    let pool = state.pools.get(matched.target).cloned().ok_or(GatewayReply::INTERNAL)?;
    // The invocation runs in its own task so a client that hangs up does not
    // cancel it half-way (API Gateway does not either) and the instance ends
    // in a known state.
    let outcome = tokio::spawn(async move { pool.invoke(payload).await }).await;
    match outcome {
        Ok(Ok(answer)) => match decode_response(&answer) {
            Ok(res) => Ok(res.map(Body::from)),
            Err(e) => {
                eprintln!("local-gateway: {}: {e}", matched.target);
                Err(GatewayReply::BAD_GATEWAY)
            }
        },
        Ok(Err(InvokeError::TimedOut { .. })) => Err(GatewayReply::TIMEOUT),
        Ok(Err(InvokeError::ShuttingDown { .. })) => Err(GatewayReply::SHUTTING_DOWN),
        // Crashed / Spawn: the pool has already said why on stderr.
        Ok(Err(_)) => Err(GatewayReply::BAD_GATEWAY),
        Err(_) => Err(GatewayReply::INTERNAL),
    }
}
