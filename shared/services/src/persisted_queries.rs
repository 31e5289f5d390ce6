//! Registered GraphQL documents (Apollo's persisted queries): how long one
//! is kept, and an instance's memory of the hot ones, so a known hash costs
//! no read. The protocol around them is GraphQL's adapter's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::{Result, timefmt};
use store::Table;
use store::persisted_queries::PersistedQueryRepository;

/// How long a registered query is kept after its last registration.
const KEEP_SECS: i64 = 30 * 24 * 3600;
/// Documents one instance keeps in memory.
const CACHE_ENTRIES: usize = 512;

#[derive(Clone)]
pub struct PersistedQueryStore {
    documents: PersistedQueryRepository,
    cache: Arc<Mutex<HashMap<String, Arc<str>>>>,
}

impl PersistedQueryStore {
    pub fn new(table: Table) -> Self {
        Self { documents: PersistedQueryRepository::new(table), cache: Arc::default() }
    }

    /// Whether this instance already holds `hash` (then registering it
    /// again would only move its expiry).
    pub fn is_cached(&self, hash: &str) -> bool {
        self.cached(hash).is_some()
    }

    fn cached(&self, hash: &str) -> Option<Arc<str>> {
        self.cache.lock().ok().and_then(|cache| cache.get(hash).cloned())
    }

    fn remember(&self, hash: &str, document: Arc<str>) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(hash.to_owned(), document);
        }
    }

    /// The document registered under `hash`, if it is still kept.
    pub async fn lookup(&self, hash: &str) -> Result<Option<Arc<str>>> {
        if let Some(document) = self.cached(hash) {
            return Ok(Some(document));
        }
        let now = timefmt::now().unix_timestamp();
        let Some(document) = self.documents.get(hash, now).await? else { return Ok(None) };
        let document: Arc<str> = Arc::from(document);
        self.remember(hash, document.clone());
        Ok(Some(document))
    }

    /// Registers a document that has passed the checks under its hash.
    pub async fn register(&self, hash: &str, document: Arc<str>) -> Result<()> {
        let now = timefmt::now().unix_timestamp();
        self.documents.put(hash, &document, now, now + KEEP_SECS).await?;
        self.remember(hash, document);
        Ok(())
    }
}
