//! The throttle middleware: every route of a function counts its caller
//! under the `anon*` or `user*` scopes ([`services::throttle`] holds the
//! rates and the counting, batched per instance), and the caller's address
//! as API Gateway reports it.
//!
//! A hit is judged at once on the instance's tally. When the count owes the
//! table a write, a read (`GET`, `HEAD`) makes it beside its handler, so it
//! answers after its own round trips only, and the write's 429 replaces the
//! handler's answer; any other method makes it first, so a caller over a
//! limit never changes anything.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

use services::tokens::TokenService;

pub use services::throttle::{Counted, DEFAULT_RATES, Flush, Rate, Throttle, parse_rates, window};

/// The caller's address as API Gateway reports it.
pub fn client_address(req: &Request) -> String {
    address_from(req.request_context_ref())
}

fn address_from(context: Option<&RequestContext>) -> String {
    let reported = match context {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        _ => None,
    };
    reported.and_then(|ip| ip.parse::<IpAddr>().ok()).map(|ip| ip.to_string()).unwrap_or_else(|| "unknown".to_owned())
}

/// The caller's address, as a handler argument.
pub struct ClientAddress(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(address_from(parts.extensions.get::<RequestContext>())))
    }
}

#[derive(Clone)]
struct ThrottleState {
    throttle: Throttle,
    tokens: Arc<TokenService>,
}

/// Applies the `anon*` / `user*` scopes to every route of `router`.
pub fn apply(router: Router, throttle: Throttle, tokens: Arc<TokenService>) -> Router {
    router.layer(middleware::from_fn_with_state(ThrottleState { throttle, tokens }, throttle_request))
}

async fn throttle_request(State(state): State<ThrottleState>, req: Request, next: Next) -> Response {
    // A bad token is the handler's 401 to give; here it is just anonymous.
    let user = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|(_, token)| state.tokens.authenticate(token.trim()).ok());
    let counted = state.throttle.count_caller(user.as_ref(), &client_address(&req));
    let is_read = matches!(*req.method(), Method::GET | Method::HEAD);
    answer_counted(counted, is_read, next.run(req)).await
}

/// The answer to a counted request: its 429 when the count is over a limit,
/// else `handle`'s, with the due write beside it (a read) or before it.
pub async fn answer_counted(
    counted: Counted,
    is_read: bool,
    handle: impl std::future::Future<Output = Response>,
) -> Response {
    if let Err(error) = counted.verdict {
        return error.into_response();
    }
    match counted.flush {
        None => handle.await,
        Some(flush) if is_read => flush.beside(handle).await.unwrap_or_else(IntoResponse::into_response),
        Some(flush) => match flush.run().await {
            Ok(()) => handle.await,
            Err(error) => error.into_response(),
        },
    }
}
