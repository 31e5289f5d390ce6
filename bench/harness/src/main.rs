//! `make bench`: every function beside the floor (the smallest `lambda_http`
//! function, built the same way), in one run:
//!
//! 1. cold starts: spawn → first poll of the Runtime API (init) and spawn →
//!    first answer, over `BENCH_SPAWNS` fresh processes each;
//! 2. peak memory after `BENCH_REQUESTS` warm requests;
//! 3. binary and `bootstrap.zip` sizes;
//! 4. CPU time per warm request of the operations that matter;
//! 5. AWS calls per operation, from the functions' own log lines;
//! 6. throughput through the local gateway under `wrk`.
//!
//! It runs inside `infra/stack.sh bench` (DynamoDB Local, moto,
//! localstripe, the seeded catalog) against release binaries, and writes `bench/results/latest.md`
//! and `latest.json`.

mod events;
mod load;
mod measure;
mod report;
mod setup;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use local_gateway::{FunctionSpec, Template};
use serde_json::json;

use crate::events::{HttpEvents, HttpRequest, sqs_batch};
use crate::measure::{Check, Subject, aws_calls_per_operation, batch_ok, graphql_ok, http_ok};
use crate::report::{FunctionResult, OperationResult, Report};

const FLOOR: &str = "FloorFunction";

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
    let settings = Settings::from_env()?;
    let started = std::time::Instant::now();
    let work_dir = settings.root.join("target/bench");
    let log_dir = work_dir.join("logs");
    let _ = std::fs::remove_dir_all(&log_dir);
    std::fs::create_dir_all(&log_dir).map_err(|e| e.to_string())?;

    let template_path = settings.root.join("infra/template.yaml");
    let floor_template_path = settings.root.join("bench/floor-template.yaml");
    let template = Template::load(&template_path).map_err(|e| e.to_string())?;
    let floor_template = Template::load(&floor_template_path).map_err(|e| e.to_string())?;
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
    let http = HttpEvents::load(&template_path)?;
    let floor_http = HttpEvents::load(&floor_template_path)?;
    println!("bench: {} functions from {}", order.len(), settings.bin_dir.display());

    let products: serde_json::Value =
        serde_json::from_str(include_str!("../../../infra/seed/products.json")).map_err(|e| e.to_string())?;
    let mut invoker = setup::Invoker::new(&http, &specs, log_dir.join("set-up.log"));
    let fixtures = setup::make(&mut invoker, &products).await?;
    invoker.shutdown().await;
    println!("bench: set-up done ({:.1} s)", started.elapsed().as_secs_f64());

    let n = settings.requests;
    let bearer = format!("Bearer {}", fixtures.access_token);
    let post_path = format!("/api/v1/posts/{}", fixtures.post_id);
    let product_id = fixtures.product_id.clone();
    let order_input = move |i: usize| {
        json!({"email": format!("bench-{i}-{}@example.com", ulid::Ulid::new().to_string().to_lowercase()),
               "items": [{"product_id": product_id, "quantity": 1 + i % 3}]})
    };

    // The project's own operations (openapi/operations), authors' join
    // dates included so the user loader is part of what is measured.
    let feed_query =
        json!({"query": include_str!("../../../openapi/operations/PostsWithAuthorsJoined.graphql").trim()});
    let detail_query = json!({
        "query": include_str!("../../../openapi/operations/PostDetailJoined.graphql").trim(),
        "variables": {"id": fixtures.post_id},
    });

    let mut operations = vec![
        Operation {
            name: "echo (floor)",
            function: FLOOR,
            events: http_events(&floor_http, n + 1, |_| HttpRequest::get("/echo"))?,
            check: http_ok,
        },
        Operation {
            name: "GET /auth/me",
            function: "AuthFunction",
            events: http_events(&http, n + 1, |_| {
                HttpRequest::get("/api/v1/auth/me").header("authorization", &bearer)
            })?,
            check: http_ok,
        },
        Operation {
            name: "GET /posts/{id}",
            function: "PostsFunction",
            events: http_events(&http, n + 1, |_| HttpRequest::get(post_path.clone()))?,
            check: http_ok,
        },
        Operation {
            name: "GET /posts",
            function: "PostsFunction",
            events: http_events(&http, n + 1, |_| HttpRequest::get("/api/v1/posts"))?,
            check: http_ok,
        },
        Operation {
            name: "GraphQL posts(first: 20) with authors",
            function: "GraphqlFunction",
            events: http_events(&http, n + 1, |_| HttpRequest::post_json("/graphql", &feed_query))?,
            check: graphql_ok,
        },
        Operation {
            name: "GraphQL post(id) with 20 comments",
            function: "GraphqlFunction",
            events: http_events(&http, n + 1, |_| HttpRequest::post_json("/graphql", &detail_query))?,
            check: graphql_ok,
        },
        Operation {
            name: "GET /docs",
            function: "DocsFunction",
            events: http_events(&http, n + 1, |_| HttpRequest::get("/api/v1/docs"))?,
            check: http_ok,
        },
        Operation {
            name: "POST /orders",
            function: "OrdersFunction",
            events: http_events(&http, n + 1, |i| HttpRequest::post_json("/api/v1/orders", &order_input(i)))?,
            check: http_ok,
        },
    ];

    let mut results: Vec<OperationResult> = Vec::new();
    let mut max_rss: HashMap<String, u64> = HashMap::new();
    let mut orders_made: Vec<serde_json::Value> = Vec::new();
    for operation in operations.drain(..) {
        let subject = Subject::new(specs[operation.function].clone(), &log_dir);
        let answers_wanted = operation.function == "OrdersFunction";
        let (result, answers) = warm(&subject, &operation, answers_wanted).await?;
        if answers_wanted {
            for answer in &answers {
                orders_made.push(setup::decode(answer)?.1);
            }
        }
        note_rss(&mut max_rss, operation.function, result.warm.max_rss_kib);
        results.push(result);
    }

    // An order read by its token, as a guest's client polls it.
    let (order_id, order_token) = fixtures.intent_order.clone();
    let read_order = HttpRequest::get(format!("/api/v1/orders/{order_id}")).header("x-order-token", &order_token);
    let read = Operation {
        name: "GET /orders/{id}",
        function: "OrdersFunction",
        events: http_events(&http, n + 1, |_| read_order.clone())?,
        check: http_ok,
    };
    let (result, _) = warm(&Subject::new(specs[read.function].clone(), &log_dir), &read, false).await?;
    note_rss(&mut max_rss, read.function, result.warm.max_rss_kib);
    results.push(result);

    // A PaymentIntent for one order, asked for again and again (the same
    // intent each time, as the contract says).
    let intent_request = HttpRequest::post_json("/api/v1/payments/intent", &json!({"order_id": order_id}))
        .header("x-order-token", &order_token);
    let intent = Operation {
        name: "POST /payments/intent (again)",
        function: "CreatePaymentIntentFunction",
        events: http_events(&http, n + 1, |_| intent_request.clone())?,
        check: http_ok,
    };
    let (result, _) = warm(&Subject::new(specs[intent.function].clone(), &log_dir), &intent, false).await?;
    note_rss(&mut max_rss, intent.function, result.warm.max_rss_kib);
    results.push(result);

    // The social sign-in providers a client offers (what its sign-in page
    // asks first).
    if specs.contains_key("SocialAuthFunction") {
        let providers = Operation {
            name: "GET /auth/social/providers",
            function: "SocialAuthFunction",
            events: http_events(&http, n + 1, |_| HttpRequest::get("/api/v1/auth/social/providers"))?,
            check: http_ok,
        };
        let (result, _) = warm(&Subject::new(specs[providers.function].clone(), &log_dir), &providers, false).await?;
        note_rss(&mut max_rss, providers.function, result.warm.max_rss_kib);
        results.push(result);
    }

    // A won order paid at PortOne, reported again and again by the client
    // (the first pays it; the rest read PortOne and find it paid).
    let (won_id, won_token, imp_uid) = fixtures.portone_order.clone();
    let complete =
        HttpRequest::post_json("/api/v1/payments/portone/complete", &json!({"order_id": won_id, "imp_uid": imp_uid}))
            .header("x-order-token", &won_token);
    let portone = Operation {
        name: "POST /payments/portone/complete (again)",
        function: "PortonePaymentsFunction",
        events: http_events(&http, n + 1, |_| complete.clone())?,
        check: http_ok,
    };
    let (result, _) = warm(&Subject::new(specs[portone.function].clone(), &log_dir), &portone, false).await?;
    note_rss(&mut max_rss, portone.function, result.warm.max_rss_kib);
    results.push(result);

    // Stripe says each of those orders was paid: one event per order.
    let secret = e2e_tests::required_setting("STRIPE_WEBHOOK_SECRET");
    let webhook_events: Vec<HttpRequest> = orders_made
        .iter()
        .map(|order| {
            let event = e2e_tests::commerce::payment_intent_event(
                "payment_intent.succeeded",
                &e2e_tests::commerce::event_id(),
                &format!("pi_bench{}", ulid::Ulid::new()),
                order["id"].as_str().unwrap_or_default(),
                order["amount"].as_i64().unwrap_or_default(),
                order["currency"].as_str().unwrap_or_default(),
            );
            let body = event.to_string();
            let signature = e2e_tests::commerce::stripe_signature(&body, &secret, e2e_tests::commerce::now());
            HttpRequest {
                method: "POST",
                path: "/api/v1/webhooks/stripe".into(),
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("stripe-signature".into(), signature),
                ],
                body: Some(body),
            }
        })
        .collect();
    let duplicate_event = webhook_events.first().cloned().ok_or("no webhook event")?;
    let webhook = Operation {
        name: "webhook: payment_intent.succeeded",
        function: "StripeWebhookFunction",
        events: http_events(&http, webhook_events.len(), |i| webhook_events[i].clone())?,
        check: http_ok,
    };
    let (result, _) = warm(&Subject::new(specs[webhook.function].clone(), &log_dir), &webhook, false).await?;
    note_rss(&mut max_rss, webhook.function, result.warm.max_rss_kib);
    results.push(result);

    // The receipts those events queued, in batches of 10 as the event
    // source mapping delivers them.
    let queue = receipts::Queue::connect().await?;
    let batches = queue.take_batches(orders_made.len(), 10).await?;
    let mailer_events: Vec<(Bytes, String)> =
        batches.iter().map(|batch| (sqs_batch(&queue.arn, batch), String::new())).collect();
    let mailer = Operation {
        name: "receipt-mailer: batch of 10",
        function: "ReceiptMailerFunction",
        events: mailer_events,
        check: batch_ok,
    };
    let (mut result, _) = warm(&Subject::new(specs[mailer.function].clone(), &log_dir), &mailer, false).await?;
    result.per = "receipt".into();
    note_rss(&mut max_rss, mailer.function, result.warm.max_rss_kib);
    results.push(result);
    let sent_receipt = batches.first().and_then(|b| b.first()).cloned().ok_or("no receipt message")?;

    // SES's reports: permanent bounces, each for an address of its own, in
    // batches of 10 (each one transaction: its marker and the address).
    let bounces: Vec<(Bytes, String)> = (0..n.div_ceil(10) + 1)
        .map(|batch| {
            let messages: Vec<(String, String)> = (0..10)
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
    let (mut result, _) =
        warm(&Subject::new(specs[email_events.function].clone(), &log_dir), &email_events, false).await?;
    result.per = "batch".into();
    note_rss(&mut max_rss, email_events.function, result.warm.max_rss_kib);
    results.push(result);
    println!("bench: warm runs done ({:.1} s)", started.elapsed().as_secs_f64());

    // Cold starts: one event each function answers without changing what
    // the others measured (a repeated event where it would).
    let mut functions: Vec<FunctionResult> = Vec::new();
    for name in &order {
        let subject = Subject::new(specs[name].clone(), &log_dir);
        let probe: Box<dyn Fn() -> Result<Bytes, String>> = match name.as_str() {
            FLOOR => Box::new(|| floor_http.event(&HttpRequest::get("/echo"), &fresh_request_id()).map(|e| e.1)),
            "AuthFunction" => Box::new(|| {
                http.event(&HttpRequest::get("/api/v1/auth/me").header("authorization", &bearer), &fresh_request_id())
                    .map(|e| e.1)
            }),
            "PostsFunction" => {
                Box::new(|| http.event(&HttpRequest::get(post_path.clone()), &fresh_request_id()).map(|e| e.1))
            }
            "DocsFunction" => {
                Box::new(|| http.event(&HttpRequest::get("/api/v1/docs"), &fresh_request_id()).map(|e| e.1))
            }
            "GraphqlFunction" => Box::new(|| {
                http.event(&HttpRequest::post_json("/graphql", &detail_query), &fresh_request_id()).map(|e| e.1)
            }),
            // A read, so every fresh instance answers the same event the
            // same way.
            "OrdersFunction" => Box::new(|| http.event(&read_order, &fresh_request_id()).map(|e| e.1)),
            "CreatePaymentIntentFunction" => Box::new(|| http.event(&intent_request, &fresh_request_id()).map(|e| e.1)),
            "SocialAuthFunction" => Box::new(|| {
                http.event(&HttpRequest::get("/api/v1/auth/social/providers"), &fresh_request_id()).map(|e| e.1)
            }),
            // Its first call of an instance fetches PortOne's token too.
            "PortonePaymentsFunction" => Box::new(|| http.event(&complete, &fresh_request_id()).map(|e| e.1)),
            "StripeWebhookFunction" => Box::new(|| http.event(&duplicate_event, &fresh_request_id()).map(|e| e.1)),
            "ReceiptMailerFunction" => Box::new(|| Ok(sqs_batch(&queue.arn, std::slice::from_ref(&sent_receipt)))),
            // A delivery report: read, logged, nothing written.
            "EmailEventsFunction" => Box::new(|| {
                let id = format!("bench-{}", ulid::Ulid::new());
                Ok(sqs_batch(
                    &email_queue_arn(),
                    &[(id.clone(), ses_notification("Delivery", "reader@example.com", &id))],
                ))
            }),
            other => return Err(format!("no cold-start event for {other}; add one to the bench")),
        };
        let check: Check =
            if matches!(name.as_str(), "ReceiptMailerFunction" | "EmailEventsFunction") { batch_ok } else { http_ok };
        let cold = subject.cold_starts(settings.spawns, |_| probe(), check).await?;
        let size = load::size(&subject.spec.binary, &work_dir)?;
        functions.push(FunctionResult {
            function: name.clone(),
            binary: subject.spec.binary.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned(),
            cold,
            max_rss_kib: max_rss.get(name.as_str()).copied().unwrap_or_default(),
            size,
        });
    }
    println!("bench: cold starts done ({:.1} s)", started.elapsed().as_secs_f64());

    let throughput = throughput(&settings, &template_path, &floor_template_path, &post_path).await?;

    let report = Report::new(functions, results, throughput, settings.spawns, n);
    report.write(&settings.out_dir)?;
    println!("{}", report.markdown());
    println!("bench: done in {:.1} s; results in {}", started.elapsed().as_secs_f64(), settings.out_dir.display());
    Ok(())
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

fn note_rss(max_rss: &mut HashMap<String, u64>, function: &str, kib: u64) {
    let entry = max_rss.entry(function.to_owned()).or_insert(0);
    *entry = (*entry).max(kib);
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
    // The floor logs nothing and calls nothing.
    let aws_calls = if operation.function == FLOOR {
        Default::default()
    } else {
        aws_calls_per_operation(&subject.log_file(), &ids)?
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

mod receipts {
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
            let url = e2e_tests::required_setting("RECEIPT_QUEUE_URL");
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
