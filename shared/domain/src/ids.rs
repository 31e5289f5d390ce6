//! Ids: ULIDs, URL-safe and sortable by creation time. Made from the same
//! instant as the record's `created_at`, and monotonic within an instance,
//! so ordering by id and ordering by `created_at` agree.

use std::sync::Mutex;
use std::time::SystemTime;

use time::OffsetDateTime;
use ulid::{Generator, Ulid};

static GENERATOR: Mutex<Option<Generator>> = Mutex::new(None);

/// A new id for something created at `at`.
pub fn new_id_at(at: OffsetDateTime) -> String {
    let instant = SystemTime::from(at);
    let generated = GENERATOR
        .lock()
        .ok()
        .and_then(|mut generator| generator.get_or_insert_with(Generator::new).generate_from_datetime(instant).ok());
    // Only a poisoned lock or 2^80 ids in one millisecond end up here.
    generated.unwrap_or_else(|| Ulid::from_datetime(instant)).to_string()
}

pub fn new_id() -> String {
    new_id_at(crate::timefmt::now())
}

/// Whether `id` could name anything: ids are opaque URL-safe strings of 1
/// to 64 letters, digits, `_` or `-` (ours are ULIDs; catalog ids are
/// chosen by staff). Anything else names nothing and must not reach the
/// store as a key (an over-long key is a service error there).
pub fn is_plausible_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_in_one_millisecond_still_increase() {
        let at = crate::timefmt::now();
        let ids: Vec<String> = (0..100).map(|_| new_id_at(at)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), 100);
        assert!(ids.iter().all(|id| id.len() == 26 && is_plausible_id(id)));
    }

    #[test]
    fn plausible_ids_are_short_and_url_safe() {
        assert!(is_plausible_id("01JGFJJZ05BVPG000000000005"));
        assert!(is_plausible_id("book-1_a"));
        for bad in ["", "a b", "a/b", "a%2F", "é", &"a".repeat(65)] {
            assert!(!is_plausible_id(bad), "{bad:?}");
        }
    }
}
