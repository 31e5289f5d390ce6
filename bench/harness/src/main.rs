//! `make bench`: every function beside the floors (the smallest
//! `lambda_http` function, and one that makes a single DynamoDB read with
//! the functions' SDK set-up, both built the same way), in one run:
//!
//! 1. cold starts: spawn → first poll of the Runtime API (init) and spawn →
//!    first answer, over `BENCH_SPAWNS` fresh processes each;
//! 2. peak memory after `BENCH_REQUESTS` warm requests;
//! 3. binary and `bootstrap.zip` sizes;
//! 4. CPU time per warm request of the operations that matter, beside the
//!    floor and the SDK floor (one DynamoDB `GetItem` with our SDK set-up);
//! 5. AWS calls per operation, from the functions' own log lines;
//! 6. latency mode: the operations again with every AWS call delayed by a
//!    proxy, for their round trips on the critical path and the DynamoDB
//!    capacity, SQS and SES calls a bill counts;
//! 7. dollars per million operations, from those figures;
//! 8. throughput through the local gateway under `wrk`.
//!
//! It runs inside `infra/stack.sh bench` (DynamoDB Local, moto,
//! localstripe, the seeded catalog) against release binaries, and writes `bench/results/latest.md`,
//! `latest.json` and the chart `latest.svg`.

mod chart;
mod cost;
mod events;
mod flame;
mod latency;
mod load;
mod measure;
mod profile;
mod report;
mod setup;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use local_gateway::{FunctionSpec, Template};
use serde_json::json;

use crate::events::{AwsCalls, HttpEvents, HttpRequest, sqs_batch};
use crate::latency::{Proxies, Tally};
use crate::measure::{
    Check, Spread, Subject, aws_calls_per_operation, batch_ok, graphql_ok, http_200, http_ok, round1, sweep_ok,
};
use crate::report::{FunctionResult, LatencyReport, LatencyResult, OperationResult, Report};

const FLOOR: &str = "FloorFunction";
/// The SDK floor: one consistent `GetItem` of a small item per request.
const SDK_FLOOR: &str = "SdkFloorFunction";
/// The key (`pk` and `sk`) of the item the SDK floor reads.
const SDK_FLOOR_KEY: &str = "bench-sdk-floor";

/// The floors: built like the functions, measured like them, and held to
/// no target.
pub fn is_floor(function: &str) -> bool {
    function == FLOOR || function == SDK_FLOOR
}

pub fn fresh_request_id() -> String {
    format!("bench-{}", ulid::Ulid::new())
}

struct Settings {
    root: PathBuf,
    bin_dir: PathBuf,
    out_dir: PathBuf,
    spawns: usize,
    requests: usize,
    wrk_seconds: u32,
    wrk_connections: u32,
    /// Latency mode's delay per AWS call (`None`: latency mode off).
    latency_delay: Option<Duration>,
    latency_requests: usize,
}

fn number(name: &str, default: usize) -> Result<usize, String> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().map_err(|_| format!("{name}={v:?} is not a whole number")),
        Err(_) => Ok(default),
    }
}

impl Settings {
    fn from_env() -> Result<Settings, String> {
        let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        let bin_dir = match std::env::var("BENCH_BIN_DIR") {
            Ok(dir) => PathBuf::from(dir),
            Err(_) => std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(Path::to_path_buf))
                .ok_or("cannot tell where the binaries are; set BENCH_BIN_DIR")?,
        };
        let spawns = number("BENCH_SPAWNS", 20)?.max(1);
        let requests = number("BENCH_REQUESTS", 1000)?.max(20);
        Ok(Settings {
            out_dir: std::env::var("BENCH_OUT").map(PathBuf::from).unwrap_or_else(|_| root.join("bench/results")),
            root,
            bin_dir,
            spawns,
            requests,
            wrk_seconds: number("BENCH_WRK_SECONDS", 10)? as u32,
            wrk_connections: number("BENCH_WRK_CONNECTIONS", 4)? as u32,
            latency_delay: match number("BENCH_LATENCY_MS", 20)? {
                0 => None,
                ms => Some(Duration::from_millis(ms as u64)),
            },
            latency_requests: number("BENCH_LATENCY_REQUESTS", 50)?.max(10),
        })
    }
}

/// One measured operation: a function, the event it takes, and how its
/// answer is checked.
struct Operation {
    name: &'static str,
    function: &'static str,
    /// One event per warm request (the first is the cold one), with the
    /// request ids its log lines carry.
    events: Vec<(Bytes, String)>,
    check: Check,
}

