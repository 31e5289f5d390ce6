//! The one error type of the layers below the web, and the only place it
//! becomes the contract's error format: `{"code", "message", "errors"}`.
//! With the `axum` feature (the web layer's), it is also an axum response:
//! Rust lets only this crate give its type that trait.

use std::collections::BTreeMap;

use http::StatusCode;
use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Field name (dotted path for nested fields, `non_field_errors` for the
/// whole object) to its messages, as Django REST Framework reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(example = json!({"title": ["Ensure this field has at least 3 characters."]}))]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub const NON_FIELD: &'static str = "non_field_errors";

    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.0.get(field).map(Vec::as_slice)
    }

    /// Each field with its messages, in field order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(field, messages)| (field.as_str(), messages.as_slice()))
    }

    /// `Ok(value)` when nothing was reported, else the validation error.
    pub fn into_result<T>(self, value: T) -> Result<T> {
        if self.is_empty() { Ok(value) } else { Err(Error::Validation(self)) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid input: {0:?}")]
    Validation(FieldErrors),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("not authenticated: {0}")]
    NotAuthenticated(&'static str),
    #[error("token not valid")]
    TokenNotValid,
    #[error("permission denied")]
    PermissionDenied,
    #[error("not found")]
    NotFound,
    #[error("method {0} not allowed")]
    MethodNotAllowed(String),
    #[error("conflict: {message}")]
    Conflict { message: String, errors: Option<FieldErrors> },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("throttled, retry after {retry_after_secs}s")]
    Throttled { retry_after_secs: u64 },
    #[error("dependency unavailable: {detail}")]
    ServiceUnavailable { detail: String, retry_after_secs: u64 },
    /// A setting is missing or malformed; stops start-up with its name.
    #[error("configuration: {name}: {reason}")]
    Config { name: &'static str, reason: String },
    /// A fault of ours or of a dependency. The detail goes to the log only.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict { message: message.into(), errors: None }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotAuthenticated(_) | Self::TokenNotValid => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Config { .. } | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body clients see. Internal detail never reaches it.
    pub fn body(&self) -> ErrorBody {
        let (code, message, errors) = match self {
            Self::Validation(errors) => ("validation_error", "Invalid input.".to_owned(), Some(errors.clone())),
            Self::BadRequest(message) => ("bad_request", message.clone(), None),
            Self::NotAuthenticated(message) => ("not_authenticated", (*message).to_owned(), None),
            Self::TokenNotValid => ("token_not_valid", "Given token not valid for any token type.".to_owned(), None),
            Self::PermissionDenied => {
                ("permission_denied", "You do not have permission to perform this action.".to_owned(), None)
            }
            Self::NotFound => ("not_found", "Not found.".to_owned(), None),
            Self::MethodNotAllowed(method) => ("method_not_allowed", format!("Method \"{method}\" not allowed."), None),
            Self::Conflict { message, errors } => ("conflict", message.clone(), errors.clone()),
            Self::PayloadTooLarge => ("payload_too_large", "Request body is too large.".to_owned(), None),
            Self::UnsupportedMediaType(media_type) => {
                ("unsupported_media_type", format!("Unsupported media type \"{media_type}\" in request."), None)
            }
            Self::Throttled { retry_after_secs } => {
                ("throttled", format!("Request was throttled. Expected available in {retry_after_secs} seconds."), None)
            }
            Self::ServiceUnavailable { .. } => {
                ("service_unavailable", "Service temporarily unavailable, try again later.".to_owned(), None)
            }
            Self::Config { .. } | Self::Internal(_) => ("internal_error", "A server error occurred.".to_owned(), None),
        };
        ErrorBody { code, message, errors }
    }

    /// Seconds a client should wait before trying again, when it should.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Throttled { retry_after_secs } | Self::ServiceUnavailable { retry_after_secs, .. } => {
                Some(*retry_after_secs)
            }
            _ => None,
        }
    }
}

