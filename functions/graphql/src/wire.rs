//! GraphQL over HTTP: what a request may look like (POST JSON or GET
//! parameters), which media type the answer takes, and which status.
//!
//! Status codes follow the GraphQL-over-HTTP spec: with
//! `application/graphql-response+json` a document refused before execution
//! is a 400; with `application/json` it is a 200, as older clients expect.
//! Either way an executed document is a 200, whatever its field errors.

use std::collections::HashMap;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::errors::{self, BAD_REQUEST, INTERNAL, INTERNAL_MESSAGE, VALIDATION_FAILED, error_object};
use crate::limits::{MAX_COMPLEXITY, MAX_DEPTH, Refusal};
use crate::persisted::PersistedQuery;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// A GraphQL request as the documentation shows it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct GraphqlRequest {
    /// The document; may be left out when a persisted query is named.
    query: Option<String>,
    variables: Option<HashMap<String, serde_json::Value>>,
    #[schema(rename = "operationName")]
    operation_name: Option<String>,
    /// `{"persistedQuery": {"version": 1, "sha256Hash": "…"}}`.
    extensions: Option<HashMap<String, serde_json::Value>>,
}

/// `{data, errors?}`; `errors[].extensions.code` is one of the contract's codes.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct GraphqlResponse {
    data: Option<serde_json::Value>,
    errors: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Json,
    GraphqlResponse,
}

impl Media {
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if accept.split(',').any(|part| part.trim().starts_with(GRAPHQL_RESPONSE)) {
            Self::GraphqlResponse
        } else {
            Self::Json
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json; charset=utf-8",
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        }
    }
}

/// A request as sent, before its document is looked at.
#[derive(Debug, Default)]
pub struct WireRequest {
    pub query: Option<String>,
    pub variables: Map<String, Value>,
    pub operation_name: Option<String>,
    pub persisted: Option<PersistedQuery>,
}

fn optional_string(value: Option<Value>, name: &str) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(format!("`{name}` must be a string.")),
    }
}

fn optional_object(value: Option<Value>, name: &str) -> Result<Map<String, Value>, String> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(format!("`{name}` must be an object.")),
    }
}

