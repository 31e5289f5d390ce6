//! Persisted queries, Apollo's protocol: `extensions.persistedQuery`
//! `{version: 1, sha256Hash}`. A known hash runs without its query; a hash
//! sent with its query registers it (in the table, for 30 days). With the
//! allowlist on, only the committed operations run, by hash or by text.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use services::Table;
use services::persisted_queries::PersistedQueryStore;
use sha2::{Digest, Sha256};

use crate::errors::{BAD_REQUEST, PERSISTED_QUERY_NOT_ALLOWED, PERSISTED_QUERY_NOT_FOUND};

/// The operations the project's own clients use, hash → document
/// (`make graphql-allowlist` writes it from `openapi/operations/`).
pub const ALLOWLIST_JSON: &str = include_str!("../../../openapi/graphql-allowlist.json");

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
    documents: PersistedQueryStore,
    allowlist: Option<Arc<HashMap<String, Arc<str>>>>,
}

/// The allowlist file, parsed.
pub fn parse_allowlist(json: &str) -> Result<HashMap<String, Arc<str>>, String> {
    let entries: HashMap<String, String> = serde_json::from_str(json).map_err(|e| e.to_string())?;
    Ok(entries.into_iter().map(|(hash, document)| (hash, Arc::from(document))).collect())
}

impl PersistedQueries {
    pub fn new(table: Table, allowlist: Option<HashMap<String, Arc<str>>>) -> Self {
        Self { documents: PersistedQueryStore::new(table), allowlist: allowlist.map(Arc::new) }
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
                let register = (!self.documents.is_cached(&hash)).then(|| hash.clone());
                Ok(Ok(Resolved { document: Arc::from(query), register }))
            }
            (Some(hash), None) => match self.documents.lookup(&hash).await? {
                Some(document) => Ok(Ok(Resolved { document, register: None })),
                None => Ok(Err(refused(PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound"))),
            },
            (None, None) => Ok(Err(refused(BAD_REQUEST, "A GraphQL request needs a `query` or a persisted query."))),
        }
    }

    /// Registers a document that has passed the checks under its hash.
    /// Registering again only moves its expiry.
    pub async fn register(&self, hash: &str, document: Arc<str>) -> domain::Result<()> {
        self.documents.register(hash, document).await
    }
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
