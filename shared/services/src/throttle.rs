//! Rate limits in the spirit of DRF's throttles, shared by every instance of
//! every function: a counter per scope, caller and fixed window, kept in the
//! table (one atomic add per scope per request), expiring by TTL.
//!
//! Rates come from `THROTTLE_RATES` in DRF's notation
//! (`anon=100/day,anon_burst=30/min,user=1000/day,user_burst=60/min,login=10/min,email=5/hour`)
//! or `off`. Anonymous callers are counted by client address under every
//! `anon*` scope, signed-in callers by user id under every `user*` scope;
//! `login` is applied by the sign-in handler to address + username, `email`
//! by the account email handlers to the target address and the client's. The
//! middleware that applies them to every route is `web::throttle`'s.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use domain::{Error, Result};
use platform::telemetry::as_throttle_calls;
use store::Table;
use store::throttle::ThrottleCounters;

use crate::tokens::Principal;

/// Where the windows' counts are kept.
#[async_trait]
pub trait HitCounter: Send + Sync {
    /// Adds one hit to the window of `scope` and `caller` starting at
    /// `window_start`, kept until `expires_at`; the window's hits so far.
    async fn add_hit(&self, scope: &str, caller: &str, window_start: i64, expires_at: i64) -> Result<u64>;
}

#[async_trait]
impl HitCounter for ThrottleCounters {
    async fn add_hit(&self, scope: &str, caller: &str, window_start: i64, expires_at: i64) -> Result<u64> {
        as_throttle_calls(self.add(scope, caller, window_start, expires_at, 1)).await
    }
}

/// The production defaults of the contract.
pub const DEFAULT_RATES: &str =
    "anon=100/day,anon_burst=30/min,user=1000/day,user_burst=60/min,login=10/min,email=5/hour";

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
    counters: Arc<dyn HitCounter>,
    rates: Arc<BTreeMap<String, Rate>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").field("rates", &self.rates).finish_non_exhaustive()
    }
}

impl Throttle {
    /// The rates of `THROTTLE_RATES` (the contract's defaults when unset),
    /// counted in the table.
    pub fn from_env(table: Table) -> Result<Self> {
        let text = platform::config::optional("THROTTLE_RATES").unwrap_or_else(|| DEFAULT_RATES.to_owned());
        let rates = parse_rates(&text).map_err(|reason| Error::Config { name: "THROTTLE_RATES", reason })?;
        Ok(Self::new(Arc::new(ThrottleCounters::new(table)), rates))
    }

    pub fn new(counters: Arc<dyn HitCounter>, rates: BTreeMap<String, Rate>) -> Self {
        Self { counters, rates: Arc::new(rates) }
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
        let expires_at = start + rate.window_secs as i64 + 60;
        let hits = self.counters.add_hit(scope, key, start, expires_at).await?;
        if hits > rate.limit {
            tracing::info!(scope, "throttled");
            return Err(Error::Throttled { retry_after_secs: remaining.max(1) });
        }
        Ok(())
    }
}

/// Counts kept in this process: for tests of the rules and of routers.
#[cfg(any(test, feature = "memory"))]
#[derive(Debug, Default)]
pub struct MemoryHitCounter {
    hits: std::sync::Mutex<std::collections::HashMap<(String, String, i64), u64>>,
}

#[cfg(any(test, feature = "memory"))]
#[async_trait]
impl HitCounter for MemoryHitCounter {
    async fn add_hit(&self, scope: &str, caller: &str, window_start: i64, _expires_at: i64) -> Result<u64> {
        let mut hits = self.hits.lock().map_err(|_| Error::internal("hit counter poisoned"))?;
        let count = hits.entry((scope.to_owned(), caller.to_owned(), window_start)).or_insert(0);
        *count += 1;
        Ok(*count)
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

    fn throttle(rates: &str) -> Throttle {
        Throttle::new(Arc::new(MemoryHitCounter::default()), parse_rates(rates).unwrap())
    }

    #[tokio::test]
    async fn a_scope_refuses_the_hit_past_its_limit_and_says_when_to_retry() {
        let throttle = throttle("login=3/min");
        for _ in 0..3 {
            throttle.hit_scope("login", "1.2.3.4|ann").await.unwrap();
        }
        match throttle.hit_scope("login", "1.2.3.4|ann").await {
            Err(Error::Throttled { retry_after_secs }) => assert!((1..=60).contains(&retry_after_secs)),
            other => panic!("the 4th login in a minute was not throttled: {other:?}"),
        }
        throttle.hit_scope("login", "1.2.3.4|bob").await.expect("another caller has its own count");
        throttle.hit_scope("unknown", "x").await.expect("a scope without a rate is not limited");
    }

    #[tokio::test]
    async fn callers_count_under_every_scope_of_their_family() {
        let throttle = throttle("anon=100/day,anon_burst=2/min,user=5/min");
        throttle.hit_caller(None, "10.0.0.1").await.unwrap();
        throttle.hit_caller(None, "10.0.0.1").await.unwrap();
        assert!(matches!(throttle.hit_caller(None, "10.0.0.1").await, Err(Error::Throttled { .. })), "anon_burst");
        let ann = Principal { user_id: "01ANN".into(), username: "ann".into(), claims_staff: false };
        for _ in 0..5 {
            throttle.hit_caller(Some(&ann), "10.0.0.1").await.expect("a user is counted by id, not address");
        }
        assert!(matches!(throttle.hit_caller(Some(&ann), "10.0.0.1").await, Err(Error::Throttled { .. })));
    }

    #[tokio::test]
    async fn off_throttles_nothing() {
        let throttle = throttle("off");
        for _ in 0..50 {
            throttle.hit_caller(None, "10.0.0.1").await.unwrap();
        }
    }
}
