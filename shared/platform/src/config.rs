//! Settings read once from the environment at start-up. A missing or
//! malformed variable is an `Error::Config` that names it, so a function
//! that is misconfigured fails its init instead of its first request.

use std::str::FromStr;
use std::time::Duration;

use domain::{Error, Result};

/// A variable that must be present and non-empty.
pub fn required(name: &'static str) -> Result<String> {
    optional(name).ok_or(Error::Config { name, reason: "is not set".into() })
}

/// A variable that may be absent; empty counts as absent.
pub fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A variable parsed as `T`, or `default` when absent.
pub fn parse_or<T>(name: &'static str, default: T) -> Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match optional(name) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|e| Error::Config { name, reason: format!("{raw:?} is not valid: {e}") }),
    }
}

/// A switch spelled `on` or `off`, or `default` when absent; anything else
/// stops start-up naming the variable.
pub fn switch_or(name: &'static str, default: bool) -> Result<bool> {
    match optional(name).as_deref() {
        None => Ok(default),
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        Some(other) => Err(Error::Config { name, reason: format!("{other:?} is not on or off") }),
    }
}

/// How JWTs are signed and checked. The contract: HS256 with a key from the
/// environment, access 5 minutes and refresh 7 days by default.
#[derive(Clone)]
pub struct TokenSettings {
    pub signing_key: Vec<u8>,
    pub issuer: String,
    pub audience: String,
    pub access_lifetime: Duration,
    pub refresh_lifetime: Duration,
}

impl std::fmt::Debug for TokenSettings {
    // The signing key must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSettings")
            .field("signing_key", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_lifetime", &self.access_lifetime)
            .field("refresh_lifetime", &self.refresh_lifetime)
            .finish()
    }
}

/// How long an unpaid order holds its stock: `ORDER_HOLD_MINUTES` (30 by
/// default; a fraction is allowed, so tests can use seconds).
pub fn order_hold() -> Result<Duration> {
    let minutes: f64 = parse_or("ORDER_HOLD_MINUTES", 30.0)?;
    if !(minutes > 0.0 && minutes <= 7.0 * 24.0 * 60.0) {
        return Err(Error::Config { name: "ORDER_HOLD_MINUTES", reason: "must be above 0 and at most a week".into() });
    }
    Ok(Duration::from_secs_f64(minutes * 60.0))
}

/// Which Stripe events our key may take: a test key (`sk_test_…`) takes
/// test-mode events only, any other key live ones only.
pub fn stripe_key_is_live(secret_key: &str) -> bool {
    !secret_key.starts_with("sk_test_")
}

/// HS256 keys shorter than the hash output weaken the MAC (RFC 7518 §3.2).
pub const MIN_SIGNING_KEY_BYTES: usize = 32;

impl TokenSettings {
    pub fn from_env() -> Result<Self> {
        let signing_key = required("JWT_SIGNING_KEY")?.into_bytes();
        if signing_key.len() < MIN_SIGNING_KEY_BYTES {
            return Err(Error::Config {
                name: "JWT_SIGNING_KEY",
                reason: format!("must be at least {MIN_SIGNING_KEY_BYTES} bytes"),
            });
        }
        let access = parse_or("ACCESS_TOKEN_LIFETIME_SECONDS", 300u64)?;
        let refresh = parse_or("REFRESH_TOKEN_LIFETIME_SECONDS", 7 * 24 * 3600u64)?;
        if access == 0 || refresh == 0 {
            return Err(Error::Config {
                name: if access == 0 { "ACCESS_TOKEN_LIFETIME_SECONDS" } else { "REFRESH_TOKEN_LIFETIME_SECONDS" },
                reason: "must be positive".into(),
            });
        }
        Ok(Self {
            signing_key,
            issuer: parse_or("JWT_ISSUER", "publishing-api".to_owned())?,
            audience: parse_or("JWT_AUDIENCE", "publishing-api-clients".to_owned())?,
            access_lifetime: Duration::from_secs(access),
            refresh_lifetime: Duration::from_secs(refresh),
        })
    }
}

/// Where the single table lives.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub table_name: String,
}

impl StoreSettings {
    pub fn from_env() -> Result<Self> {
        Ok(Self { table_name: required("TABLE_NAME")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Environment variables are process-wide; each test uses its own names.
    #[test]
    fn a_missing_variable_is_named() {
        let err = required("SHARED_TEST_NEVER_SET").unwrap_err();
        assert_eq!(err.to_string(), "configuration: SHARED_TEST_NEVER_SET: is not set");
    }

    #[test]
    fn a_switch_is_on_off_or_its_default_and_nothing_else() {
        assert!(switch_or("SHARED_TEST_SWITCH_UNSET", true).unwrap());
        assert!(!switch_or("SHARED_TEST_SWITCH_UNSET", false).unwrap());
        unsafe { std::env::set_var("SHARED_TEST_SWITCH_ON", "on") };
        assert!(switch_or("SHARED_TEST_SWITCH_ON", false).unwrap());
        unsafe { std::env::set_var("SHARED_TEST_SWITCH_OFF", "off") };
        assert!(!switch_or("SHARED_TEST_SWITCH_OFF", true).unwrap());
        unsafe { std::env::set_var("SHARED_TEST_SWITCH_BAD", "yes") };
        let err = switch_or("SHARED_TEST_SWITCH_BAD", true).unwrap_err();
        assert_eq!(err.to_string(), "configuration: SHARED_TEST_SWITCH_BAD: \"yes\" is not on or off");
    }

    #[test]
    fn a_malformed_variable_is_named_with_its_value() {
        unsafe { std::env::set_var("SHARED_TEST_MALFORMED", "five") };
        let err = parse_or("SHARED_TEST_MALFORMED", 3u64).unwrap_err();
        assert!(err.to_string().starts_with("configuration: SHARED_TEST_MALFORMED: \"five\" is not valid"), "{err}");
    }

    #[test]
    fn absent_and_empty_take_the_default() {
        unsafe { std::env::set_var("SHARED_TEST_EMPTY", "  ") };
        assert_eq!(parse_or("SHARED_TEST_EMPTY", 7u64).unwrap(), 7);
        assert_eq!(parse_or("SHARED_TEST_ABSENT", 9u64).unwrap(), 9);
    }
}
