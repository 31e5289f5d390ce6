//! JSON in and out, the request id, the bearer-token principal, and the
//! layer every function's router runs under (headers, 404/405 bodies, the
//! one `request completed` log line).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use lambda_http::RequestExt;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use domain::Error;
use platform::telemetry::{self, AwsCalls};
use services::tokens::{Principal, TokenService};

/// The contract's limit for ordinary request bodies (webhooks use 1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
pub const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

pub use domain::error::JSON_CONTENT_TYPE;
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub use domain::error::json_response;
pub use domain::json::parse_json;

/// A JSON body: checked for content type and size, parsed, and shaped into
/// `T`. Shape errors are reported per field, all of them at once where serde
/// allows; value rules are the handler's `validate()`.
pub struct Json<T, const LIMIT: usize = DEFAULT_BODY_LIMIT>(pub T);

impl<S, T, const LIMIT: usize> FromRequest<S> for Json<T, LIMIT>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Error;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Error> {
        let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
        let bytes = read_body(req, LIMIT).await?;
        match content_type {
            Some(value) if !is_json(&value) => {
                return Err(Error::UnsupportedMediaType(String::from_utf8_lossy(value.as_bytes()).into_owned()));
            }
            // No content type and no body: an empty form, so the handler
            // reports each required field rather than a media-type error.
            None if !bytes.is_empty() => return Err(Error::UnsupportedMediaType(String::new())),
            _ => {}
        }
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        parse_json(text).map(Json)
    }
}

/// Reads the whole body, refusing more than `limit` bytes with a 413.
pub async fn read_body(req: Request, limit: usize) -> Result<bytes::Bytes, Error> {
    if let Some(length) = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        && length > limit
    {
        return Err(Error::PayloadTooLarge);
    }
    axum::body::to_bytes(req.into_body(), limit).await.map_err(|e| {
        if is_length_limit(&e) {
            Error::PayloadTooLarge
        } else {
            Error::BadRequest("Could not read the request body.".into())
        }
    })
}

fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// `application/json` or another `+json` type, whatever its parameters.
pub fn is_json(value: &HeaderValue) -> bool {
    let Ok(text) = value.to_str() else { return false };
    let essence = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The id a request is known by in responses and logs: the caller's
/// well-formed `X-Request-Id`, else the Lambda request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn is_well_formed(candidate: &str) -> bool {
        (1..=128).contains(&candidate.len())
            && candidate.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    }

    fn resolve(req: &Request) -> Self {
        let from_caller =
            req.headers().get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()).filter(|v| Self::is_well_formed(v));
        if let Some(id) = from_caller {
            return Self(id.to_owned());
        }
        match req.lambda_context_ref() {
            Some(context) if !context.request_id.is_empty() => Self(context.request_id.clone()),
            // Outside Lambda (in-process tests) there is no runtime id.
            _ => Self(ulid::Ulid::new().to_string()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<RequestId>().cloned().unwrap_or_else(|| RequestId(String::new())))
    }
}

/// The signed-in caller; a request without a bearer token is a 401
/// `not_authenticated`, a bad token a 401 `token_not_valid`.
pub struct Authenticated(pub Principal);

/// The caller if a token was sent; anonymous otherwise. A token that was
/// sent but is not valid is still a 401: it is never silently ignored.
pub struct MaybeAuthenticated(pub Option<Principal>);

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The caller a request's `Authorization` names: `None` without the
/// header, a 401 `token_not_valid` for anything but a valid access token.
pub fn principal_from_headers(headers: &HeaderMap, tokens: &TokenService) -> Result<Option<Principal>, Error> {
    if headers.get(header::AUTHORIZATION).is_none() {
        return Ok(None);
    }
    let token = bearer_token(headers).ok_or(Error::TokenNotValid)?;
    tokens.authenticate(token).map(Some)
}

fn principal_from(parts: &Parts, tokens: &TokenService) -> Result<Option<Principal>, Error> {
    principal_from_headers(&parts.headers, tokens)
}

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
    Arc<TokenService>: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let tokens = Arc::<TokenService>::from_ref(state);
        principal_from(parts, &tokens)?
            .map(Authenticated)
            .ok_or(Error::NotAuthenticated("Authentication credentials were not provided."))
    }
}

impl<S> FromRequestParts<S> for MaybeAuthenticated
where
    S: Send + Sync,
    Arc<TokenService>: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let tokens = Arc::<TokenService>::from_ref(state);
        principal_from(parts, &tokens).map(MaybeAuthenticated)
    }
}

/// Per-function choices for [`api_layer`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiOptions {
    /// Auth and order responses must not be cached by anyone.
    pub no_store: bool,
}

