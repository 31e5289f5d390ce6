//! The template's functions: what a local gateway needs to run each one
//! (binary, timeout, memory, plain environment) and its events (HTTP API
//! routes, SQS sources, schedules).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_yaml_ng::Value;

use crate::yaml::{number, plain_scalar, plain_str};

/// Lambda's default timeout when neither the function nor `Globals` set one.
pub const DEFAULT_TIMEOUT_SECS: u64 = 3;
/// Lambda's default memory size (MB).
pub const DEFAULT_MEMORY_MB: u64 = 128;
/// SQS event source default batch size (as in SAM/Lambda).
pub const DEFAULT_SQS_BATCH_SIZE: u64 = 10;

/// One `AWS::Serverless::Function`.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    /// The resource's logical id, e.g. `AuthFunction`.
    pub logical_id: String,
    /// File name of the executable in the bin dir.
    pub binary: String,
    pub timeout: Duration,
    pub memory_mb: u64,
    /// Plain-string environment variables (Globals merged with the function's
    /// own; tagged values such as `!Ref Table` are left out).
    pub env: BTreeMap<String, String>,
    pub http_routes: Vec<HttpRouteDef>,
    pub sqs_sources: Vec<SqsEventSource>,
    pub schedules: Vec<ScheduleSource>,
}

/// One `Schedule` event of a function: EventBridge invokes it every `every`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSource {
    pub event_name: String,
    /// As written, e.g. `rate(1 minute)`.
    pub expression: String,
    pub every: Duration,
}

/// EventBridge's `rate(N unit)`: minutes, hours or days (singular for 1).
/// Cron expressions are not run locally.
pub fn parse_rate(expression: &str) -> Result<Duration, String> {
    let inner = expression
        .trim()
        .strip_prefix("rate(")
        .and_then(|rest| rest.strip_suffix(')'))
        .ok_or_else(|| format!("{expression:?} is not rate(N unit); only rates are run locally"))?;
    let (count, unit) = inner.trim().split_once(' ').ok_or_else(|| format!("{expression:?} has no unit"))?;
    let count: u64 = count.parse().map_err(|_| format!("{expression:?}: {count:?} is not a count"))?;
    let seconds = match (count, unit.trim()) {
        (1, "minute") => 60,
        (1, "hour") => 3600,
        (1, "day") => 86_400,
        (n, "minutes") if n > 1 => 60 * n,
        (n, "hours") if n > 1 => 3600 * n,
        (n, "days") if n > 1 => 86_400 * n,
        _ => {
            return Err(format!("{expression:?}: not a rate EventBridge takes (e.g. rate(1 minute), rate(5 minutes))"));
        }
    };
    Ok(Duration::from_secs(seconds))
}

/// One `HttpApi` event of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRouteDef {
    /// The event's logical name inside `Events`.
    pub event_name: String,
    pub route: RouteSpec,
}

/// What an `HttpApi` event routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteSpec {
    /// `Method` (upper-cased; `ANY` kept as `ANY`) and `Path`.
    Path { method: String, path: String },
    /// An event without `Path` and `Method`: the API's `$default` route.
    Default,
}

/// One `SQS` event of a function (the local gateway polls its queue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsEventSource {
    pub event_name: String,
    pub queue: QueueRef,
    pub batch_size: u64,
    /// E.g. `["ReportBatchItemFailures"]`.
    pub function_response_types: Vec<String>,
}

/// The `Queue` property: a literal ARN/URL or a CloudFormation reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueRef {
    Plain(String),
    /// `!Ref X` → (`Ref`, `X`); `!GetAtt X.Arn` → (`GetAtt`, `X.Arn`); also the
    /// long forms `{Ref: X}` and `{Fn::GetAtt: [X, Arn]}`.
    Tagged {
        tag: String,
        value: String,
    },
}

impl QueueRef {
    /// The logical id of the queue resource this refers to, if it is a
    /// reference (`!Ref Q`, `!GetAtt Q.Arn`).
    pub fn logical_id(&self) -> Option<&str> {
        match self {
            QueueRef::Plain(_) => None,
            QueueRef::Tagged { value, .. } => value.split('.').next(),
        }
    }
}

