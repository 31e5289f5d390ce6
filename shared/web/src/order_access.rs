//! Who may act on an order, decided once for every function that touches
//! one (reading it, paying it): the id must be one that could name an
//! order, the order is read, and its owner or the holder of its order
//! token may go on. Everyone else is told it does not exist, so a 404 says
//! nothing about which ids are taken.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::http::MaybeAuthenticated;
use domain::ids::is_plausible_id;
use domain::order::ReadableOrder;
use domain::{Error, Result};
use services::tokens::{Principal, TokenService};

/// The header a guest presents its order token in (the token comes in the
/// order's 201).
pub const ORDER_TOKEN_HEADER: &str = "x-order-token";

/// The caller of a request about an order: the signed-in user, the order
/// token presented, both or neither. An `Authorization` header that is not
/// a valid access token is a 401, as everywhere.
#[derive(Debug, Clone)]
pub struct OrderAccess {
    pub caller: Option<Principal>,
    token: Option<String>,
}

impl OrderAccess {
    pub fn new(caller: Option<Principal>, headers: &HeaderMap) -> Self {
        Self { caller, token: presented_token(headers).map(str::to_owned) }
    }

    pub fn caller_id(&self) -> Option<&str> {
        self.caller.as_ref().map(|me| me.user_id.as_str())
    }

    /// The order `read` loads, when this caller may act on it; otherwise
    /// 404. With nobody to check against, or an id that names nothing,
    /// `read` is dropped unpolled: the answer costs no store call.
    pub async fn open<T: ReadableOrder>(
        &self,
        order_id: &str,
        read: impl Future<Output = Result<Option<T>>>,
    ) -> Result<T> {
        if (self.caller.is_none() && self.token.is_none()) || !is_plausible_id(order_id) {
            return Err(Error::NotFound);
        }
        let order = read.await?.ok_or(Error::NotFound)?;
        if order.readable_by(self.caller_id(), self.token.as_deref()) { Ok(order) } else { Err(Error::NotFound) }
    }
}

/// The order token in the request, trimmed; an empty header is no token.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    headers.get(ORDER_TOKEN_HEADER).and_then(|v| v.to_str().ok()).map(str::trim).filter(|t| !t.is_empty())
}

impl<S> FromRequestParts<S> for OrderAccess
where
    S: Send + Sync,
    Arc<TokenService>: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let MaybeAuthenticated(caller) = MaybeAuthenticated::from_request_parts(parts, state).await?;
        Ok(Self::new(caller, &parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// An order owned by `owner`, readable with the token `"secret"`.
    struct Owned(Option<&'static str>);

    impl ReadableOrder for Owned {
        fn readable_by(&self, caller: Option<&str>, token: Option<&str>) -> bool {
            (self.0.is_some() && caller == self.0) || token == Some("secret")
        }
    }

    fn access(user: Option<&str>, token: Option<&str>) -> OrderAccess {
        let mut headers = HeaderMap::new();
        if let Some(token) = token {
            headers.insert(ORDER_TOKEN_HEADER, token.parse().unwrap());
        }
        let caller = user.map(|id| Principal { user_id: id.into(), username: id.into(), claims_staff: false });
        OrderAccess::new(caller, &headers)
    }

    async fn outcome(access: &OrderAccess, id: &str, owner: Option<&'static str>) -> (bool, bool) {
        let read = Cell::new(false);
        let result = access
            .open(id, async {
                read.set(true);
                Ok(Some(Owned(owner)))
            })
            .await;
        (result.is_ok(), read.get())
    }

    #[tokio::test]
    async fn the_owner_and_the_token_holder_may_act_and_nobody_else() {
        assert_eq!(outcome(&access(Some("alice"), None), "01ORDER", Some("alice")).await, (true, true));
        assert_eq!(outcome(&access(None, Some("secret")), "01ORDER", None).await, (true, true));
        assert_eq!(outcome(&access(None, Some(" secret ")), "01ORDER", None).await, (true, true));
        assert_eq!(outcome(&access(Some("bob"), None), "01ORDER", Some("alice")).await, (false, true));
        assert_eq!(outcome(&access(None, Some("guess")), "01ORDER", None).await, (false, true));
    }

    #[tokio::test]
    async fn nobody_to_check_or_an_impossible_id_reads_nothing() {
        assert_eq!(outcome(&access(None, None), "01ORDER", None).await, (false, false));
        assert_eq!(outcome(&access(None, Some("   ")), "01ORDER", None).await, (false, false));
        assert_eq!(outcome(&access(Some("alice"), None), "../etc", Some("alice")).await, (false, false));
    }

    #[tokio::test]
    async fn a_missing_order_is_404() {
        let access = access(Some("alice"), None);
        let result = access.open::<Owned>("01ORDER", async { Ok(None) }).await;
        assert!(matches!(result, Err(Error::NotFound)));
    }
}
