//! Events exactly as the local gateway would hand them to a function: HTTP
//! requests matched against the SAM template's routes and turned into
//! payload 2.0 events, and SQS batches in Lambda's shape.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use local_gateway::event::{EventContext, build_event};
use local_gateway::routes::Router;
use local_gateway::{RouteSpec, Template};
use serde_json::Value;

/// The template's HTTP routes, to build events for its functions.
pub struct HttpEvents {
    router: Router<String>,
}

/// One request as a function will see it.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl HttpRequest {
    pub fn get(path: impl Into<String>) -> Self {
        HttpRequest { method: "GET", path: path.into(), headers: Vec::new(), body: None }
    }

    pub fn post_json(path: impl Into<String>, body: &Value) -> Self {
        HttpRequest {
            method: "POST",
            path: path.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(body.to_string()),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

impl HttpEvents {
    pub fn load(template: &Path) -> Result<Self, String> {
        let template = Template::load(template).map_err(|e| e.to_string())?;
        let mut router = Router::new();
        for function in &template.functions {
            for route in &function.http_routes {
                if let RouteSpec::Path { method, path } = &route.route {
                    router.add(method, path, function.logical_id.clone())?;
                }
            }
        }
        Ok(HttpEvents { router })
    }

    /// The function the request goes to, and its event. `request_id` is the
    /// `X-Request-Id` the function logs its lines under.
    pub fn event(&self, request: &HttpRequest, request_id: &str) -> Result<(String, Bytes), String> {
        let mut builder = http::Request::builder().method(request.method).uri(&request.path);
        builder = builder.header("host", "127.0.0.1").header("x-request-id", request_id);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let (parts, ()) = builder.body(()).map_err(|e| e.to_string())?.into_parts();
        let method = parts.method.clone();
        let found = self
            .router
            .find(&method, parts.uri.path())
            .ok_or_else(|| format!("no route for {} {}", request.method, request.path))?;
        let context = EventContext {
            peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
            local_port: 3000,
            request_id: request_id.to_owned(),
            now: time::OffsetDateTime::now_utc(),
        };
        let body = request.body.as_deref().unwrap_or_default().as_bytes();
        let event = build_event(&parts, body, found.route_key, found.path_params.clone(), &context);
        let payload = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
        Ok((found.target.clone(), Bytes::from(payload)))
    }
}

/// The status code of a function's answer to an HTTP event.
pub fn http_status(payload: &[u8]) -> Option<u16> {
    local_gateway::event::decode_response(payload).ok().map(|r| r.status().as_u16())
}

/// An SQS event of `bodies`, as Lambda's event source mapping builds it.
pub fn sqs_batch(queue_arn: &str, bodies: &[(String, String)]) -> Bytes {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(message_id, body)| {
            serde_json::json!({
                "messageId": message_id,
                "receiptHandle": format!("bench-{message_id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    Bytes::from(serde_json::json!({ "Records": records }).to_string())
}

/// The ids of the messages a batch answer reports as failed.
pub fn batch_failures(payload: &[u8]) -> Vec<String> {
    let answer: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    answer["batchItemFailures"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["itemIdentifier"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// A map for a function's per-request AWS calls: service → calls.
pub type AwsCalls = BTreeMap<String, u64>;