pub(crate) fn parse_function(
    logical_id: &str,
    resource: &Value,
    g_timeout: Option<u64>,
    g_memory: Option<u64>,
    g_vars: Option<&serde_yaml_ng::Mapping>,
) -> Result<FunctionDef, String> {
    let props = resource.get("Properties");
    let prop = |name: &str| props.and_then(|p| p.get(name));
    let ctx = |field: &str| format!("{logical_id}.Properties.{field}");

    let binary = resource
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(plain_str)
        .map(str::to_owned)
        .unwrap_or_else(|| kebab_case(logical_id));
    let timeout = prop("Timeout").map(|v| number(v, &ctx("Timeout"))).transpose()?.flatten();
    let timeout = timeout.or(g_timeout).unwrap_or(DEFAULT_TIMEOUT_SECS);
    if timeout == 0 {
        return Err(format!("{}: must be at least 1", ctx("Timeout")));
    }
    let memory_mb = prop("MemorySize").map(|v| number(v, &ctx("MemorySize"))).transpose()?.flatten();
    let memory_mb = memory_mb.or(g_memory).unwrap_or(DEFAULT_MEMORY_MB);

    // Merge the raw values first (the function's own win), and only then drop
    // the tagged ones: a function that sets `X: !Ref Y` over a global literal
    // `X` means "not that literal", so the developer's environment supplies it.
    let mut merged: BTreeMap<String, &Value> = BTreeMap::new();
    for vars in [g_vars, props.and_then(env_variables)].into_iter().flatten() {
        for (k, v) in vars {
            if let Some(k) = plain_str(k) {
                merged.insert(k.to_owned(), v);
            }
        }
    }
    let env = merged.into_iter().filter_map(|(k, v)| plain_scalar(v).map(|v| (k, v))).collect();

    let mut http_routes = Vec::new();
    let mut sqs_sources = Vec::new();
    let mut schedules = Vec::new();
    if let Some(Value::Mapping(events)) = prop("Events") {
        for (name, event) in events {
            let Some(event_name) = plain_str(name) else {
                continue;
            };
            let ev_props = event.get("Properties");
            let ev_prop = |n: &str| ev_props.and_then(|p| p.get(n));
            let ectx = |field: &str| format!("{logical_id}.Events.{event_name}.Properties.{field}");
            match event.get("Type").and_then(plain_str) {
                Some("HttpApi") => {
                    let path = ev_prop("Path")
                        .map(|v| plain_str(v).ok_or_else(|| format!("{}: not a string", ectx("Path"))))
                        .transpose()?;
                    let method = ev_prop("Method")
                        .map(|v| plain_str(v).ok_or_else(|| format!("{}: not a string", ectx("Method"))))
                        .transpose()?;
                    let route = match (path, method) {
                        (None, None) => RouteSpec::Default,
                        (Some(path), method) => {
                            let method = method.unwrap_or("ANY").to_ascii_uppercase();
                            validate_path(path).map_err(|m| format!("{}: {m}", ectx("Path")))?;
                            if method != "ANY" && http::Method::from_bytes(method.as_bytes()).is_err() {
                                return Err(format!("{}: {method:?} is not an HTTP method", ectx("Method")));
                            }
                            RouteSpec::Path { method, path: path.to_owned() }
                        }
                        (None, Some(_)) => {
                            return Err(format!("{}: Method without Path", ectx("Path")));
                        }
                    };
                    http_routes.push(HttpRouteDef { event_name: event_name.to_owned(), route });
                }
                Some("SQS") => {
                    let queue = ev_prop("Queue")
                        .and_then(queue_ref)
                        .ok_or_else(|| format!("{}: missing or not understood", ectx("Queue")))?;
                    let batch_size = ev_prop("BatchSize").map(|v| number(v, &ectx("BatchSize"))).transpose()?.flatten();
                    let function_response_types = match ev_prop("FunctionResponseTypes") {
                        Some(Value::Sequence(s)) => s.iter().filter_map(plain_str).map(str::to_owned).collect(),
                        _ => Vec::new(),
                    };
                    sqs_sources.push(SqsEventSource {
                        event_name: event_name.to_owned(),
                        queue,
                        batch_size: batch_size.unwrap_or(DEFAULT_SQS_BATCH_SIZE),
                        function_response_types,
                    });
                }
                Some("Schedule") => {
                    let expression = ev_prop("Schedule")
                        .and_then(plain_str)
                        .ok_or_else(|| format!("{}: missing or not a string", ectx("Schedule")))?;
                    let every = parse_rate(expression).map_err(|m| format!("{}: {m}", ectx("Schedule")))?;
                    schedules.push(ScheduleSource {
                        event_name: event_name.to_owned(),
                        expression: expression.to_owned(),
                        every,
                    });
                }
                // S3, ... are not served locally.
                _ => {}
            }
        }
    }

    Ok(FunctionDef {
        logical_id: logical_id.to_owned(),
        binary,
        timeout: Duration::from_secs(timeout),
        memory_mb,
        env,
        http_routes,
        sqs_sources,
        schedules,
    })
}

