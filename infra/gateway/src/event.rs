//! API Gateway HTTP API payload format 2.0: building the request event from
//! an HTTP request, and turning the function's response back into one.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::error::GatewayError;
use crate::routes::percent_decode;

/// The account id API Gateway reports; a fixed fake one locally.
pub const ACCOUNT_ID: &str = "123456789012";

/// A payload format 2.0 request event.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpApiEvent {
    pub version: String,
    pub route_key: String,
    pub raw_path: String,
    pub raw_query_string: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookies: Option<Vec<String>>,
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_string_parameters: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_parameters: Option<BTreeMap<String, String>>,
    pub request_context: RequestContext,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub is_base64_encoded: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    pub account_id: String,
    pub api_id: String,
    pub domain_name: String,
    pub domain_prefix: String,
    pub http: HttpContext,
    pub request_id: String,
    pub route_key: String,
    pub stage: String,
    pub time: String,
    pub time_epoch: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpContext {
    pub method: String,
    pub path: String,
    pub protocol: String,
    pub source_ip: String,
    pub user_agent: String,
}

/// What the event needs beyond the request itself.
#[derive(Debug, Clone)]
pub struct EventContext {
    pub peer: SocketAddr,
    /// The port the gateway listens on (`x-forwarded-port`).
    pub local_port: u16,
    /// API Gateway's own request id (not the Lambda request id).
    pub request_id: String,
    pub now: OffsetDateTime,
}

/// Builds the event for a request that matched `route_key`.
pub fn build_event(
    parts: &http::request::Parts,
    body: &[u8],
    route_key: &str,
    path_params: BTreeMap<String, String>,
    ctx: &EventContext,
) -> HttpApiEvent {
    let raw_path = parts.uri.path().to_owned();
    let raw_query_string = parts.uri.query().unwrap_or("").to_owned();

    let cookies: Vec<String> = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| lossy(v).split("; ").map(str::to_owned).collect::<Vec<_>>())
        .filter(|c| !c.is_empty())
        .collect();

    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for name in parts.headers.keys() {
        if name == header::COOKIE {
            continue;
        }
        let joined = parts.headers.get_all(name).iter().map(lossy).collect::<Vec<_>>().join(",");
        headers.insert(name.as_str().to_owned(), joined);
    }
    // API Gateway adds these; lambda_http builds the request URI's scheme
    // from x-forwarded-proto (defaulting to https, wrong for this gateway).
    let peer_ip = ctx.peer.ip().to_string();
    let xff = match headers.get("x-forwarded-for") {
        Some(prev) => format!("{prev}, {peer_ip}"),
        None => peer_ip.clone(),
    };
    headers.insert("x-forwarded-for".into(), xff);
    headers.insert("x-forwarded-proto".into(), "http".into());
    headers.insert("x-forwarded-port".into(), ctx.local_port.to_string());

    let domain_name = headers.get("host").cloned().unwrap_or_else(|| "localhost".into());
    let domain_prefix = domain_name.split([':', '.']).next().unwrap_or("").to_owned();
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();

    let (body, is_base64_encoded) = match body {
        [] => (None, false),
        bytes => match std::str::from_utf8(bytes) {
            Ok(text) => (Some(text.to_owned()), false),
            Err(_) => (Some(BASE64.encode(bytes)), true),
        },
    };

    HttpApiEvent {
        version: "2.0".into(),
        route_key: route_key.to_owned(),
        query_string_parameters: parse_query(&raw_query_string),
        path_parameters: (!path_params.is_empty()).then_some(path_params),
        cookies: (!cookies.is_empty()).then_some(cookies),
        headers,
        request_context: RequestContext {
            account_id: ACCOUNT_ID.into(),
            api_id: "local".into(),
            domain_name,
            domain_prefix,
            http: HttpContext {
                method: parts.method.as_str().to_owned(),
                path: raw_path.clone(),
                protocol: "HTTP/1.1".into(),
                source_ip: peer_ip,
                user_agent,
            },
            request_id: ctx.request_id.clone(),
            route_key: route_key.to_owned(),
            stage: "$default".into(),
            time: clf_time(ctx.now),
            time_epoch: (ctx.now.unix_timestamp_nanos() / 1_000_000) as i64,
        },
        raw_path,
        raw_query_string,
        body,
        is_base64_encoded,
    }
}

/// `a=1&a=2&b=x%20y` → `{a: "1,2", b: "x y"}`; `None` when there is none.
fn parse_query(raw: &str) -> Option<BTreeMap<String, String>> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        out.entry(k)
            .and_modify(|prev| {
                prev.push(',');
                prev.push_str(&v);
            })
            .or_insert(v);
    }
    (!out.is_empty()).then_some(out)
}

/// API Gateway's `requestContext.time`: `25/Nov/2026:05:50:00 +0000`.
fn clf_time(t: OffsetDateTime) -> String {
    let fmt = format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    t.to_offset(time::UtcOffset::UTC).format(&fmt).unwrap_or_default()
}