fn http_events(
    events: &HttpEvents,
    n: usize,
    make: impl Fn(usize) -> HttpRequest,
) -> Result<Vec<(Bytes, String)>, String> {
    (0..n)
        .map(|i| {
            let id = fresh_request_id();
            events.event(&make(i), &id).map(|(_, event)| (event, id))
        })
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let mut bench = Bench::prepare(Settings::from_env()?)?;
    let fixtures = bench.set_up().await?;
    let requests = Requests::new(&fixtures);
    let redeliveries = bench.every_operation(&requests).await?;
    println!("bench: warm runs done ({:.1} s)", bench.started.elapsed().as_secs_f64());
    let latency = bench.latency_mode(&requests).await?;
    let profiles = bench.flame_graphs(&requests).await?;
    let probes = Probes {
        requests,
        paid_event: redeliveries.paid_event,
        queue_arn: redeliveries.queue_arn,
        sent_receipt: redeliveries.sent_receipt,
    };
    let functions = bench.cold_starts(&probes).await?;
    println!("bench: cold starts done ({:.1} s)", bench.started.elapsed().as_secs_f64());
    let throughput =
        throughput(&bench.settings, &bench.template_path, &bench.floor_template_path, &probes.requests.post_path)
            .await?;
    bench.report(functions, latency, throughput, profiles)
}

/// How the operations are run: the warm run, or a run of latency mode.
struct Pass {
    /// Warm events per operation (after one cold event).
    requests: usize,
    /// Messages per batch handed to the queue-fed functions.
    batch_size: usize,
    /// Latency mode: every AWS call through the proxies.
    proxies: Option<Proxies>,
}

/// One operation's run in latency mode, at one delay.
struct LatencyRun {
    operation: &'static str,
    function: &'static str,
    delay: Duration,
    duration: Spread,
    /// Every event of the run, the cold first one included.
    invocations: usize,
    /// What went through the proxies during the run.
    tally: Tally,
}

/// Events the cold starts send again: already handled, so every fresh
/// instance answers them the same way.
struct Redeliveries {
    paid_event: HttpRequest,
    queue_arn: String,
    sent_receipt: (String, String),
}

/// What the steps share: where things are, the functions under test, and
/// what the warm runs have found so far.
struct Bench {
    settings: Settings,
    started: std::time::Instant,
    work_dir: PathBuf,
    log_dir: PathBuf,
    template_path: PathBuf,
    floor_template_path: PathBuf,
    specs: HashMap<String, FunctionSpec>,
    /// The functions in the templates' order, the floor first.
    order: Vec<String>,
    http: HttpEvents,
    floor_http: HttpEvents,
    pass: Pass,
    results: Vec<OperationResult>,
    latency_runs: Vec<LatencyRun>,
    max_rss: HashMap<String, u64>,
    /// The template's usual `MemorySize` (its `Globals`): what the floors
    /// are priced at, so their cost compares with the functions'.
    functions_memory_mb: u64,
}

/// The requests the warm runs send and the cold starts send again, made
/// from the set-up's fixtures.
struct Requests {
    bearer: String,
    post_path: String,
    product_id: String,
    /// The project's own operations (openapi/operations), authors' join
    /// dates included so the user loader is part of what is measured.
    feed_query: serde_json::Value,
    detail_query: serde_json::Value,
    /// An order read by its token, as a guest's client polls it.
    read_order: HttpRequest,
    /// A PaymentIntent for one order, asked for again and again (the same
    /// intent each time, as the contract says).
    intent_request: HttpRequest,
    /// A won order paid at PortOne, reported again and again by the client
    /// (the first pays it; the rest read PortOne and find it paid).
    portone_complete: HttpRequest,
}

impl Requests {
    fn new(fixtures: &setup::Fixtures) -> Self {
        let (order_id, order_token) = &fixtures.intent_order;
        let (won_id, won_token, imp_uid) = &fixtures.portone_order;
        Requests {
            bearer: format!("Bearer {}", fixtures.access_token),
            post_path: format!("/api/v1/posts/{}", fixtures.post_id),
            product_id: fixtures.product_id.clone(),
            feed_query: json!({"query": include_str!("../../../openapi/operations/PostsWithAuthorsJoined.graphql").trim()}),
            detail_query: json!({
                "query": include_str!("../../../openapi/operations/PostDetailJoined.graphql").trim(),
                "variables": {"id": fixtures.post_id},
            }),
            read_order: HttpRequest::get(format!("/api/v1/orders/{order_id}")).header("x-order-token", order_token),
            intent_request: HttpRequest::post_json("/api/v1/payments/intent", &json!({"order_id": order_id}))
                .header("x-order-token", order_token),
            portone_complete: HttpRequest::post_json(
                "/api/v1/payments/portone/complete",
                &json!({"order_id": won_id, "imp_uid": imp_uid}),
            )
            .header("x-order-token", won_token),
        }
    }

    /// A new guest order of 1–3 copies of the fixture product.
    fn new_order(&self, i: usize) -> HttpRequest {
        let email = format!("bench-{i}-{}@example.com", ulid::Ulid::new().to_string().to_lowercase());
        HttpRequest::post_json(
            "/api/v1/orders",
            &json!({"email": email, "items": [{"product_id": self.product_id, "quantity": 1 + i % 3}]}),
        )
    }
}

