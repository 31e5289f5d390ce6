//! JSON log lines (`time`, `level`, `msg`, the fields of every enclosing
//! span, such as `request_id`, then the event's own fields) and the count of
//! AWS calls made while serving one request or event.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Instrument, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the JSON logger. The level comes from `LOG_LEVEL` (or
/// `RUST_LOG` when it is a plain level), default `info`; the SDK's and
/// HTTP stack's own chatter is kept to warnings.
pub fn init() {
    let level = ["LOG_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let quiet = LevelFilter::WARN.min(level);
    let filter = Targets::new()
        .with_default(level)
        .with_target("aws_smithy_runtime", quiet)
        .with_target("aws_config", quiet)
        .with_target("hyper", quiet)
        .with_target("hyper_util", quiet)
        .with_target("rustls", quiet)
        .with_target("lambda_runtime", quiet)
        .with_target("lambda_runtime_api_client", quiet);
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::registry().with(JsonLogLayer.with_filter(filter)).try_init();
}

/// Fields whose value is itself a JSON document, written as such.
const JSON_VALUED_FIELDS: &[&str] = &["aws_calls", "throttle_calls"];

pub struct JsonLogLayer;

struct SpanFields(Map<String, Value>);

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if JSON_VALUED_FIELDS.contains(&field.name())
            && let Ok(json) = serde_json::from_str::<Value>(&text)
        {
            self.insert(field, json);
            return;
        }
        self.insert(field, Value::from(text));
    }
}

impl JsonVisitor<'_> {
    fn insert(&mut self, field: &Field, value: Value) {
        let name = match field.name() {
            "message" => "msg",
            other => other,
        };
        self.0.insert(name.to_owned(), value);
    }
}

impl<S> Layer<S> for JsonLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        attrs.record(&mut JsonVisitor(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
                values.record(&mut JsonVisitor(fields));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = Map::new();
        line.insert("time".into(), Value::from(domain::timefmt::rfc3339(domain::timefmt::now())));
        line.insert("level".into(), Value::from(level_name(*event.metadata().level())));
        line.insert("target".into(), Value::from(event.metadata().target()));
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                    line.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        event.record(&mut JsonVisitor(&mut line));
        line.entry("msg").or_insert(Value::from(""));
        if let Ok(mut text) = serde_json::to_vec(&line) {
            text.push(b'\n');
            // One write per line so concurrent lines never interleave.
            let _ = std::io::stdout().lock().write_all(&text);
        }
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// An email address as logs may show it: `j***@example.com`. Enough for an
/// operator to tell two customers apart, not enough to write to one.
pub fn mask_email(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        _ => "***".to_owned(),
    }
}

/// `text` with every word that looks like an email address masked (SES
/// names addresses in some of its errors).
pub fn mask_emails_in(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let trimmed = word.trim_end_matches([',', '.', ';', ':', ')']);
            match trimmed.split_once('@') {
                Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                    format!("{}{}", mask_email(trimmed), &word[trimmed.len()..])
                }
                _ => word.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Marks the request or event being served with the correlation id of the
/// order it is about: every later line of it (its closing line included)
/// carries `correlation_id`.
pub fn record_correlation_id(correlation_id: &str) {
    tracing::Span::current().record("correlation_id", correlation_id);
}

/// AWS calls made while serving one request, per service; calls made only to
/// enforce rate limits are kept apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsCalls {
    pub operation: BTreeMap<&'static str, u32>,
    pub throttle: BTreeMap<&'static str, u32>,
}

impl AwsCalls {
    pub fn operation_json(&self) -> String {
        serde_json::to_string(&self.operation).unwrap_or_else(|_| "{}".into())
    }

    pub fn throttle_json(&self) -> String {
        serde_json::to_string(&self.throttle).unwrap_or_else(|_| "{}".into())
    }

    pub fn total(&self, service: &str) -> u32 {
        self.operation.get(service).copied().unwrap_or(0)
    }
}

/// One request's counts. Shared (not per task) so that work the request
/// hands to another task, such as a batched load, still counts against it
/// (see [`in_this_request`]).
type Counter = Arc<Mutex<AwsCalls>>;

tokio::task_local! {
    static CALLS: Counter;
}

fn with_counter<R>(change: impl FnOnce(&mut AwsCalls) -> R) -> Option<R> {
    CALLS.try_with(|calls| calls.lock().map(|mut calls| change(&mut calls)).ok()).ok().flatten()
}

/// Runs `work` counting the AWS calls it makes (through clients that carry
/// [`CountAwsCalls`]).
pub async fn count_aws_calls<F: Future>(work: F) -> (F::Output, AwsCalls) {
    let counter = Counter::default();
    let output = CALLS.scope(counter.clone(), work).await;
    let calls = counter.lock().map(|calls| calls.clone()).unwrap_or_default();
    (output, calls)
}

/// `work`, to be spawned as a task of its own, made part of the request
/// being served here: its AWS calls count against this request and its log
/// lines carry this request's span.
pub fn in_this_request<F: Future>(work: F) -> impl Future<Output = F::Output> {
    let counter = CALLS.try_with(Counter::clone).unwrap_or_default();
    CALLS.scope(counter, work).instrument(tracing::Span::current())
}

/// The calls counted so far by the enclosing [`count_aws_calls`] (empty
/// outside one): for an `event completed` line written inside a request.
pub fn aws_calls_so_far() -> AwsCalls {
    with_counter(|calls| calls.clone()).unwrap_or_default()
}

/// Why a call is made: the request's own work, or only to enforce rate
/// limits (counted apart, as `throttle_calls`). A client is made for one
/// purpose, so a throttle count running beside a handler never mixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPurpose {
    Operation,
    Throttle,
}

