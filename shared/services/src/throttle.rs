//! Rate limits in the spirit of DRF's throttles, shared by every instance of
//! every function: a counter per scope, caller and fixed window, kept in the
//! table, expiring by TTL.
//!
//! Rates come from `THROTTLE_RATES` in DRF's notation
//! (`anon=100/day,anon_burst=30/min,user=1000/day,user_burst=60/min,login=10/min,email=5/hour`)
//! or `off`. Anonymous callers are counted by client address under every
//! `anon*` scope, signed-in callers by user id under every `user*` scope;
//! `login` is applied by the sign-in handler to address + username, `email`
//! by the account email handlers to the target address and the client's. The
//! middleware that applies them to every route is `web::throttle`'s.
//!
//! Two ways of counting:
//! - Exact ([`Throttle::hit_scope`]: `login`, `email`): every hit is one
//!   atomic add in the table, and its total decides, before the work.
//! - Batched per instance ([`Throttle::count_caller`]: the `anon*` and
//!   `user*` scopes on every route). The instance keeps each caller's tally
//!   per scope: what the table said at its last write, plus the hits seen
//!   since. A hit is judged at once on that tally, with no I/O; at most once
//!   a second per caller and scope it owes the table one write adding every
//!   hit seen since ([`Flush`]), whose answer brings in the other instances'
//!   hits. The caller runs that write beside a read's handler, or before a
//!   write's. So a caller costs at most one throttle write per second per
//!   scope per instance, and may pass a limit by at most a second's worth of
//!   its own requests per instance before the 429s start.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use domain::{Error, Result};
use store::Table;
use store::throttle::ThrottleCounters;
use tokio::time::Instant;

use crate::tokens::Principal;

/// How often an instance writes one caller's batched count per scope.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Where the windows' counts are kept.
#[async_trait]
pub trait HitCounter: Send + Sync {
    /// Adds `hits` to the window of `scope` and `caller` starting at
    /// `window_start`, kept until `expires_at`; the window's hits so far.
    async fn add_hits(&self, scope: &str, caller: &str, window_start: i64, expires_at: i64, hits: u64) -> Result<u64>;
}

#[async_trait]
impl HitCounter for ThrottleCounters {
    async fn add_hits(&self, scope: &str, caller: &str, window_start: i64, expires_at: i64, hits: u64) -> Result<u64> {
        self.add(scope, caller, window_start, expires_at, hits).await
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

/// One caller's count in one scope, as this instance knows it.
#[derive(Debug)]
struct Tally {
    window_start: i64,
    /// The window's total in the table at this instance's last write.
    stored: u64,
    /// Hits seen here since that write.
    unwritten: u64,
    /// When this instance last wrote (or began writing) the count.
    written_at: Option<Instant>,
}

impl Tally {
    fn new(window_start: i64) -> Self {
        Self { window_start, stored: 0, unwritten: 0, written_at: None }
    }

    fn estimate(&self) -> u64 {
        self.stored + self.unwritten
    }
}

type Tallies = Arc<Mutex<HashMap<(String, String), Tally>>>;

#[derive(Clone)]
pub struct Throttle {
    counters: Arc<dyn HitCounter>,
    rates: Arc<BTreeMap<String, Rate>>,
    tallies: Tallies,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").field("rates", &self.rates).finish_non_exhaustive()
    }
}

/// What counting a caller's hit found at once, and the write it owes the
/// table (if one is due).
#[derive(Debug)]
pub struct Counted {
    /// Over a limit on this instance's tally: the 429 to answer now.
    pub verdict: Result<()>,
    pub flush: Option<Flush>,
}

/// The batched counts due to the table: one atomic add per scope, all at
/// once. Its answer is over a limit when another instance's hits, now
/// known, put the caller past it.
#[derive(Debug)]
pub struct Flush {
    counters: Arc<dyn HitCounter>,
    tallies: Tallies,
    writes: Vec<DueWrite>,
}

#[derive(Debug, Clone)]
struct DueWrite {
    scope: String,
    caller: String,
    rate: Rate,
    window_start: i64,
    hits: u64,
}

impl std::fmt::Debug for dyn HitCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HitCounter")
    }
}

