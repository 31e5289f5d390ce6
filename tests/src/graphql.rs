//! Helpers for the GraphQL suites: requests to `/graphql` (POST, and GET
//! for queries) with a token, an `Accept` and a request id of the test's
//! choosing; the committed named operations in `openapi/operations/`; the
//! error codes and field maps of an answer; Apollo's persisted-query hashes.

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::posts::encode;
use crate::{Api, status_and_json};

/// The endpoint: at the root, outside `/api/v1`.
pub const PATH: &str = "/graphql";

/// The GraphQL-over-HTTP media type a client may ask for.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The two ways a test asks: no `Accept` (plain JSON), and the
/// GraphQL-over-HTTP media type.
pub const ACCEPTS: [Option<&str>; 2] = [None, Some(GRAPHQL_RESPONSE_JSON)];

/// The committed operation `openapi/operations/<name>.graphql`, trimmed as
/// the allowlist generator trims it before hashing.
pub fn operation(name: &str) -> String {
    let path = format!("{}/../openapi/operations/{name}.graphql", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")).trim().to_owned()
}

/// Lower-case hex SHA-256 of the text: a persisted query's `sha256Hash`.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A request body `{query, variables}`.
pub fn request(query: &str, variables: Value) -> Value {
    json!({"query": query, "variables": variables})
}

/// The `extensions` of a persisted query.
pub fn persisted_extension(hash: &str) -> Value {
    json!({"persistedQuery": {"version": 1, "sha256Hash": hash}})
}

/// A persisted-query request body: the hash, and the query text if given.
pub fn persisted(hash: &str, query: Option<&str>, variables: Value) -> Value {
    let mut body = json!({"variables": variables, "extensions": persisted_extension(hash)});
    if let Some(query) = query {
        body["query"] = json!(query);
    }
    body
}

/// Adds a bearer token, an `Accept` and an `X-Request-Id`, each if given.
pub fn decorate(
    mut request: RequestBuilder,
    token: Option<&str>,
    accept: Option<&str>,
    request_id: Option<&str>,
) -> RequestBuilder {
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    if let Some(id) = request_id {
        request = request.header("X-Request-Id", id);
    }
    request
}

/// Sends the request: status, headers, JSON body (a string if not JSON).
pub async fn reply(request: RequestBuilder) -> (StatusCode, HeaderMap, Value) {
    let response = request.send().await.expect("request reaches the gateway");
    let headers = response.headers().clone();
    let (status, body) = status_and_json(response).await;
    (status, headers, body)
}

/// `POST /graphql` of `{query, variables}`, with a token if given.
pub async fn gql(api: &Api, query: &str, variables: Value, token: Option<&str>) -> (StatusCode, Value) {
    let (status, _, body) = gql_with(api, &request(query, variables), token, None, None).await;
    (status, body)
}

/// `POST /graphql` of any JSON body, with a token, `Accept` and request id if given.
pub async fn gql_with(
    api: &Api,
    body: &Value,
    token: Option<&str>,
    accept: Option<&str>,
    request_id: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    reply(decorate(api.request(Method::POST, PATH).json(body), token, accept, request_id)).await
}

/// `/graphql?name=value&…`, each value percent-encoded.
pub fn get_path(params: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = params.iter().map(|(name, value)| format!("{name}={}", encode(value))).collect();
    if pairs.is_empty() { PATH.to_owned() } else { format!("{PATH}?{}", pairs.join("&")) }
}

/// `GET /graphql?…` with these parameters, a token and `Accept` if given.
pub async fn gql_get(
    api: &Api,
    params: &[(&str, &str)],
    token: Option<&str>,
    accept: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    reply(decorate(api.request(Method::GET, &get_path(params)), token, accept, None)).await
}

/// `errors[0].extensions.code`, or "" when there is none.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
}

/// The `data` of a 200 answer without errors.
pub fn ok(status: StatusCode, body: &Value) -> &Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    assert!(body["data"].is_object(), "no data: {body}");
    &body["data"]
}