fn record_call(service: &'static str, purpose: CallPurpose) {
    with_counter(|calls| {
        let map = match purpose {
            CallPurpose::Operation => &mut calls.operation,
            CallPurpose::Throttle => &mut calls.throttle,
        };
        *map.entry(service).or_insert(0) += 1;
    });
}

/// An SDK interceptor that counts each operation (not each retry attempt)
/// against the request being served.
#[derive(Debug, Clone, Copy)]
pub struct CountAwsCalls {
    service: &'static str,
    purpose: CallPurpose,
}

impl CountAwsCalls {
    pub fn new(service: &'static str) -> Self {
        Self { service, purpose: CallPurpose::Operation }
    }

    /// For the client that only counts rate limits.
    pub fn for_throttle(service: &'static str) -> Self {
        Self { service, purpose: CallPurpose::Throttle }
    }
}

impl Intercept for CountAwsCalls {
    fn name(&self) -> &'static str {
        "CountAwsCalls"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        record_call(self.service, self.purpose);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_are_counted_per_service_and_kept_apart_for_throttling() {
        let ((), calls) = count_aws_calls(async {
            record_call("dynamodb", CallPurpose::Operation);
            record_call("dynamodb", CallPurpose::Operation);
            record_call("dynamodb", CallPurpose::Throttle);
            record_call("sqs", CallPurpose::Operation);
        })
        .await;
        assert_eq!(calls.operation_json(), r#"{"dynamodb":2,"sqs":1}"#);
        assert_eq!(calls.throttle_json(), r#"{"dynamodb":1}"#);
    }

    #[test]
    fn emails_are_masked() {
        assert_eq!(mask_email("jane.doe@example.com"), "j***@example.com");
        assert_eq!(mask_email("not-an-address"), "***");
        assert_eq!(
            mask_emails_in("Email address not verified alice.b@example.com, sorry"),
            "Email address not verified a***@example.com, sorry"
        );
        assert_eq!(mask_emails_in("no address here"), "no address here");
    }

    #[tokio::test]
    async fn calls_outside_a_scope_are_ignored() {
        record_call("dynamodb", CallPurpose::Operation);
        let ((), calls) = count_aws_calls(async {}).await;
        assert_eq!(calls.operation_json(), "{}");
    }
}