impl Flush {
    /// Writes every due count, side by side; `Err(Throttled)` when a
    /// window's total, with the hits seen here meanwhile, is over its limit.
    pub async fn run(self) -> Result<()> {
        let mut writes = tokio::task::JoinSet::new();
        for due in self.writes {
            let counters = self.counters.clone();
            // Tasks of their own, so the scopes' writes go side by side;
            // still counted against the request.
            writes.spawn(platform::telemetry::in_this_request(async move {
                let expires_at = kept_until(due.window_start, due.rate);
                let total = counters.add_hits(&due.scope, &due.caller, due.window_start, expires_at, due.hits).await;
                (due, total)
            }));
        }
        let mut verdict = Ok(());
        while let Some(joined) = writes.join_next().await {
            let (due, total) = joined.map_err(|e| Error::internal(format!("throttle write: {e}")))?;
            let total = total?;
            let estimate = {
                let mut tallies = self.tallies.lock().map_err(|_| Error::internal("throttle tallies poisoned"))?;
                match tallies.get_mut(&(due.scope.clone(), due.caller.clone())) {
                    Some(tally) if tally.window_start == due.window_start => {
                        tally.stored = tally.stored.max(total);
                        tally.estimate()
                    }
                    _ => total,
                }
            };
            if estimate > due.rate.limit && verdict.is_ok() {
                tracing::info!(scope = due.scope, "throttled");
                verdict = Err(throttled(due.rate));
            }
        }
        verdict
    }

    /// Makes the write beside `read` (a read answers after its own round
    /// trips only): `read`'s output, unless the write finds the caller over
    /// a limit. A write that fails otherwise leaves the read's answer
    /// standing (it met the same table, and says so itself if it is down).
    pub async fn beside<T>(self, read: impl std::future::Future<Output = T>) -> Result<T> {
        let (flushed, output) = tokio::join!(self.run(), read);
        match flushed {
            Err(error @ Error::Throttled { .. }) => Err(error),
            Err(error) => {
                tracing::warn!(error = %error, "throttle count not written");
                Ok(output)
            }
            Ok(()) => Ok(output),
        }
    }
}

/// When a window's counter may go (TTL): a minute after the window ends.
fn kept_until(window_start: i64, rate: Rate) -> i64 {
    window_start + rate.window_secs as i64 + 60
}

fn throttled(rate: Rate) -> Error {
    let (_, remaining) = window(domain::timefmt::now().unix_timestamp(), rate);
    Error::Throttled { retry_after_secs: remaining.max(1) }
}

impl Throttle {
    /// The rates of `THROTTLE_RATES` (the contract's defaults when unset),
    /// counted in the table through a client whose calls are counted as
    /// rate limiting (`throttle_calls`), apart from the request's own.
    pub fn from_env(config: &platform::aws::SdkConfig, table_name: &str) -> Result<Self> {
        let text = platform::config::optional("THROTTLE_RATES").unwrap_or_else(|| DEFAULT_RATES.to_owned());
        let rates = parse_rates(&text).map_err(|reason| Error::Config { name: "THROTTLE_RATES", reason })?;
        let table = Table::new(platform::aws::throttle_dynamodb_client(config), table_name);
        Ok(Self::new(Arc::new(ThrottleCounters::new(table)), rates))
    }

    pub fn new(counters: Arc<dyn HitCounter>, rates: BTreeMap<String, Rate>) -> Self {
        Self { counters, rates: Arc::new(rates), tallies: Tallies::default() }
    }

    /// The scopes named `family` or `family_*`.
    fn family<'a>(&'a self, family: &'a str) -> impl Iterator<Item = (&'a String, &'a Rate)> + 'a {
        self.rates.iter().filter(move |(scope, _)| {
            *scope == family || scope.strip_prefix(family).is_some_and(|r| r.starts_with('_'))
        })
    }

    /// Counts one request of an API caller, batched (see the module): a
    /// signed-in one under the `user*` scopes by user id, anyone else under
    /// `anon*` by address.
    pub fn count_caller(&self, user: Option<&Principal>, address: &str) -> Counted {
        match user {
            Some(principal) => self.count_batched("user", &principal.user_id),
            None => self.count_batched("anon", address),
        }
    }