impl WireRequest {
    fn from_parts(
        query: Option<Value>,
        variables: Option<Value>,
        operation_name: Option<Value>,
        extensions: Option<Value>,
    ) -> Result<Self, String> {
        let query = optional_string(query, "query")?;
        let variables = optional_object(variables, "variables")?;
        let operation_name = optional_string(operation_name, "operationName")?;
        let mut extensions = optional_object(extensions, "extensions")?;
        let persisted = match extensions.remove("persistedQuery") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                serde_json::from_value::<PersistedQuery>(value)
                    .map_err(|_| "`extensions.persistedQuery` must be `{version, sha256Hash}`.".to_owned())?,
            ),
        };
        if query.is_none() && persisted.is_none() {
            return Err("A GraphQL request needs a `query` or a persisted query.".to_owned());
        }
        Ok(Self { query, variables, operation_name, persisted })
    }

    /// `GET /graphql?query=…&variables=<JSON>&operationName=…&extensions=<JSON>`.
    pub fn from_params(params: &HashMap<String, String>) -> Result<Self, String> {
        let json = |name: &str| -> Result<Option<Value>, String> {
            match params.get(name).filter(|text| !text.is_empty()) {
                None => Ok(None),
                Some(text) => serde_json::from_str(text).map(Some).map_err(|_| format!("`{name}` is not JSON.")),
            }
        };
        Self::from_parts(
            params.get("query").cloned().map(Value::String),
            json("variables")?,
            params.get("operationName").filter(|name| !name.is_empty()).cloned().map(Value::String),
            json("extensions")?,
        )
    }

    /// A POST of `application/json`, at most 64 KiB.
    pub async fn from_post(request: Request) -> Result<Self, Answer> {
        let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
        if !content_type.as_ref().is_some_and(web::http::is_json) {
            return Err(Answer::bad_request(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Send the request as application/json.",
            ));
        }
        let body = match web::http::read_body(request, web::http::DEFAULT_BODY_LIMIT).await {
            Ok(body) => body,
            Err(domain::Error::PayloadTooLarge) => {
                return Err(Answer::bad_request(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large."));
            }
            Err(_) => return Err(Answer::bad_request(StatusCode::BAD_REQUEST, "Could not read the request body.")),
        };
        let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(&body) else {
            return Err(Answer::bad_request(StatusCode::BAD_REQUEST, "The body is not a JSON object."));
        };
        Self::from_parts(
            fields.remove("query"),
            fields.remove("variables"),
            fields.remove("operationName"),
            fields.remove("extensions"),
        )
        .map_err(|message| Answer::bad_request(StatusCode::BAD_REQUEST, &message))
    }
}

/// An answer on its way out.
#[derive(Debug)]
pub struct Answer {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
    allow: Option<&'static str>,
    /// The document ran (so a persisted query may be registered).
    pub executed: bool,
}

impl Answer {
    pub fn new(status: StatusCode, errors: Vec<Value>) -> Self {
        Self { status, body: json!({ "errors": errors }), retry_after: None, allow: None, executed: false }
    }

    /// Not a GraphQL request at all.
    pub fn bad_request(status: StatusCode, message: &str) -> Self {
        Self::new(status, vec![error_object(BAD_REQUEST, message, None)])
    }

    /// A document refused before execution: no `data`.
    pub fn request_error(media: Media, code: &str, message: &str, fields: Option<Value>) -> Self {
        let status = match media {
            Media::Json => StatusCode::OK,
            Media::GraphqlResponse => StatusCode::BAD_REQUEST,
        };
        Self::new(status, vec![error_object(code, message, fields)])
    }

    pub fn refused(media: Media, refusal: &Refusal) -> Self {
        match refusal {
            Refusal::First => Self::request_error(
                media,
                errors::BAD_USER_INPUT,
                "Invalid input.",
                Some(json!({ "first": [web::pagination::page_size_range_message()] })),
            ),
            Refusal::TooDeep { depth } => Self::request_error(
                media,
                errors::QUERY_TOO_DEEP,
                &format!("The query is {depth} levels deep; at most {MAX_DEPTH} are allowed."),
                None,
            ),
            Refusal::Invalid(message) => Self::request_error(media, VALIDATION_FAILED, message, None),
            Refusal::TooComplex { complexity } => Self::request_error(
                media,
                errors::QUERY_TOO_COMPLEX,
                &format!("The query's complexity is {complexity}; at most {MAX_COMPLEXITY} is allowed."),
                None,
            ),
        }
    }

    pub fn mutation_over_get() -> Self {
        let mut answer = Self::bad_request(StatusCode::METHOD_NOT_ALLOWED, "Mutations are sent with POST.");
        answer.allow = Some("POST");
        answer
    }

    /// A domain error met before execution (throttling, a bad token, the
    /// store): its own status and the contract's code.
    pub fn from_error(error: &domain::Error) -> Self {
        let (code, message, fields) = errors::classify(error);
        if code == INTERNAL {
            tracing::error!(error = %error, "request failed");
        }
        let mut answer = Self::new(error.status(), vec![error_object(code, &message, fields)]);
        if let domain::Error::Throttled { retry_after_secs }
        | domain::Error::ServiceUnavailable { retry_after_secs, .. } = error
        {
            answer.retry_after = Some(*retry_after_secs);
        }
        answer
    }

    /// The result of execution. Errors the library raised without one of
    /// our codes are validation failures when they have no path (nothing
    /// ran), internal faults when they do (and their text stays in the log).
    pub fn from_execution(media: Media, response: async_graphql::Response) -> Self {
        let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({ "data": null }));
        let mut refused_before_running = !response.errors.is_empty();
        if let Some(Value::Array(list)) = body.get_mut("errors") {
            for error in list.iter_mut() {
                let has_code = error.pointer("/extensions/code").is_some();
                let has_path = error.get("path").is_some();
                refused_before_running &= !has_path && !has_code;
                if has_code {
                    continue;
                }
                let message = error.get("message").and_then(Value::as_str).unwrap_or_default();
                // The library's own words for an argument it could not read
                // (a null where a value is needed): the client's input.
                let bad_input = message.starts_with("Failed to parse \"");
                if has_path && !bad_input {
                    tracing::error!(error = %message, "execution failed");
                    error["message"] = Value::String(INTERNAL_MESSAGE.to_owned());
                }
                let code = match (has_path, bad_input) {
                    (_, true) => errors::BAD_USER_INPUT,
                    (true, false) => INTERNAL,
                    (false, false) => VALIDATION_FAILED,
                };
                error["extensions"] = json!({ "code": code });
            }
        }
        let refused_before_running = refused_before_running && body.get("data").is_none_or(Value::is_null);
        if refused_before_running {
            if let Some(object) = body.as_object_mut() {
                object.remove("data");
            }
            let status = if media == Media::GraphqlResponse { StatusCode::BAD_REQUEST } else { StatusCode::OK };
            return Self { status, body, retry_after: None, allow: None, executed: false };
        }
        Self { status: StatusCode::OK, body, retry_after: None, allow: None, executed: true }
    }

    pub fn into_response(self, media: Media) -> Response {
        let mut response = (self.status, self.body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media.content_type()));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn get_parameters_carry_json_variables_and_extensions() {
        let request = WireRequest::from_params(&params(&[
            ("query", "query Q($id: ID!) { post(id: $id) { id } }"),
            ("variables", r#"{"id": "01J"}"#),
            ("operationName", "Q"),
        ]))
        .unwrap();
        assert_eq!(request.variables["id"], "01J");
        assert_eq!(request.operation_name.as_deref(), Some("Q"));
        let hash = "a".repeat(64);
        let extensions = format!(r#"{{"persistedQuery": {{"version": 1, "sha256Hash": "{hash}"}}}}"#);
        let request = WireRequest::from_params(&params(&[("extensions", &extensions)])).unwrap();
        assert_eq!(request.persisted.unwrap().sha256_hash, hash);
    }

    #[test]
    fn requests_without_a_document_or_of_the_wrong_shape_are_refused() {
        assert!(WireRequest::from_params(&params(&[])).is_err());
        assert!(WireRequest::from_params(&params(&[("query", "{ me { id } }"), ("variables", "[1]")])).is_err());
        assert!(WireRequest::from_parts(Some(json!(5)), None, None, None).is_err());
        assert!(WireRequest::from_parts(Some(json!("{ me { id } }")), Some(json!("x")), None, None).is_err());
    }

    #[test]
    fn refusals_are_400_only_for_the_graphql_response_media_type() {
        let refused = |media| Answer::refused(media, &Refusal::TooDeep { depth: 9 });
        assert_eq!(refused(Media::Json).status, StatusCode::OK);
        assert_eq!(refused(Media::GraphqlResponse).status, StatusCode::BAD_REQUEST);
        assert!(refused(Media::Json).body.get("data").is_none());
        assert_eq!(refused(Media::Json).body["errors"][0]["extensions"]["code"], "QUERY_TOO_DEEP");
    }

    #[test]
    fn the_client_names_the_media_type() {
        let mut headers = HeaderMap::new();
        assert_eq!(Media::negotiate(&headers), Media::Json);
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/graphql-response+json, application/json"));
        assert_eq!(Media::negotiate(&headers), Media::GraphqlResponse);
    }
}