/// For the cold starts: one event per function that every fresh instance
/// answers the same way, without changing what the warm runs measured.
struct Probes {
    requests: Requests,
    /// A payment the webhook has already applied (a redelivery).
    paid_event: HttpRequest,
    queue_arn: String,
    /// A receipt the mailer has already sent.
    sent_receipt: (String, String),
}

impl Bench {
    fn prepare(settings: Settings) -> Result<Bench, String> {
        let work_dir = settings.root.join("target/bench");
        let log_dir = work_dir.join("logs");
        let _ = std::fs::remove_dir_all(&log_dir);
        std::fs::create_dir_all(&log_dir).map_err(|e| e.to_string())?;

        let template_path = settings.root.join("infra/template.yaml");
        let floor_template_path = settings.root.join("bench/floor-template.yaml");
        let template = Template::load(&template_path).map_err(|e| e.to_string())?;
        let floor_template = Template::load(&floor_template_path).map_err(|e| e.to_string())?;
        let functions_memory_mb =
            most_common(template.functions.iter().map(|def| def.memory_mb)).ok_or("the template has no functions")?;
        let mut specs: HashMap<String, FunctionSpec> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        for def in floor_template.functions.iter().chain(&template.functions) {
            let spec = FunctionSpec::from_def(def, &settings.bin_dir, &[]);
            if !spec.binary.is_file() {
                return Err(format!("no binary at {} (make bench builds them)", spec.binary.display()));
            }
            order.push(def.logical_id.clone());
            specs.insert(def.logical_id.clone(), spec);
        }
        println!("bench: {} functions from {}", order.len(), settings.bin_dir.display());
        Ok(Bench {
            http: HttpEvents::load(&template_path)?,
            floor_http: HttpEvents::load(&floor_template_path)?,
            pass: Pass { requests: settings.requests, batch_size: 10, proxies: None },
            settings,
            started: std::time::Instant::now(),
            work_dir,
            log_dir,
            template_path,
            floor_template_path,
            specs,
            order,
            results: Vec::new(),
            latency_runs: Vec::new(),
            max_rss: HashMap::new(),
            functions_memory_mb,
        })
    }

    /// A user, a post with comments, guest orders and a PortOne payment,
    /// made through the functions themselves.
    async fn set_up(&mut self) -> Result<setup::Fixtures, String> {
        let products: serde_json::Value =
            serde_json::from_str(include_str!("../../../infra/seed/products.json")).map_err(|e| e.to_string())?;
        let mut invoker = setup::Invoker::new(&self.http, &self.specs, self.log_dir.join("set-up.log"));
        let fixtures = setup::make(&mut invoker, &products).await?;
        invoker.shutdown().await;
        put_sdk_floor_item().await?;
        println!("bench: set-up done ({:.1} s)", self.started.elapsed().as_secs_f64());
        Ok(fixtures)
    }

    /// Every operation, in an order that makes each one's events: new
    /// orders, then Stripe's payments of them, then the receipts those
    /// queue. Returns what the cold starts send again.
    async fn every_operation(&mut self, requests: &Requests) -> Result<Redeliveries, String> {
        let orders_made = self.reads_and_new_orders(requests).await?;
        self.order_reads_and_payments(requests).await?;
        let paid_event = self.stripe_webhook(&orders_made).await?;
        let (queue_arn, sent_receipt) = self.mailer(orders_made.len()).await?;
        self.email_events().await?;
        Ok(Redeliveries { paid_event, queue_arn, sent_receipt })
    }

    /// Latency mode: every operation again, with each function's AWS calls
    /// through the proxies, first undelayed, then held `D` each. The
    /// difference of the two medians over `D` is the operation's round
    /// trips on its critical path: the work on this machine, DynamoDB
    /// Local's and moto's own time included, is in both and cancels out.
    async fn latency_mode(&mut self, requests: &Requests) -> Result<Option<LatencyReport>, String> {
        let Some(delay) = self.settings.latency_delay else { return Ok(None) };
        let proxies = Proxies::start(Duration::ZERO).await?;
        println!("bench: latency mode: DynamoDB via {}, moto via {}", proxies.dynamodb.url(), proxies.moto.url());
        // One message a batch: a batch's messages are handled in turn, so
        // its duration would be the sum of theirs.
        self.pass = Pass { requests: self.settings.latency_requests, batch_size: 1, proxies: Some(proxies) };
        let passes = self.undelayed_then_delayed(requests, delay).await;
        // The proxies stop here; what runs next goes straight to the stack.
        self.pass = Pass { requests: self.settings.requests, batch_size: 10, proxies: None };
        passes?;
        println!("bench: latency mode done ({:.1} s)", self.started.elapsed().as_secs_f64());
        Ok(Some(LatencyReport {
            delay_ms: delay.as_millis() as u64,
            requests: self.settings.latency_requests,
            operations: self.latency_results(delay),
        }))
    }

