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
        assert!(ids.iter().all(|id| id.len() == 26));
    }
}