/// Asserts `Content-Type` is `media` with `charset=utf-8`.
pub fn assert_media_type(headers: &HeaderMap, media: &str) {
    let value = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut parts = value.split(';').map(str::trim);
    assert_eq!(parts.next(), Some(media), "Content-Type: {value:?}");
    assert!(parts.any(|p| p.eq_ignore_ascii_case("charset=utf-8")), "Content-Type without charset=utf-8: {value:?}");
}

/// A request error (the document refused before execution): 200 as
/// `application/json`, or 400 as `application/graphql-response+json` when
/// the client asked for it (`accept`); `errors` with `code`, and no `data`.
pub fn assert_request_error(status: StatusCode, headers: &HeaderMap, body: &Value, code: &str, accept: Option<&str>) {
    let (expected, media) = if accept == Some(GRAPHQL_RESPONSE_JSON) {
        (StatusCode::BAD_REQUEST, GRAPHQL_RESPONSE_JSON)
    } else {
        (StatusCode::OK, "application/json")
    };
    assert_eq!(status, expected, "Accept {accept:?}: {body}");
    assert_media_type(headers, media);
    assert!(body.get("data").is_none(), "a request error has no data key: {body}");
    assert_eq!(error_code(body), code, "{body}");
    assert!(body["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

/// A request that is not a GraphQL request: `status`, and only `errors`,
/// whose first has a message and the code `BAD_REQUEST`.
pub fn assert_bad_request(status: StatusCode, body: &Value, expected: u16) {
    assert_eq!(status.as_u16(), expected, "{body}");
    assert_only_errors(body);
    assert_eq!(error_code(body), "BAD_REQUEST", "{body}");
}

/// The body is `{"errors": [...]}` and nothing else, each error with a message.
pub fn assert_only_errors(body: &Value) {
    let object = body.as_object().unwrap_or_else(|| panic!("not a JSON object: {body}"));
    assert_eq!(object.keys().map(String::as_str).collect::<Vec<_>>(), ["errors"], "{body}");
    let errors = body["errors"].as_array().unwrap_or_else(|| panic!("errors is not a list: {body}"));
    assert!(!errors.is_empty(), "{body}");
    for error in errors {
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
}

/// An execution result with a resolver error: 200, a `data` key (the field
/// `field` null, or `data` itself null), and the first error's `code` and
/// `path` starting at `field`.
pub fn assert_field_error(status: StatusCode, body: &Value, field: &str, code: &str) {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("data").is_some(), "an execution result has a data key: {body}");
    assert!(body["data"].is_null() || body["data"][field].is_null(), "{field} should be null: {body}");
    assert_eq!(error_code(body), code, "{body}");
    assert_eq!(body["errors"][0]["path"][0], field, "path: {body}");
    assert!(body["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

/// The first error is `BAD_USER_INPUT` naming exactly `fields`, each with a
/// non-empty list of messages.
pub fn assert_input_errors(body: &Value, fields: &[&str]) {
    assert_eq!(error_code(body), "BAD_USER_INPUT", "{body}");
    let map = body["errors"][0]["extensions"]["errors"]
        .as_object()
        .unwrap_or_else(|| panic!("no extensions.errors field map: {body}"));
    let mut named: Vec<&str> = map.keys().map(String::as_str).collect();
    named.sort_unstable();
    let mut expected = fields.to_vec();
    expected.sort_unstable();
    assert_eq!(named, expected, "{body}");
    for (field, messages) in map {
        let messages = messages.as_array().unwrap_or_else(|| panic!("{field}: not a list: {body}"));
        assert!(!messages.is_empty() && messages.iter().all(|m| m.as_str().is_some_and(|m| !m.is_empty())), "{body}");
    }
}

/// The nodes of a connection, in order.
pub fn nodes(connection: &Value) -> Vec<&Value> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|edge| &edge["node"])
        .collect()
}

/// The ids of a connection's nodes, in order.
pub fn node_ids(connection: &Value) -> Vec<String> {
    nodes(connection)
        .iter()
        .map(|node| node["id"].as_str().unwrap_or_else(|| panic!("no id: {node}")).to_owned())
        .collect()
}

/// An RFC 3339 time, as an instant.
pub fn instant(value: &Value) -> OffsetDateTime {
    let text = value.as_str().unwrap_or_else(|| panic!("not a time: {value}"));
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
}