    /// Flame graphs of the reads that matter most and of the SDK floor, when
    /// the profiled binaries and `perf` are there.
    async fn flame_graphs(&self, requests: &Requests) -> Result<Vec<profile::Profile>, String> {
        let Some(flame_bin_dir) = profile::flame_bin_dir() else {
            println!("bench: no flame graphs (needs perf and BENCH_FLAME_BIN_DIR, which `make bench` sets)");
            return Ok(Vec::new());
        };
        let operations = [
            self.http_operation("GET /posts/{id}", "PostsFunction", |_| HttpRequest::get(requests.post_path.clone()))?,
            self.http_operation("GET /posts", "PostsFunction", |_| HttpRequest::get("/api/v1/posts"))?,
            self.http_operation("GET /orders/{id}", "OrdersFunction", |_| requests.read_order.clone())?,
            self.http_operation("GraphQL posts(first: 20) with authors", "GraphqlFunction", |_| {
                HttpRequest::post_json("/graphql", &requests.feed_query)
            })?,
            self.http_operation("GetItem (SDK floor)", SDK_FLOOR, |_| HttpRequest::get("/sdk-floor"))?,
        ];
        let mut profiles = Vec::new();
        for operation in operations {
            let events = operation.events.iter().map(|(event, _)| event.clone()).collect();
            let spec = &self.specs[operation.function];
            let profiled = profile::profile(
                spec,
                &flame_bin_dir,
                operation.name,
                events,
                operation.check,
                &self.settings.out_dir,
                &self.work_dir,
            )
            .await?;
            println!("bench: flame graph of {}: {} samples, {}", profiled.operation, profiled.samples, profiled.file);
            profiles.push(profiled);
        }
        Ok(profiles)
    }

    /// Every operation through the proxies, undelayed, then again with
    /// each call held `delay`.
    async fn undelayed_then_delayed(&mut self, requests: &Requests, delay: Duration) -> Result<(), String> {
        self.every_operation(requests).await?;
        if let Some(proxies) = &self.pass.proxies {
            proxies.set_delay(delay);
        }
        self.every_operation(requests).await?;
        Ok(())
    }

    /// Each operation's two latency-mode runs, as round trips and as what
    /// one invocation of the delayed run asked of AWS.
    fn latency_results(&self, delay: Duration) -> Vec<LatencyResult> {
        let delay_ms = delay.as_secs_f64() * 1000.0;
        self.latency_runs
            .iter()
            .filter(|run| run.delay == delay)
            .filter_map(|delayed| {
                let undelayed =
                    self.latency_runs.iter().find(|run| run.delay.is_zero() && run.operation == delayed.operation)?;
                let added_ms = delayed.duration.median_ms - undelayed.duration.median_ms;
                let per_invocation = |count: f64| count / delayed.invocations.max(1) as f64;
                let per = match self.results.iter().find(|o| o.operation == delayed.operation) {
                    Some(warm) if warm.messages_per_batch.is_some() => format!("{} (a batch of 1)", warm.per),
                    _ => "request".to_owned(),
                };
                Some(LatencyResult {
                    operation: delayed.operation.to_owned(),
                    function: delayed.function.to_owned(),
                    per,
                    undelayed: undelayed.duration,
                    delayed: delayed.duration,
                    round_trips: round1((added_ms / delay_ms).max(0.0)),
                    dynamodb_calls: per_invocation(delayed.tally.dynamodb_calls as f64),
                    read_units: per_invocation(delayed.tally.read_units),
                    write_units: per_invocation(delayed.tally.write_units),
                    sqs_calls: per_invocation(delayed.tally.sqs_calls as f64),
                    sqs_send_message: per_invocation(delayed.tally.sqs_send_message as f64),
                    ses_send_email: per_invocation(delayed.tally.ses_send_email as f64),
                    dynamodb_calls_without_capacity: delayed.tally.dynamodb_calls_without_capacity,
                })
            })
            .collect()
    }

    /// One operation's run, recorded (`per`: what its AWS calls are counted
    /// per; `messages_per_batch`: for a queue-fed function); its answers
    /// when `keep_answers`.
    async fn measure(
        &mut self,
        operation: Operation,
        per: &str,
        messages_per_batch: Option<f64>,
        keep_answers: bool,
    ) -> Result<Vec<Bytes>, String> {
        let mut spec = self.specs[operation.function].clone();
        if let Some(proxies) = &self.pass.proxies {
            spec.extra_env.extend(proxies.env());
            let subject = Subject::new(spec, &self.log_dir);
            let before = proxies.tally();
            let events: Vec<Bytes> = operation.events.iter().map(|(event, _)| event.clone()).collect();
            let run = subject.warm_run(events, operation.check, keep_answers).await?;
            let delay = proxies.delay();
            println!(
                "bench: {:<36} {:>5} requests, median {:>7.2} ms with {:>3} ms a call",
                operation.name,
                run.requests,
                run.duration.median_ms,
                delay.as_millis()
            );
            self.latency_runs.push(LatencyRun {
                operation: operation.name,
                function: operation.function,
                delay,
                duration: run.duration,
                invocations: operation.events.len(),
                tally: proxies.tally().since(&before),
            });
            return Ok(run.answers);
        }
        let subject = Subject::new(spec, &self.log_dir);
        let (mut result, answers) = warm(&subject, &operation, keep_answers).await?;
        result.per = per.into();
        result.messages_per_batch = messages_per_batch;
        result.memory_mb = if is_floor(operation.function) { self.functions_memory_mb } else { subject.spec.memory_mb };
        let entry = self.max_rss.entry(operation.function.to_owned()).or_insert(0);
        *entry = (*entry).max(result.warm.max_rss_kib);
        self.results.push(result);
        Ok(answers)
    }

