//! Persisted queries, Apollo's protocol: `extensions.persistedQuery`
//! `{version: 1, sha256Hash}`. A known hash runs without its query; a hash
//! sent with its query registers it (in the table, for 30 days). With the
//! allowlist on, only the committed operations run, by hash or by text.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use store::{ItemReader, Table, item_with_key, n, s, sdk_error};

use crate::errors::{BAD_REQUEST, PERSISTED_QUERY_NOT_ALLOWED, PERSISTED_QUERY_NOT_FOUND};

/// The operations the project's own clients use, hash → document
/// (`make graphql-allowlist` writes it from `openapi/operations/`).
pub const ALLOWLIST_JSON: &str = include_str!("../../../openapi/graphql-allowlist.json");

/// How long a registered query is kept after its last registration.
const KEEP_SECS: i64 = 30 * 24 * 3600;
/// Documents one instance keeps in memory, so a hot hash costs no read.
const CACHE_ENTRIES: usize = 512;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistedQuery {
    pub version: i64,
    pub sha256_hash: String,
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The document to run, and whether it is to be registered once it has
/// passed the checks.
#[derive(Debug)]
pub struct Resolved {
    pub document: Arc<str>,
    pub register: Option<String>,
}

/// A request refused before its document is known.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub code: &'static str,
    pub message: String,
}

fn refused(code: &'static str, message: impl Into<String>) -> Refused {
    Refused { code, message: message.into() }
}

#[derive(Clone)]
pub struct PersistedQueries {
    table: Table,
    cache: Arc<Mutex<HashMap<String, Arc<str>>>>,
    allowlist: Option<Arc<HashMap<String, Arc<str>>>>,
}

/// The allowlist file, parsed.
pub fn parse_allowlist(json: &str) -> Result<HashMap<String, Arc<str>>, String> {
    let entries: HashMap<String, String> = serde_json::from_str(json).map_err(|e| e.to_string())?;
    Ok(entries.into_iter().map(|(hash, document)| (hash, Arc::from(document))).collect())
}

impl PersistedQueries {
    pub fn new(table: Table, allowlist: Option<HashMap<String, Arc<str>>>) -> Self {
        Self { table, cache: Arc::default(), allowlist: allowlist.map(Arc::new) }
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

    /// The document a request runs, from its `query` and its persisted-query
    /// extension.
    pub async fn resolve(
        &self,
        query: Option<String>,
        persisted: Option<PersistedQuery>,
    ) -> Result<Result<Resolved, Refused>, domain::Error> {
        let hash = match &persisted {
            None => None,
            Some(p) if p.version != 1 => {
                return Ok(Err(refused(BAD_REQUEST, "Unsupported persisted query version: only 1 is.")));
            }
            Some(p) if p.sha256_hash.len() != 64 || !p.sha256_hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
                return Ok(Err(refused(BAD_REQUEST, "`sha256Hash` is not a SHA-256 in hex.")));
            }
            Some(p) => Some(p.sha256_hash.to_ascii_lowercase()),
        };
        if let (Some(hash), Some(query)) = (&hash, &query)
            && sha256_hex(query) != *hash
        {
            return Ok(Err(refused(BAD_REQUEST, "provided sha does not match query")));
        }
        if let Some(allowlist) = &self.allowlist {
            let hash = hash.unwrap_or_else(|| query.as_deref().map(sha256_hex).unwrap_or_default());
            return Ok(match allowlist.get(&hash) {
                Some(document) => Ok(Resolved { document: document.clone(), register: None }),
                None => Err(refused(PERSISTED_QUERY_NOT_ALLOWED, "Only the operations on the allowlist run here.")),
            });
        }
        match (hash, query) {
            (None, Some(query)) => Ok(Ok(Resolved { document: Arc::from(query), register: None })),
            (Some(hash), Some(query)) => {
                let register = self.cached(&hash).is_none().then(|| hash.clone());
                Ok(Ok(Resolved { document: Arc::from(query), register }))
            }
            (Some(hash), None) => match self.lookup(&hash).await? {
                Some(document) => Ok(Ok(Resolved { document, register: None })),
                None => Ok(Err(refused(PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound"))),
            },
            (None, None) => Ok(Err(refused(BAD_REQUEST, "A GraphQL request needs a `query` or a persisted query."))),
        }
    }

    async fn lookup(&self, hash: &str) -> domain::Result<Option<Arc<str>>> {
        if let Some(document) = self.cached(hash) {
            return Ok(Some(document));
        }
        let Some(item) = self.table.get(key(hash)).await? else { return Ok(None) };
        let reader = ItemReader(&item);
        // Kept past its time but not yet swept by TTL: gone all the same.
        if reader.int("expires_at").is_ok_and(|at| at < domain::timefmt::now().unix_timestamp()) {
            return Ok(None);
        }
        let document: Arc<str> = Arc::from(reader.string("document")?);
        self.remember(hash, document.clone());
        Ok(Some(document))
    }

    /// Registers a document that has passed the checks under its hash.
    /// Registering again only moves its expiry.
    pub async fn register(&self, hash: &str, document: Arc<str>) -> domain::Result<()> {
        let now = domain::timefmt::now().unix_timestamp();
        let mut item = item_with_key(key(hash));
        item.insert("document".into(), s(document.as_ref()));
        item.insert("registered_at".into(), n(now));
        item.insert("expires_at".into(), n(now + KEEP_SECS));
        self.table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        self.remember(hash, document);
        Ok(())
    }
}

fn key(hash: &str) -> (String, String) {
    store::keys::persisted_query(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_allowlist_parses_and_every_hash_is_its_document() {
        let allowlist = parse_allowlist(ALLOWLIST_JSON).unwrap();
        assert!(!allowlist.is_empty());
        for (hash, document) in allowlist {
            assert_eq!(sha256_hex(&document), hash);
        }
    }

    #[test]
    fn sha256_is_lower_case_hex() {
        assert_eq!(sha256_hex("{ me { id } }").len(), 64);
        assert_eq!(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