/// Wraps a function's router in what every API response needs: 404 and 405
/// in the error format, `X-Request-Id`, `nosniff`, optional `no-store`, the
/// request span and the closing log line with its AWS call counts.
pub fn api_layer(router: Router, options: ApiOptions) -> Router {
    router
        .fallback(|| async { Error::NotFound })
        .layer(middleware::from_fn(move |req: Request, next: Next| around_request(req, next, options)))
}

async fn around_request(mut req: Request, next: Next, options: ApiOptions) -> Response {
    let started = Instant::now();
    let request_id = RequestId::resolve(&req);
    req.extensions_mut().insert(request_id.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id.0,
        method = %method,
        path = %path,
        correlation_id = tracing::field::Empty
    );

    let (response, calls) = telemetry::count_aws_calls(next.run(req)).instrument(span.clone()).await;
    let mut response = error_format_for_bare_405(response, &method);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        headers.insert(X_REQUEST_ID.clone(), value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if options.no_store {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    log_completed(&span, response.status(), started, &calls);
    response
}

/// axum answers a known path with an unknown method by a bare 405 that
/// carries `Allow`; give it the error format and keep `Allow`.
fn error_format_for_bare_405(response: Response, method: &Method) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED || response.headers().contains_key(header::CONTENT_TYPE) {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut replaced = Error::MethodNotAllowed(method.to_string()).into_response();
    if let Some(allow) = allow {
        replaced.headers_mut().insert(header::ALLOW, allow);
    }
    replaced
}

fn log_completed(span: &tracing::Span, status: StatusCode, started: Instant, calls: &AwsCalls) {
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let duration_ms = (duration_ms * 100.0).round() / 100.0;
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            duration_ms,
            aws_calls = %calls.operation_json(),
            throttle_calls = %calls.throttle_json(),
            "request completed"
        );
    });
}

/// A 201 with `body` and `Location`: the new resource's absolute URL, as
/// the client addressed us.
pub fn created(headers: &HeaderMap, path: &str, body: &impl serde::Serialize) -> Response {
    let mut response = json_response(StatusCode::CREATED, body);
    if let Ok(location) = HeaderValue::from_str(&crate::pagination::absolute_url(headers, path)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        product_id: String,
        quantity: u32,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Order {
        email: Option<String>,
        items: Vec<Item>,
    }

    fn field_error<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> (String, Vec<String>) {
        match parse_json::<T>(json.as_bytes()) {
            Err(Error::Validation(errors)) => {
                let value = serde_json::to_value(&errors).unwrap();
                let (k, v) = value.as_object().unwrap().iter().next().unwrap();
                (k.clone(), serde_json::from_value(v.clone()).unwrap())
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn not_json_is_a_bad_request() {
        assert!(matches!(parse_json::<Order>(b"{not json"), Err(Error::BadRequest(_))));
    }

    #[test]
    fn a_top_level_list_is_a_non_field_error() {
        let (field, messages) = field_error::<Order>("[]");
        assert_eq!(field, "non_field_errors");
        assert_eq!(messages, vec!["Invalid data. Expected a dictionary, but got list."]);
    }

    #[test]
    fn nested_type_errors_carry_a_dotted_path() {
        let (field, messages) = field_error::<Order>(r#"{"items":[{"product_id":"p","quantity":"many"}]}"#);
        assert_eq!(field, "items.0.quantity");
        assert_eq!(messages, vec!["A valid integer is required."]);
    }

    #[test]
    fn a_missing_field_is_named_at_its_own_path() {
        assert_eq!(field_error::<Order>(r#"{"email":null}"#).0, "items");
        let (field, messages) = field_error::<Order>(r#"{"items":[{"quantity":1}]}"#);
        assert_eq!(field, "items.0.product_id");
        assert_eq!(messages, vec!["This field is required."]);
    }

    #[test]
    fn wrong_scalar_types_read_like_drf() {
        assert_eq!(field_error::<Order>(r#"{"email":5,"items":[]}"#).1, vec!["Not a valid string."]);
    }

    #[test]
    fn request_ids_from_callers_are_checked() {
        assert!(RequestId::is_well_formed("abc-123_x.y:z"));
        assert!(!RequestId::is_well_formed(""));
        assert!(!RequestId::is_well_formed("has space"));
        assert!(!RequestId::is_well_formed("new\nline"));
        assert!(!RequestId::is_well_formed(&"a".repeat(129)));
        assert!(RequestId::is_well_formed(&"a".repeat(128)));
    }

    #[test]
    fn json_media_types() {
        assert!(is_json(&HeaderValue::from_static("application/json")));
        assert!(is_json(&HeaderValue::from_static("Application/JSON; charset=utf-8")));
        assert!(is_json(&HeaderValue::from_static("application/merge-patch+json")));
        assert!(!is_json(&HeaderValue::from_static("text/plain")));
        assert!(!is_json(&HeaderValue::from_static("application/x-www-form-urlencoded")));
    }
}