    fn count_batched(&self, family: &str, caller: &str) -> Counted {
        let now = domain::timefmt::now().unix_timestamp();
        let clock = Instant::now();
        let Ok(mut tallies) = self.tallies.lock() else {
            return Counted { verdict: Err(Error::internal("throttle tallies poisoned")), flush: None };
        };
        let mut verdict = Ok(());
        let mut writes = Vec::new();
        for (scope, rate) in self.family(family) {
            let (window_start, _) = window(now, *rate);
            let tally = tallies.entry((scope.clone(), caller.to_owned())).or_insert_with(|| Tally::new(window_start));
            if tally.window_start != window_start {
                // A new window: what the last one did not write is let go
                // (at most a second's worth).
                *tally = Tally::new(window_start);
            }
            tally.unwritten += 1;
            if tally.estimate() > rate.limit && verdict.is_ok() {
                tracing::info!(scope, "throttled");
                verdict = Err(throttled(*rate));
            }
            if tally.written_at.is_none_or(|at| clock.duration_since(at) >= FLUSH_EVERY) {
                writes.push(DueWrite {
                    scope: scope.clone(),
                    caller: caller.to_owned(),
                    rate: *rate,
                    window_start,
                    hits: tally.unwritten,
                });
                // Counted as stored from now: the write's answer replaces
                // the estimate, and hits seen meanwhile stay unwritten.
                tally.stored += tally.unwritten;
                tally.unwritten = 0;
                tally.written_at = Some(clock);
            }
        }
        let flush = (!writes.is_empty()).then(|| Flush {
            counters: self.counters.clone(),
            tallies: self.tallies.clone(),
            writes,
        });
        Counted { verdict, flush }
    }

    /// Counts one hit under `scope` alone, exactly: the table's total
    /// decides, before the work (`login`, `email`).
    pub async fn hit_scope(&self, scope: &str, key: &str) -> Result<()> {
        let Some(rate) = self.rates.get(scope).copied() else { return Ok(()) };
        let now = domain::timefmt::now().unix_timestamp();
        let (start, _) = window(now, rate);
        let hits = self.counters.add_hits(scope, key, start, kept_until(start, rate), 1).await?;
        if hits > rate.limit {
            tracing::info!(scope, "throttled");
            return Err(throttled(rate));
        }
        Ok(())
    }
}

/// Counts kept in this process: for tests of the rules and of routers.
#[cfg(any(test, feature = "memory"))]
#[derive(Debug, Default)]
pub struct MemoryHitCounter {
    hits: std::sync::Mutex<std::collections::HashMap<(String, String, i64), u64>>,
    writes: std::sync::Mutex<u64>,
}

#[cfg(any(test, feature = "memory"))]
impl MemoryHitCounter {
    /// How many writes the counts took.
    pub fn writes(&self) -> u64 {
        self.writes.lock().map(|w| *w).unwrap_or(0)
    }
}