fn lossy(v: &HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

/// A payload format 2.0 response, as lambda_http serialises it
/// (`{"statusCode":200,"headers":{..},"multiValueHeaders":{},"body":"..",
/// "isBase64Encoded":false,"cookies":[]}`). Nulls are tolerated wherever a
/// field is optional.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionResponse {
    status_code: u16,
    #[serde(default)]
    headers: Option<BTreeMap<String, HeaderScalar>>,
    #[serde(default)]
    multi_value_headers: Option<BTreeMap<String, Vec<HeaderScalar>>>,
    #[serde(default)]
    cookies: Option<Vec<String>>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: Option<bool>,
}

/// Header values are strings, but numbers and booleans are accepted as API
/// Gateway does (`"content-length": 12` is common in hand-written functions).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum HeaderScalar {
    Str(String),
    Num(serde_json::Number),
    Bool(bool),
}

impl HeaderScalar {
    fn into_string(self) -> String {
        match self {
            HeaderScalar::Str(s) => s,
            HeaderScalar::Num(n) => n.to_string(),
            HeaderScalar::Bool(b) => b.to_string(),
        }
    }
}

/// Headers the gateway owns: framing is redone for the body actually sent.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "content-length" | "transfer-encoding" | "connection" | "keep-alive" | "upgrade" | "te" | "trailer"
    )
}