    fn http_operation(
        &self,
        name: &'static str,
        function: &'static str,
        make: impl Fn(usize) -> HttpRequest,
    ) -> Result<Operation, String> {
        let events = if is_floor(function) { &self.floor_http } else { &self.http };
        let check: Check = match function {
            "GraphqlFunction" => graphql_ok,
            // `found`: the item is there and was read.
            SDK_FLOOR => http_200,
            _ => http_ok,
        };
        Ok(Operation { name, function, events: http_events(events, self.pass.requests + 1, make)?, check })
    }

    /// The floors, the reads, and the new orders (whose answers the webhook
    /// step pays).
    async fn reads_and_new_orders(&mut self, requests: &Requests) -> Result<Vec<serde_json::Value>, String> {
        let operations = [
            self.http_operation("echo (floor)", FLOOR, |_| HttpRequest::get("/echo"))?,
            self.http_operation("GetItem (SDK floor)", SDK_FLOOR, |_| HttpRequest::get("/sdk-floor"))?,
            self.http_operation("GET /auth/me", "AuthFunction", |_| {
                HttpRequest::get("/api/v1/auth/me").header("authorization", &requests.bearer)
            })?,
            self.http_operation("GET /posts/{id}", "PostsFunction", |_| HttpRequest::get(requests.post_path.clone()))?,
            self.http_operation("GET /posts", "PostsFunction", |_| HttpRequest::get("/api/v1/posts"))?,
            self.http_operation("GraphQL posts(first: 20) with authors", "GraphqlFunction", |_| {
                HttpRequest::post_json("/graphql", &requests.feed_query)
            })?,
            self.http_operation("GraphQL post(id) with 20 comments", "GraphqlFunction", |_| {
                HttpRequest::post_json("/graphql", &requests.detail_query)
            })?,
            self.http_operation("GET /docs", "DocsFunction", |_| HttpRequest::get("/api/v1/docs"))?,
        ];
        for operation in operations {
            self.measure(operation, "request", None, false).await?;
        }
        let orders = self.http_operation("POST /orders", "OrdersFunction", |i| requests.new_order(i))?;
        let answers = self.measure(orders, "request", None, true).await?;
        answers.iter().map(|answer| setup::decode(answer).map(|(_, order)| order)).collect()
    }

    /// An order read by its token, its PaymentIntent asked for again, the
    /// social providers listed, and a PortOne payment reported again.
    async fn order_reads_and_payments(&mut self, requests: &Requests) -> Result<(), String> {
        let mut operations = vec![
            self.http_operation("GET /orders/{id}", "OrdersFunction", |_| requests.read_order.clone())?,
            self.http_operation("POST /payments/intent (again)", "CreatePaymentIntentFunction", |_| {
                requests.intent_request.clone()
            })?,
        ];
        // The social sign-in providers a client offers (what its sign-in
        // page asks first).
        if self.specs.contains_key("SocialAuthFunction") {
            operations.push(self.http_operation("GET /auth/social/providers", "SocialAuthFunction", |_| {
                HttpRequest::get("/api/v1/auth/social/providers")
            })?);
        }
        operations.push(self.http_operation(
            "POST /payments/portone/complete (again)",
            "PortonePaymentsFunction",
            |_| requests.portone_complete.clone(),
        )?);
        for operation in operations {
            self.measure(operation, "request", None, false).await?;
        }
        Ok(())
    }

    /// Stripe says each of the new orders was paid: one event per order.
    /// Returns the first, to send again as a redelivery.
    async fn stripe_webhook(&mut self, orders_made: &[serde_json::Value]) -> Result<HttpRequest, String> {
        let secret = e2e_tests::required_setting("STRIPE_WEBHOOK_SECRET");
        let webhook_events: Vec<HttpRequest> = orders_made.iter().map(|order| paid_event(order, &secret)).collect();
        let first = webhook_events.first().cloned().ok_or("no webhook event")?;
        let webhook = Operation {
            name: "webhook: payment_intent.succeeded",
            function: "StripeWebhookFunction",
            events: http_events(&self.http, webhook_events.len(), |i| webhook_events[i].clone())?,
            check: http_ok,
        };
        self.measure(webhook, "request", None, false).await?;
        Ok(first)
    }

