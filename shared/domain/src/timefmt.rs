//! Times as the contract writes them: RFC 3339 in UTC.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Now, to the millisecond: the precision ids carry, so that times and ids
/// order records the same way.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(now)
}

pub fn rfc3339(at: OffsetDateTime) -> String {
    // Formatting a UTC OffsetDateTime as RFC 3339 cannot fail for years 0..=9999.
    at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// Unix milliseconds, for instants compared rather than shown.
pub fn unix_ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}