/// Checks a route path as API Gateway would take it: starts with `/`, no
/// empty segments, `{name}` whole segments only, `{name+}` only last.
pub fn validate_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("route path {path:?} does not start with /"));
    }
    if path == "/" {
        return Ok(());
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            return Err(format!("route path {path:?} has an empty segment"));
        }
        if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.') {
                return Err(format!("route path {path:?}: bad parameter {seg:?}"));
            }
            if greedy && i + 1 != segments.len() {
                return Err(format!("route path {path:?}: a greedy parameter must be the last segment"));
            }
        } else if seg.contains(['{', '}']) {
            return Err(format!("route path {path:?}: a parameter must be a whole segment"));
        }
    }
    Ok(())
}

/// `Environment.Variables` under a function's properties or `Globals.Function`.
pub(crate) fn env_variables(v: &Value) -> Option<&serde_yaml_ng::Mapping> {
    match v.get("Environment")?.get("Variables")? {
        Value::Mapping(m) => Some(m),
        _ => None,
    }
}

fn queue_ref(v: &Value) -> Option<QueueRef> {
    // `!GetAtt [Q, Arn]` and `Fn::GetAtt: [Q, Arn]` are lists; join them the
    // way the short string form spells them.
    fn joined(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Sequence(parts) => {
                parts.iter().map(|p| plain_str(p).map(str::to_owned)).collect::<Option<Vec<_>>>().map(|p| p.join("."))
            }
            _ => None,
        }
    }
    match v {
        Value::String(s) => Some(QueueRef::Plain(s.clone())),
        Value::Tagged(t) => Some(QueueRef::Tagged {
            tag: t.tag.to_string().trim_start_matches('!').to_owned(),
            value: joined(&t.value)?,
        }),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let tag = plain_str(k)?.trim_start_matches("Fn::").to_owned();
            Some(QueueRef::Tagged { tag, value: joined(v)? })
        }
        _ => None,
    }
}

