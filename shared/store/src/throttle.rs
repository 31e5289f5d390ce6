//! Rate-limit counters: one atomic counter per scope, caller and fixed
//! window, expiring by TTL a minute after its window ends.

use aws_sdk_dynamodb::types::ReturnValue;

use super::{ItemReader, Table, key_of, keys, n, sdk_error};
use domain::Result;

#[derive(Debug, Clone)]
pub struct ThrottleCounters {
    table: Table,
}

impl ThrottleCounters {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Adds `hits` to the window of `scope` and `caller` that starts at
    /// `window_start`, kept until `expires_at`; the window's total after.
    pub async fn add(&self, scope: &str, caller: &str, window_start: i64, expires_at: i64, hits: u64) -> Result<u64> {
        let output = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::throttle_window(scope, caller, window_start))))
            .update_expression("ADD hits :hits SET expires_at = if_not_exists(expires_at, :expires)")
            .expression_attribute_values(":hits", n(hits as i64))
            .expression_attribute_values(":expires", n(expires_at))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        let total = output.attributes.as_ref().map(|a| ItemReader(a).int("hits")).transpose()?.unwrap_or(0);
        Ok(total.max(0) as u64)
    }
}