/// Turns the function's answer into an HTTP response; anything that is not
/// a 2.0 response is a `BadResponse` (the caller answers 502).
pub fn decode_response(payload: &[u8]) -> Result<http::Response<Bytes>, GatewayError> {
    let bad = |m: String| GatewayError::BadResponse(m);
    let r: FunctionResponse = serde_json::from_slice(payload).map_err(|e| bad(e.to_string()))?;
    if !(100..=599).contains(&r.status_code) {
        return Err(bad(format!("statusCode {} is out of range", r.status_code)));
    }
    let mut response = http::Response::new(Bytes::new());
    *response.status_mut() = http::StatusCode::from_u16(r.status_code).map_err(|e| bad(e.to_string()))?;

    let headers = response.headers_mut();
    let single = r.headers.unwrap_or_default().into_iter().map(|(k, v)| (k, vec![v]));
    let multi = r.multi_value_headers.unwrap_or_default().into_iter();
    for (name, values) in single.chain(multi) {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad(format!("bad header name {name:?}")))?;
        if is_hop_by_hop(&name) {
            continue;
        }
        for value in values {
            let value = value.into_string();
            let value = HeaderValue::from_str(&value).map_err(|_| bad(format!("bad value for header {name}")))?;
            headers.append(name.clone(), value);
        }
    }
    for cookie in r.cookies.unwrap_or_default() {
        let value = HeaderValue::from_str(&cookie).map_err(|_| bad("bad cookie".into()))?;
        headers.append(header::SET_COOKIE, value);
    }

    let body = match (r.body, r.is_base64_encoded.unwrap_or(false)) {
        (None, _) => Bytes::new(),
        (Some(b), false) => Bytes::from(b),
        (Some(b), true) => {
            Bytes::from(BASE64.decode(b.as_bytes()).map_err(|e| bad(format!("body is not base64: {e}")))?)
        }
    };
    *response.body_mut() = body;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> EventContext {
        EventContext {
            peer: "10.1.2.3:5555".parse().unwrap(),
            local_port: 3000,
            request_id: "req-1".into(),
            // 2026-11-25T05:50:00Z
            now: OffsetDateTime::from_unix_timestamp(1_795_585_800).unwrap(),
        }
    }

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn event_fields() {
        let p = parts(
            "POST",
            "/api/v1/posts/7?a=1&a=2&b=x%20y&flag&c=p+q",
            &[
                ("host", "localhost:3000"),
                ("user-agent", "test/1"),
                ("cookie", "s=1; t=2"),
                ("x-multi", "one"),
                ("x-multi", "two"),
                ("content-type", "application/json"),
            ],
        );
        let mut params = BTreeMap::new();
        params.insert("id".to_string(), "7".to_string());
        let ev = build_event(&p, br#"{"x":1}"#, "POST /api/v1/posts/{id}", params, &ctx());
        let json = serde_json::to_value(&ev).unwrap();
        assert_eq!(json["version"], "2.0");
        assert_eq!(json["routeKey"], "POST /api/v1/posts/{id}");
        assert_eq!(json["rawPath"], "/api/v1/posts/7");
        assert_eq!(json["rawQueryString"], "a=1&a=2&b=x%20y&flag&c=p+q");
        assert_eq!(json["cookies"], serde_json::json!(["s=1", "t=2"]));
        assert!(json["headers"].get("cookie").is_none());
        assert_eq!(json["headers"]["x-multi"], "one,two");
        assert_eq!(json["headers"]["x-forwarded-for"], "10.1.2.3");
        assert_eq!(json["headers"]["x-forwarded-proto"], "http");
        assert_eq!(json["queryStringParameters"], serde_json::json!({"a": "1,2", "b": "x y", "flag": "", "c": "p+q"}));
        assert_eq!(json["pathParameters"], serde_json::json!({"id": "7"}));
        let rc = &json["requestContext"];
        assert_eq!(rc["accountId"], ACCOUNT_ID);
        assert_eq!(rc["apiId"], "local");
        assert_eq!(rc["domainName"], "localhost:3000");
        assert_eq!(rc["domainPrefix"], "localhost");
        assert_eq!(rc["http"]["method"], "POST");
        assert_eq!(rc["http"]["path"], "/api/v1/posts/7");
        assert_eq!(rc["http"]["protocol"], "HTTP/1.1");
        assert_eq!(rc["http"]["sourceIp"], "10.1.2.3");
        assert_eq!(rc["http"]["userAgent"], "test/1");
        assert_eq!(rc["requestId"], "req-1");
        assert_eq!(rc["stage"], "$default");
        assert_eq!(rc["time"], "25/Nov/2026:05:50:00 +0000");
        assert_eq!(rc["timeEpoch"], 1_795_585_800_000_i64);
        assert_eq!(json["body"], r#"{"x":1}"#);
        assert_eq!(json["isBase64Encoded"], false);
    }

    #[test]
    fn optional_fields_omitted() {
        let p = parts("GET", "/", &[]);
        let ev = build_event(&p, b"", "$default", BTreeMap::new(), &ctx());
        let json = serde_json::to_value(&ev).unwrap();
        for absent in ["cookies", "queryStringParameters", "pathParameters", "body"] {
            assert!(json.get(absent).is_none(), "{absent} should be omitted");
        }
        assert_eq!(json["rawQueryString"], "");
        assert_eq!(json["routeKey"], "$default");
        assert_eq!(json["requestContext"]["routeKey"], "$default");
        assert_eq!(json["isBase64Encoded"], false);
    }

    #[test]
    fn binary_body_is_base64() {
        let p = parts("PUT", "/x", &[]);
        let ev = build_event(&p, &[0xff, 0x00, 0x80], "ANY /x", BTreeMap::new(), &ctx());
        assert_eq!(ev.body.as_deref(), Some("/wCA"));
        assert!(ev.is_base64_encoded);
    }

    #[test]
    fn event_is_readable_by_lambda_http_shape() {
        // The fields lambda_http's deserializer requires are present.
        let p = parts("GET", "/a?b=c", &[("host", "h")]);
        let ev = build_event(&p, b"", "GET /a", BTreeMap::new(), &ctx());
        let json = serde_json::to_value(&ev).unwrap();
        for k in ["version", "routeKey", "rawPath", "rawQueryString", "headers", "requestContext", "isBase64Encoded"] {
            assert!(json.get(k).is_some(), "{k}");
        }
    }

    #[test]
    fn decodes_lambda_http_response() {
        let r = decode_response(
            br#"{"statusCode":201,"headers":{"content-type":"application/json","content-length":"999"},"multiValueHeaders":{"x-m":["1","2"]},"body":"{\"ok\":true}","isBase64Encoded":false,"cookies":["a=1; Path=/","b=2"]}"#,
        )
        .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert!(r.headers().get("content-length").is_none());
        let xm: Vec<_> = r.headers().get_all("x-m").iter().collect();
        assert_eq!(xm, ["1", "2"]);
        let sc: Vec<_> = r.headers().get_all("set-cookie").iter().collect();
        assert_eq!(sc, ["a=1; Path=/", "b=2"]);
        assert_eq!(r.body().as_ref(), br#"{"ok":true}"#);
    }

    #[test]
    fn decodes_base64_and_minimal_responses() {
        let r = decode_response(br#"{"statusCode":200,"body":"/wCA","isBase64Encoded":true}"#).unwrap();
        assert_eq!(r.body().as_ref(), &[0xff, 0x00, 0x80]);
        let r =
            decode_response(br#"{"statusCode":204,"headers":null,"body":null,"isBase64Encoded":null,"cookies":null}"#)
                .unwrap();
        assert_eq!(r.status(), 204);
        assert!(r.body().is_empty());
        let r = decode_response(br#"{"statusCode":200,"headers":{"x-n":5,"x-b":true}}"#).unwrap();
        assert_eq!(r.headers()["x-n"], "5");
        assert_eq!(r.headers()["x-b"], "true");
    }

    #[test]
    fn rejects_what_is_not_a_response() {
        for bad in [
            &br#"{"hello":"world"}"#[..],
            b"not json",
            br#""just a string""#,
            br#"{"statusCode":"200"}"#,
            br#"{"statusCode":42}"#,
            br#"{"statusCode":200,"body":"!!","isBase64Encoded":true}"#,
            br#"{"statusCode":200,"headers":{"bad name":"x"}}"#,
        ] {
            assert!(
                matches!(decode_response(bad), Err(GatewayError::BadResponse(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
