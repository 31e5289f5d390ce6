//! GraphQL persisted queries: documents by their SHA-256, kept until an
//! expiry (TTL) that each registration moves.

use super::{ItemReader, Table, item_with_key, keys, n, s, sdk_error};
use domain::Result;

#[derive(Debug, Clone)]
pub struct PersistedQueryRepository {
    table: Table,
}

impl PersistedQueryRepository {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// The document under `hash`, unless it expired at or before `now`
    /// (unix seconds): TTL sweeps late, so an expired item may still be read.
    pub async fn get(&self, hash: &str, now: i64) -> Result<Option<String>> {
        let Some(item) = self.table.get(keys::persisted_query(hash)).await? else { return Ok(None) };
        let reader = ItemReader(&item);
        if reader.int("expires_at").is_ok_and(|at| at < now) {
            return Ok(None);
        }
        Ok(Some(reader.string("document")?))
    }

    /// Stores `document` under `hash` until `expires_at`; storing it again
    /// only moves the expiry.
    pub async fn put(&self, hash: &str, document: &str, now: i64, expires_at: i64) -> Result<()> {
        let mut item = item_with_key(keys::persisted_query(hash));
        item.insert("document".into(), s(document));
        item.insert("registered_at".into(), n(now));
        item.insert("expires_at".into(), n(expires_at));
        self.table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }
}