#[cfg(any(test, feature = "memory"))]
#[async_trait]
impl HitCounter for MemoryHitCounter {
    async fn add_hits(&self, scope: &str, caller: &str, window_start: i64, _expires_at: i64, hits: u64) -> Result<u64> {
        let mut counts = self.hits.lock().map_err(|_| Error::internal("hit counter poisoned"))?;
        let count = counts.entry((scope.to_owned(), caller.to_owned(), window_start)).or_insert(0);
        *count += hits;
        *self.writes.lock().map_err(|_| Error::internal("hit counter poisoned"))? += 1;
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

    /// One request's count, its due write made before answering.
    async fn hit(throttle: &Throttle, user: Option<&Principal>, address: &str) -> Result<()> {
        let counted = throttle.count_caller(user, address);
        let flushed = match counted.flush {
            Some(flush) => flush.run().await,
            None => Ok(()),
        };
        counted.verdict.and(flushed)
    }

    #[tokio::test]
    async fn callers_count_under_every_scope_of_their_family() {
        let throttle = throttle("anon=100/day,anon_burst=2/min,user=5/min");
        hit(&throttle, None, "10.0.0.1").await.unwrap();
        hit(&throttle, None, "10.0.0.1").await.unwrap();
        assert!(matches!(hit(&throttle, None, "10.0.0.1").await, Err(Error::Throttled { .. })), "anon_burst");
        let ann = Principal { user_id: "01ANN".into(), username: "ann".into(), claims_staff: false };
        for _ in 0..5 {
            hit(&throttle, Some(&ann), "10.0.0.1").await.expect("a user is counted by id, not address");
        }
        assert!(matches!(hit(&throttle, Some(&ann), "10.0.0.1").await, Err(Error::Throttled { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_looping_on_one_instance_costs_one_write_a_second_per_scope() {
        let counter = Arc::new(MemoryHitCounter::default());
        let throttle = Throttle::new(counter.clone(), parse_rates("anon=100000/day,anon_burst=10000/min").unwrap());
        // 1,000 requests over two seconds.
        for _ in 0..1000 {
            hit(&throttle, None, "10.0.0.1").await.unwrap();
            tokio::time::advance(Duration::from_millis(2)).await;
        }
        let writes = counter.writes();
        assert!(writes <= 2 * 3, "at most one write a second per scope (2 scopes, 2 s): {writes}");
        assert!(writes as f64 / 1000.0 <= 0.05);
    }

    #[tokio::test(start_paused = true)]
    async fn one_instance_refuses_the_hit_past_the_limit_at_once() {
        let counter = Arc::new(MemoryHitCounter::default());
        let throttle = Throttle::new(counter.clone(), parse_rates("anon=5/min").unwrap());
        for _ in 0..5 {
            let counted = throttle.count_caller(None, "10.0.0.1");
            assert!(counted.verdict.is_ok());
            if let Some(flush) = counted.flush {
                flush.run().await.unwrap();
            }
        }
        let sixth = throttle.count_caller(None, "10.0.0.1");
        assert!(matches!(sixth.verdict, Err(Error::Throttled { .. })), "judged on the tally, no write waited for");
        assert!(sixth.flush.is_none(), "the write is not due within the second");
    }

    #[tokio::test(start_paused = true)]
    async fn another_instance_s_hits_count_from_its_next_write() {
        let counter: Arc<MemoryHitCounter> = Arc::new(MemoryHitCounter::default());
        let rates = parse_rates("anon=10/min").unwrap();
        let (first, second) = (Throttle::new(counter.clone(), rates.clone()), Throttle::new(counter.clone(), rates));
        for _ in 0..8 {
            hit(&first, None, "10.0.0.1").await.unwrap();
        }
        tokio::time::advance(FLUSH_EVERY).await;
        hit(&first, None, "10.0.0.1").await.expect("the 9th, and the first instance's 8 unwritten go with it");
        hit(&second, None, "10.0.0.1").await.expect("the 10th: the second instance learns the 9 from its write");
        let eleventh = second.count_caller(None, "10.0.0.1");
        assert!(matches!(eleventh.verdict, Err(Error::Throttled { .. })), "refused at once on the second instance");
    }

    #[tokio::test]
    async fn a_write_beside_a_read_replaces_its_answer_only_when_over_a_limit() {
        let counter: Arc<MemoryHitCounter> = Arc::new(MemoryHitCounter::default());
        let rates = parse_rates("anon=1/min").unwrap();
        let (first, second) = (Throttle::new(counter.clone(), rates.clone()), Throttle::new(counter, rates));
        let within = first.count_caller(None, "10.0.0.1").flush.expect("a new caller's write is due");
        assert_eq!(within.beside(async { "answer" }).await.unwrap(), "answer");
        let counted = second.count_caller(None, "10.0.0.1");
        assert!(counted.verdict.is_ok(), "the second instance has not seen the first one's hit yet");
        let over = counted.flush.expect("its first write is due").beside(async { "answer" }).await;
        assert!(matches!(over, Err(Error::Throttled { .. })), "the write brings in the other instance's hit");
    }

    #[tokio::test]
    async fn off_throttles_nothing() {
        let throttle = throttle("off");
        for _ in 0..50 {
            hit(&throttle, None, "10.0.0.1").await.unwrap();
        }
    }
}
