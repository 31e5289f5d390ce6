//! Rate limits in the spirit of DRF's throttles, shared by every instance of
//! every function: one DynamoDB atomic counter per scope, key and fixed
//! window (`ADD hits :1`, one write per scope per request), expiring by TTL.
//!
//! Rates come from `THROTTLE_RATES` in DRF's notation
//! (`anon=100/day,anon_burst=30/min,user=1000/day,user_burst=60/min,login=10/min`)
//! or `off`. Anonymous callers are counted by client address under every
//! `anon*` scope, signed-in callers by user id under every `user*` scope;
//! `login` is applied by the sign-in handler to address + username.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use aws_sdk_dynamodb::types::ReturnValue;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

use domain::{Error, Result};
use platform::telemetry::as_throttle_calls;
use services::tokens::{Principal, TokenService};
use store::{ItemReader, Table, key_of, keys, n, sdk_error};

/// The production defaults of the contract.
pub const DEFAULT_RATES: &str = "anon=100/day,anon_burst=30/min,user=1000/day,user_burst=60/min,login=10/min";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u64,
    pub window_secs: u64,
}

/// Parses DRF's `name=N/period` list; the period's first letter counts
/// (`s`, `m`, `h`, `d`), as in DRF. `off` (or empty) disables throttling.
pub fn parse_rates(text: &str) -> std::result::Result<BTreeMap<String, Rate>, String> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("off") {
        return Ok(BTreeMap::new());
    }
    text.split(',')
        .map(|entry| {
            let (scope, rate) =
                entry.trim().split_once('=').ok_or_else(|| format!("{entry:?} is not scope=N/period"))?;
            let (count, period) = rate.split_once('/').ok_or_else(|| format!("{rate:?} is not N/period"))?;
            let limit = count.trim().parse::<u64>().map_err(|_| format!("{count:?} is not a count"))?;
            let window_secs = match period.trim().chars().next() {
                Some('s') => 1,
                Some('m') => 60,
                Some('h') => 3600,
                Some('d') => 86_400,
                _ => return Err(format!("{period:?} is not a period (sec, min, hour, day)")),
            };
            Ok((scope.trim().to_owned(), Rate { limit, window_secs }))
        })
        .collect()
}

/// The fixed window `now` falls in: its start, and seconds until it ends.
pub fn window(now: i64, rate: Rate) -> (i64, u64) {
    let size = rate.window_secs as i64;
    let start = now - now.rem_euclid(size);
    (start, (start + size - now) as u64)
}

#[derive(Clone)]
pub struct Throttle {
    table: Table,
    rates: Arc<BTreeMap<String, Rate>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").field("rates", &self.rates).finish_non_exhaustive()
    }
}

impl Throttle {
    pub fn from_env(table: Table) -> Result<Self> {
        let text = platform::config::optional("THROTTLE_RATES").unwrap_or_else(|| DEFAULT_RATES.to_owned());
        let rates = parse_rates(&text).map_err(|reason| Error::Config { name: "THROTTLE_RATES", reason })?;
        Ok(Self { table, rates: Arc::new(rates) })
    }

    /// Counts one hit of `key` under every scope named `family` or
    /// `family_*`; the first scope over its limit throttles.
    pub async fn hit_family(&self, family: &str, key: &str) -> Result<()> {
        let scopes: Vec<(&String, &Rate)> = self
            .rates
            .iter()
            .filter(|(scope, _)| *scope == family || scope.strip_prefix(family).is_some_and(|r| r.starts_with('_')))
            .collect();
        for (scope, rate) in scopes {
            self.hit(scope, *rate, key).await?;
        }
        Ok(())
    }

    /// Counts one request of an API caller: a signed-in one under the
    /// `user*` scopes by user id, anyone else under `anon*` by address.
    pub async fn hit_caller(&self, user: Option<&Principal>, address: &str) -> Result<()> {
        match user {
            Some(principal) => self.hit_family("user", &principal.user_id).await,
            None => self.hit_family("anon", address).await,
        }
    }

    /// Counts one hit under `scope` alone (e.g. `login`).
    pub async fn hit_scope(&self, scope: &str, key: &str) -> Result<()> {
        match self.rates.get(scope) {
            Some(rate) => self.hit(scope, *rate, key).await,
            None => Ok(()),
        }
    }

    async fn hit(&self, scope: &str, rate: Rate, key: &str) -> Result<()> {
        let now = domain::timefmt::now().unix_timestamp();
        let (start, remaining) = window(now, rate);
        let output = as_throttle_calls(
            self.table
                .client
                .update_item()
                .table_name(&self.table.name)
                .set_key(Some(key_of(keys::throttle_window(scope, key, start))))
                .update_expression("ADD hits :one SET expires_at = if_not_exists(expires_at, :expires)")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":expires", n(start + rate.window_secs as i64 + 60))
                .return_values(ReturnValue::UpdatedNew)
                .send(),
        )
        .await
        .map_err(|e| sdk_error("UpdateItem", e))?;
        let hits = output.attributes.as_ref().map(|a| ItemReader(a).int("hits")).transpose()?.unwrap_or(0);
        if hits as u64 > rate.limit {
            tracing::info!(scope, "throttled");
            return Err(Error::Throttled { retry_after_secs: remaining.max(1) });
        }
        Ok(())
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drf_rates_parse() {
        let rates = parse_rates(DEFAULT_RATES).unwrap();
        assert_eq!(rates["anon"], Rate { limit: 100, window_secs: 86_400 });
        assert_eq!(rates["anon_burst"], Rate { limit: 30, window_secs: 60 });
        assert_eq!(rates["login"], Rate { limit: 10, window_secs: 60 });
        assert_eq!(parse_rates("x=5/second,y=2/hour").unwrap()["y"], Rate { limit: 2, window_secs: 3600 });
        assert!(parse_rates("off").unwrap().is_empty());
        assert!(parse_rates("").unwrap().is_empty());
        for bad in ["anon", "anon=1", "anon=x/min", "anon=1/fortnight"] {
            assert!(parse_rates(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn windows_are_fixed_and_retry_after_counts_to_their_end() {
        let minute = Rate { limit: 1, window_secs: 60 };
        assert_eq!(window(120, minute), (120, 60));
        assert_eq!(window(179, minute), (120, 1));
        let day = Rate { limit: 1, window_secs: 86_400 };
        assert_eq!(window(86_400 * 3 + 5, day), (86_400 * 3, 86_395));
    }
}