    /// The receipts those events queued, in batches of 10 as the event
    /// source mapping delivers them (of the pass's batch size in latency
    /// mode). Returns the queue's ARN and one sent receipt's message.
    async fn mailer(&mut self, receipts: usize) -> Result<(String, (String, String)), String> {
        let queue = receipt_queue::Queue::connect().await?;
        let taken = queue.take_batches(receipts, 10).await?;
        let batches: Vec<Vec<(String, String)>> = if self.pass.batch_size >= 10 {
            taken
        } else {
            let messages: Vec<(String, String)> = taken.into_iter().flatten().collect();
            messages.chunks(self.pass.batch_size.max(1)).map(<[(String, String)]>::to_vec).collect()
        };
        let messages_per_batch = batches.iter().map(Vec::len).sum::<usize>() as f64 / batches.len().max(1) as f64;
        let mailer = Operation {
            name: "mailer: batch of 10",
            function: "MailerFunction",
            events: batches.iter().map(|batch| (sqs_batch(&queue.arn, batch), String::new())).collect(),
            check: batch_ok,
        };
        self.measure(mailer, "receipt", Some(messages_per_batch), false).await?;
        let sent_receipt = batches.first().and_then(|b| b.first()).cloned().ok_or("no receipt message")?;
        Ok((queue.arn, sent_receipt))
    }

    /// SES's reports: permanent bounces, each for an address of its own, in
    /// batches of 10 (of the pass's batch size in latency mode; each one
    /// transaction: its marker and the address).
    async fn email_events(&mut self) -> Result<(), String> {
        let batch_size = self.pass.batch_size.max(1);
        let batches = if batch_size >= 10 { self.pass.requests.div_ceil(10) + 1 } else { self.pass.requests + 1 };
        let bounces: Vec<(Bytes, String)> = (0..batches)
            .map(|batch| {
                let messages: Vec<(String, String)> = (0..batch_size)
                    .map(|i| {
                        let id = format!("bench-{}", ulid::Ulid::new());
                        (id.clone(), ses_notification("Bounce", &format!("bounced-{batch}-{i}-{id}@example.com"), &id))
                    })
                    .collect();
                (sqs_batch(&email_queue_arn(), &messages), String::new())
            })
            .collect();
        let email_events = Operation {
            name: "email-events: batch of 10 bounces",
            function: "EmailEventsFunction",
            events: bounces,
            check: batch_ok,
        };
        self.measure(email_events, "bounce", Some(batch_size as f64), false).await?;
        Ok(())
    }

    /// Cold starts of every function, each with its probe, and its sizes.
    async fn cold_starts(&self, probes: &Probes) -> Result<Vec<FunctionResult>, String> {
        let mut functions: Vec<FunctionResult> = Vec::new();
        for name in &self.order {
            let subject = Subject::new(self.specs[name].clone(), &self.log_dir);
            let check: Check = match name.as_str() {
                "MailerFunction" | "EmailEventsFunction" => batch_ok,
                "OrderSweeperFunction" => sweep_ok,
                _ => http_ok,
            };
            let cold = subject.cold_starts(self.settings.spawns, |_| self.probe(name, probes), check).await?;
            let size = load::size(&subject.spec.binary, &self.work_dir)?;
            functions.push(FunctionResult {
                function: name.clone(),
                binary: subject.spec.binary.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned(),
                cold,
                max_rss_kib: self.max_rss.get(name.as_str()).copied().unwrap_or_default(),
                size,
            });
        }
        Ok(functions)
    }

    /// The cold-start event of one function.
    fn probe(&self, function: &str, probes: &Probes) -> Result<Bytes, String> {
        let requests = &probes.requests;
        let http = |request: &HttpRequest| self.http.event(request, &fresh_request_id()).map(|e| e.1);
        match function {
            FLOOR => self.floor_http.event(&HttpRequest::get("/echo"), &fresh_request_id()).map(|e| e.1),
            SDK_FLOOR => self.floor_http.event(&HttpRequest::get("/sdk-floor"), &fresh_request_id()).map(|e| e.1),
            "AuthFunction" => http(&HttpRequest::get("/api/v1/auth/me").header("authorization", &requests.bearer)),
            "PostsFunction" => http(&HttpRequest::get(requests.post_path.clone())),
            "DocsFunction" => http(&HttpRequest::get("/api/v1/docs")),
            "GraphqlFunction" => http(&HttpRequest::post_json("/graphql", &requests.detail_query)),
            // A read, so every fresh instance answers the same event the
            // same way.
            "OrdersFunction" => http(&requests.read_order),
            "CreatePaymentIntentFunction" => http(&requests.intent_request),
            "SocialAuthFunction" => http(&HttpRequest::get("/api/v1/auth/social/providers")),
            // Its first call of an instance fetches PortOne's token too.
            "PortonePaymentsFunction" => http(&requests.portone_complete),
            "StripeWebhookFunction" => http(&probes.paid_event),
            "MailerFunction" => Ok(sqs_batch(&probes.queue_arn, std::slice::from_ref(&probes.sent_receipt))),
            // A delivery report: read, logged, nothing written.
            "EmailEventsFunction" => {
                let id = format!("bench-{}", ulid::Ulid::new());
                Ok(sqs_batch(
                    &email_queue_arn(),
                    &[(id.clone(), ses_notification("Delivery", "reader@example.com", &id))],
                ))
            }
            // A scheduled run: nothing has expired, so one Query.
            "OrderSweeperFunction" => Ok(Bytes::from(
                local_gateway::schedules::scheduled_event(
                    "OrderSweeperFunction",
                    "Sweep",
                    time::OffsetDateTime::now_utc(),
                )
                .to_string(),
            )),
            other => Err(format!("no cold-start event for {other}; add one to the bench")),
        }
    }