/// `AuthFunction` → `auth-function`; SAM's fallback for a missing `Binary`.
fn kebab_case(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 4);
    let chars: Vec<char> = id.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            // A new word starts at an upper-case letter that follows a lower
            // one or a digit, or that begins a word after an acronym
            // (`HTTPServer` → `http-server`).
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('-') {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '_' || c == ' ' {
            out.push('-');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn rates_are_eventbridges() {
        assert_eq!(parse_rate("rate(1 minute)"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_rate("rate(5 minutes)"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_rate("rate(2 hours)"), Ok(Duration::from_secs(7200)));
        for bad in ["rate(1 minutes)", "rate(2 minute)", "rate(0 minutes)", "cron(0 12 * * ? *)", "rate(x hours)"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    use super::*;
    use crate::Template;

    const SAMPLE: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: provided.al2023
    Architectures: [arm64]
    Handler: bootstrap
    Timeout: 10
    MemorySize: 256
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        RUST_LOG: info
        SHARED: global
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  AuthFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: auth
    Properties:
      CodeUri: .
      Events:
        Auth:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /api/v1/auth/{proxy+}
            Method: ANY
        Me:
          Type: HttpApi
          Properties:
            Path: /api/v1/me
            Method: get
        Fallback:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
  MailerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 30
      MemorySize: !Ref MemParam
      Environment:
        Variables:
          SHARED: !Sub "${AWS::StackName}-x"
          PORT: 8080
          FROM: noreply@example.com
      Events:
        Receipts:
          Type: SQS
          Properties:
            Queue: !GetAtt MailQueue.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
        Other:
          Type: SQS
          Properties:
            Queue:
              Fn::GetAtt: [OtherQueue, Arn]
        Literal:
          Type: SQS
          Properties:
            Queue: arn:aws:sqs:us-east-1:123456789012:q
"#;

    #[test]
    fn reads_functions_globals_and_short_tags() {
        let t = Template::parse(SAMPLE).unwrap();
        assert_eq!(t.functions.len(), 2);
        let auth = t.function("AuthFunction").unwrap();
        assert_eq!(auth.binary, "auth");
        assert_eq!(auth.timeout, Duration::from_secs(10));
        assert_eq!(auth.memory_mb, 256);
        // TABLE_NAME is `!Ref Table`: skipped, the developer's env supplies it.
        assert_eq!(auth.env.get("TABLE_NAME"), None);
        assert_eq!(auth.env.get("RUST_LOG").map(String::as_str), Some("info"));
        assert_eq!(auth.env.get("SHARED").map(String::as_str), Some("global"));
        assert!(auth.sqs_sources.is_empty());
    }

    #[test]
    fn http_routes_and_default_route() {
        let t = Template::parse(SAMPLE).unwrap();
        let routes: Vec<_> = t.function("AuthFunction").unwrap().http_routes.iter().map(|r| r.route.clone()).collect();
        assert_eq!(
            routes,
            vec![
                RouteSpec::Path { method: "ANY".into(), path: "/api/v1/auth/{proxy+}".into() },
                RouteSpec::Path { method: "GET".into(), path: "/api/v1/me".into() },
                RouteSpec::Default,
            ]
        );
    }

    #[test]
    fn function_overrides_and_fallbacks() {
        let t = Template::parse(SAMPLE).unwrap();
        let m = t.function("MailerFunction").unwrap();
        assert_eq!(m.binary, "mailer-function");
        assert_eq!(m.timeout, Duration::from_secs(30));
        // `!Ref MemParam` cannot be resolved locally: the global applies.
        assert_eq!(m.memory_mb, 256);
        // The function's tagged SHARED hides the global literal.
        assert_eq!(m.env.get("SHARED"), None);
        assert_eq!(m.env.get("PORT").map(String::as_str), Some("8080"));
        assert_eq!(m.env.get("FROM").map(String::as_str), Some("noreply@example.com"));
        assert_eq!(m.env.get("RUST_LOG").map(String::as_str), Some("info"));
    }

    #[test]
    fn sqs_sources() {
        let t = Template::parse(SAMPLE).unwrap();
        let s = &t.function("MailerFunction").unwrap().sqs_sources;
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].queue, QueueRef::Tagged { tag: "GetAtt".into(), value: "MailQueue.Arn".into() });
        assert_eq!(s[0].queue.logical_id(), Some("MailQueue"));
        assert_eq!(s[0].batch_size, 5);
        assert_eq!(s[0].function_response_types, vec!["ReportBatchItemFailures".to_string()]);
        assert_eq!(s[1].queue, QueueRef::Tagged { tag: "GetAtt".into(), value: "OtherQueue.Arn".into() });
        assert_eq!(s[1].batch_size, DEFAULT_SQS_BATCH_SIZE);
        assert_eq!(s[2].queue, QueueRef::Plain("arn:aws:sqs:us-east-1:123456789012:q".into()));
    }

    #[test]
    fn defaults_without_globals() {
        let t = Template::parse(
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        E:\n          Type: HttpApi\n          Properties:\n            Path: /x\n",
        )
        .unwrap();
        let f = &t.functions[0];
        assert_eq!(f.timeout, Duration::from_secs(DEFAULT_TIMEOUT_SECS));
        assert_eq!(f.memory_mb, DEFAULT_MEMORY_MB);
        assert_eq!(f.http_routes[0].route, RouteSpec::Path { method: "ANY".into(), path: "/x".into() });
    }

    #[test]
    fn rejects_bad_paths_and_methods() {
        let tpl = |path: &str, method: &str| {
            format!(
                "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        E:\n          Type: HttpApi\n          Properties:\n            Path: \"{path}\"\n            Method: \"{method}\"\n"
            )
        };
        assert!(Template::parse(&tpl("/a/{p+}/b", "GET")).is_err());
        assert!(Template::parse(&tpl("no-slash", "GET")).is_err());
        assert!(Template::parse(&tpl("/a", "GE T")).is_err());
        assert!(Template::parse(&tpl("/a/{p}", "post")).is_ok());
        assert!(Template::parse("Resources: [").is_err());
    }

    #[test]
    fn kebab() {
        assert_eq!(kebab_case("AuthFunction"), "auth-function");
        assert_eq!(kebab_case("HTTPServerFn"), "http-server-fn");
        assert_eq!(kebab_case("Posts2Function"), "posts2-function");
        assert_eq!(kebab_case("mailer"), "mailer");
    }
}
