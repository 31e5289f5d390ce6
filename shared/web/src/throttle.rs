//! The throttle middleware: every route of a function counts its caller
//! under the `anon*` or `user*` scopes ([`services::throttle`] holds the
//! rates and the counting), and the caller's address as API Gateway
//! reports it.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

use services::tokens::TokenService;

pub use services::throttle::{DEFAULT_RATES, Rate, Throttle, parse_rates, window};

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
    match state.throttle.hit_caller(user.as_ref(), &client_address(&req)).await {
        Ok(()) => next.run(req).await,
        Err(error) => error.into_response(),
    }
}