    fn report(
        self,
        functions: Vec<FunctionResult>,
        latency: Option<LatencyReport>,
        throughput: Vec<load::Throughput>,
        profiles: Vec<profile::Profile>,
    ) -> Result<(), String> {
        let report = Report::new(
            functions,
            self.results,
            latency,
            throughput,
            profiles,
            self.settings.spawns,
            self.settings.requests,
        );
        report.write(&self.settings.out_dir)?;
        // The whole report, the cost table in it.
        println!("{}", report.markdown());
        match report.cost.as_ref().map(|cost| cost.daily_mix) {
            Some(Some(mix)) => println!("bench: the day's mix costs ${mix:.3} per million requests"),
            Some(None) => println!("bench: an operation of the day's mix was not measured: no total"),
            None => println!("bench: latency mode was off (BENCH_LATENCY_MS=0): no round trips, no cost table"),
        }
        println!(
            "bench: done in {:.1} s; results in {}",
            self.started.elapsed().as_secs_f64(),
            self.settings.out_dir.display()
        );
        Ok(())
    }
}

/// The item the SDK floor reads: its key and one short attribute.
async fn put_sdk_floor_item() -> Result<(), String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let (client, table) = e2e_tests::dynamodb().await;
    client
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(SDK_FLOOR_KEY.into()))
        .item("sk", AttributeValue::S(SDK_FLOOR_KEY.into()))
        .item("value", AttributeValue::S("a small item".into()))
        .send()
        .await
        .map_err(|e| format!("the SDK floor's item: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// The value most of `values` have (the largest of the most common).
fn most_common(values: impl Iterator<Item = u64>) -> Option<u64> {
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for value in values {
        *counts.entry(value).or_insert(0) += 1;
    }
    counts.into_iter().max_by_key(|(value, count)| (*count, *value)).map(|(value, _)| value)
}

/// Stripe's signed `payment_intent.succeeded` for an order the bench made.
fn paid_event(order: &serde_json::Value, secret: &str) -> HttpRequest {
    let mut event = e2e_tests::commerce::payment_intent_event(
        "payment_intent.succeeded",
        &e2e_tests::commerce::event_id(),
        &format!("pi_bench{}", ulid::Ulid::new()),
        order["id"].as_str().unwrap_or_default(),
        order["amount"].as_i64().unwrap_or_default(),
        order["currency"].as_str().unwrap_or_default(),
    );
    // As Stripe echoes our PaymentIntents' metadata: the order's address
    // goes with its receipt.
    event["data"]["object"]["metadata"]["receipt_to"] = order["email"].clone();
    let body = event.to_string();
    let signature = e2e_tests::commerce::stripe_signature(&body, secret, e2e_tests::commerce::now());
    HttpRequest {
        method: "POST",
        path: "/api/v1/webhooks/stripe".into(),
        headers: vec![("content-type".into(), "application/json".into()), ("stripe-signature".into(), signature)],
        body: Some(body),
    }
}

/// An SES notification (`Bounce`: permanent; `Delivery`) in SNS's envelope,
/// as the email-events queue receives it.
fn ses_notification(event_type: &str, address: &str, sns_message_id: &str) -> String {
    let mut ses = json!({"eventType": event_type, "mail": {"messageId": sns_message_id, "destination": [address]}});
    if event_type == "Bounce" {
        ses["bounce"] = json!({"bounceType": "Permanent", "bounceSubType": "General",
                               "bouncedRecipients": [{"emailAddress": address}]});
    } else {
        ses["delivery"] = json!({"recipients": [address]});
    }
    json!({"Type": "Notification", "MessageId": sns_message_id, "Message": ses.to_string()}).to_string()
}

fn email_queue_arn() -> String {
    format!(
        "arn:aws:sqs:{}:{}:{}",
        e2e_tests::required_setting("AWS_REGION"),
        e2e_tests::setting("AWS_ACCOUNT_ID").unwrap_or_else(|| "123456789012".into()),
        e2e_tests::setting("EMAIL_EVENTS_QUEUE_NAME").unwrap_or_else(|| "email-events".into())
    )
}

/// An operation's warm run and the AWS calls its log lines report; the
/// answers too, when asked for.
async fn warm(
    subject: &Subject,
    operation: &Operation,
    keep_answers: bool,
) -> Result<(OperationResult, Vec<Bytes>), String> {
    let events: Vec<Bytes> = operation.events.iter().map(|(event, _)| event.clone()).collect();
    let run = subject.warm_run(events, operation.check, keep_answers).await?;
    let mut ids: Vec<String> =
        operation.events.iter().skip(1).map(|(_, id)| id.clone()).filter(|id| !id.is_empty()).collect();
    ids.extend(run.request_ids.iter().cloned());
    // The floors log nothing: the echo floor calls nothing, the SDK floor
    // one `GetItem` per request (its whole code).
    let aws_calls: AwsCalls = match operation.function {
        FLOOR => AwsCalls::new(),
        SDK_FLOOR => [("dynamodb".to_owned(), 1)].into_iter().collect(),
        _ => aws_calls_per_operation(&subject.log_file(), &ids)?,
    };
    println!(
        "bench: {:<36} {:>5} requests, median {:>7.2} ms, CPU {:>8.1} µs/request",
        operation.name, run.requests, run.duration.median_ms, run.cpu_us_per_request
    );
    let answers = run.answers.clone();
    Ok((
        OperationResult {
            operation: operation.name.to_owned(),
            function: operation.function.to_owned(),
            per: "request".into(),
            messages_per_batch: None,
            memory_mb: subject.spec.memory_mb,
            warm: run,
            aws_calls,
        },
        answers,
    ))
}

/// `wrk` through a gateway serving the template, and through one serving
/// the floor.
async fn throughput(
    settings: &Settings,
    template: &Path,
    floor_template: &Path,
    post_path: &str,
) -> Result<Vec<load::Throughput>, String> {
    let mut results = Vec::new();
    let targets = [
        (template, "GET /posts/{id}", post_path.to_owned()),
        (template, "GET /posts", "/api/v1/posts".to_owned()),
        (floor_template, "echo (floor)", "/echo".to_owned()),
    ];
    for (template, target, path) in targets {
        let mut config = local_gateway::GatewayConfig::new(template, &settings.bin_dir);
        config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        config.max_instances_per_function = settings.wrk_connections as usize;
        config.extra_env = vec![("LOG_LEVEL".into(), "warn".into())];
        let gateway = local_gateway::Gateway::bind(config).await.map_err(|e| e.to_string())?;
        let base = format!("http://{}", gateway.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(gateway.run(async move {
            let _ = stopped.await;
        }));
        // Warm the instances, then measure.
        let _ = load::wrk(target, &base, &path, settings.wrk_connections, 1);
        let measured = tokio::task::spawn_blocking({
            let (target, base, path, c, s) =
                (target.to_owned(), base.clone(), path.clone(), settings.wrk_connections, settings.wrk_seconds);
            move || load::wrk(&target, &base, &path, c, s)
        })
        .await
        .map_err(|e| e.to_string())??;
        let _ = stop.send(());
        let _ = serving.await;
        println!("bench: wrk {target}: {:.0} requests/s", measured.requests_per_sec);
        results.push(measured);
    }
    Ok(results)
}

mod receipt_queue {
    //! The receipt queue (moto's SQS), read the way the event source mapping
    //! reads it.

    use aws_sdk_sqs::Client;

    pub struct Queue {
        client: Client,
        url: String,
        pub arn: String,
    }

    impl Queue {
        pub async fn connect() -> Result<Queue, String> {
            let config = e2e_tests::commerce::aws_config().await;
            let url = e2e_tests::required_setting("MAIL_QUEUE_URL");
            let name = url.rsplit('/').next().unwrap_or_default().to_owned();
            let arn = format!(
                "arn:aws:sqs:{}:{}:{name}",
                e2e_tests::required_setting("AWS_REGION"),
                e2e_tests::setting("AWS_ACCOUNT_ID").unwrap_or_else(|| "123456789012".into())
            );
            Ok(Queue { client: Client::new(&config), url, arn })
        }

        /// `count` messages, in batches of up to `size`, deleted once read
        /// (the bench hands them to the mailer itself).
        pub async fn take_batches(&self, count: usize, size: i32) -> Result<Vec<Vec<(String, String)>>, String> {
            let mut batches = Vec::new();
            let mut taken = 0;
            let mut empty_polls = 0;
            while taken < count && empty_polls < 5 {
                let received = self
                    .client
                    .receive_message()
                    .queue_url(&self.url)
                    .max_number_of_messages(size)
                    .wait_time_seconds(1)
                    .visibility_timeout(60)
                    .send()
                    .await
                    .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
                let messages = received.messages.unwrap_or_default();
                if messages.is_empty() {
                    empty_polls += 1;
                    continue;
                }
                let mut batch = Vec::new();
                for message in messages {
                    if let Some(handle) = &message.receipt_handle {
                        self.client
                            .delete_message()
                            .queue_url(&self.url)
                            .receipt_handle(handle)
                            .send()
                            .await
                            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
                    }
                    batch.push((message.message_id.unwrap_or_default(), message.body.unwrap_or_default()));
                }
                taken += batch.len();
                batches.push(batch);
            }
            if taken < count {
                return Err(format!("the receipt queue gave {taken} of {count} messages"));
            }
            Ok(batches)
        }
    }
}