/// Every 4xx and 5xx body: nothing else at the top level.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    #[schema(value_type = String, example = "validation_error")]
    pub code: &'static str,
    #[schema(example = "Invalid input.")]
    pub message: String,
    /// Field (dotted path for nested fields, `non_field_errors` for the
    /// whole object) to its messages; `null` when not about fields.
    #[schema(required = true)]
    pub errors: Option<FieldErrors>,
}

#[cfg(feature = "axum")]
pub use response::json_response;

#[cfg(feature = "axum")]
mod response {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use serde::Serialize;

    use super::{Error, JSON_CONTENT_TYPE};

    /// Serialises `value` with the contract's content type.
    pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                let mut response = (status, bytes).into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
                response
            }
            Err(e) => {
                tracing::error!(error = %e, "response serialisation failed");
                let mut response = (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    r#"{"code":"internal_error","message":"A server error occurred.","errors":null}"#,
                )
                    .into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
                response
            }
        }
    }

    impl IntoResponse for Error {
        fn into_response(self) -> Response {
            let status = self.status();
            if status.is_server_error() {
                tracing::error!(error = %self, "request failed");
            }
            let mut response = json_response(status, &self.body());
            if let Some(seconds) = self.retry_after() {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
    }
}

/// The content type of every JSON answer.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

#[cfg(all(test, feature = "axum"))]
mod tests {
    use super::*;
    use axum::http::header;
    use axum::response::IntoResponse;

    async fn body_json(error: Error) -> (StatusCode, Option<String>, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let retry = response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, retry, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn validation_errors_name_their_fields() {
        let mut errors = FieldErrors::new();
        errors.add("title", "Ensure this field has at least 3 characters.");
        errors.add("items.0.quantity", "Ensure this value is less than or equal to 100.");
        let (status, _, body) = body_json(Error::Validation(errors)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            serde_json::json!({
                "code": "validation_error",
                "message": "Invalid input.",
                "errors": {
                    "items.0.quantity": ["Ensure this value is less than or equal to 100."],
                    "title": ["Ensure this field has at least 3 characters."]
                }
            })
        );
    }

    #[tokio::test]
    async fn internal_detail_never_reaches_the_client() {
        let (status, _, body) = body_json(Error::internal("dynamodb: connection refused at 10.0.0.1")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "internal_error");
        assert!(!body.to_string().contains("10.0.0.1"));
        assert_eq!(body["errors"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn throttled_and_unavailable_carry_retry_after() {
        let (status, retry, body) = body_json(Error::Throttled { retry_after_secs: 17 }).await;
        assert_eq!(
            (status, retry.as_deref(), &body["code"]),
            (StatusCode::TOO_MANY_REQUESTS, Some("17"), &"throttled".into())
        );
        let (status, retry, body) =
            body_json(Error::ServiceUnavailable { detail: "stripe down".into(), retry_after_secs: 5 }).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("5"));
        assert_eq!(body["code"], "service_unavailable");
        assert!(!body.to_string().contains("stripe"));
    }

    #[test]
    fn every_variant_maps_to_the_contract_code_and_status() {
        let cases: Vec<(Error, u16, &str)> = vec![
            (Error::BadRequest("x".into()), 400, "bad_request"),
            (Error::NotAuthenticated("x"), 401, "not_authenticated"),
            (Error::TokenNotValid, 401, "token_not_valid"),
            (Error::PermissionDenied, 403, "permission_denied"),
            (Error::NotFound, 404, "not_found"),
            (Error::MethodNotAllowed("GET".into()), 405, "method_not_allowed"),
            (Error::conflict("x"), 409, "conflict"),
            (Error::PayloadTooLarge, 413, "payload_too_large"),
            (Error::UnsupportedMediaType("text/plain".into()), 415, "unsupported_media_type"),
            (Error::Config { name: "TABLE_NAME", reason: "missing".into() }, 500, "internal_error"),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.status().as_u16(), status, "{error}");
            assert_eq!(error.body().code, code, "{error}");
        }
    }
}
