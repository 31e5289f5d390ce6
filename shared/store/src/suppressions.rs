//! What SES reported about each email address, and the suppression list
//! made of it: an address that bounced permanently or complained gets no
//! more email until an operator takes it off the list. See [`super::keys`].

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::{Item, ItemReader, Table, condition_failed, item_with_key, key_of, keys, n, s, sdk_error, updated_if};
use domain::{Error, Result, timefmt};

/// How long a handled notification's id is remembered: longer than SQS
/// keeps a message (14 days at most), so a redelivery is always known.
const NOTIFICATION_MEMORY_SECS: i64 = 15 * 24 * 3600;
/// Writes one transaction may hold, the notification's marker included.
const TRANSACTION_LIMIT: usize = 100;

/// What a notification does to each address it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressEvent {
    PermanentBounce,
    Complaint,
    /// Counted only.
    TransientBounce,
}

impl AddressEvent {
    fn counter(self) -> &'static str {
        match self {
            Self::PermanentBounce => "permanent_bounces",
            Self::Complaint => "complaints",
            Self::TransientBounce => "transient_bounces",
        }
    }

    fn suppression_reason(self) -> Option<&'static str> {
        match self {
            Self::PermanentBounce => Some("bounce"),
            Self::Complaint => Some("complaint"),
            Self::TransientBounce => None,
        }
    }
}

/// One address as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub address: String,
    pub reason: String,
    pub suppressed_at: String,
    pub permanent_bounces: i64,
    pub complaints: i64,
    pub transient_bounces: i64,
}

#[derive(Debug, Clone)]
pub struct SuppressionRepository {
    table: Table,
}

impl SuppressionRepository {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Applies one SES notification to each of its (normalised) addresses,
    /// once per `notification_id`: the notification's marker and the
    /// address updates go in one transaction, so a redelivery changes
    /// nothing and a failure leaves nothing half-done. `Ok(false)`: this
    /// notification was handled before. (SES names at most 50 recipients;
    /// beyond 99 the updates go first and a crash could count some twice.)
    pub async fn apply(&self, notification_id: &str, event: AddressEvent, addresses: &[String]) -> Result<bool> {
        let now = timefmt::now();
        let mut marker = item_with_key(keys::email_event(notification_id));
        marker.insert("notification_id".into(), s(notification_id));
        marker.insert("event".into(), s(event.counter()));
        marker.insert("recipients".into(), n(addresses.len()));
        marker.insert("handled_at".into(), s(timefmt::rfc3339(now)));
        marker.insert(keys::TTL.into(), n(now.unix_timestamp() + NOTIFICATION_MEMORY_SECS));
        let marker = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(marker))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(Error::internal)?;
        let updates =
            addresses.iter().map(|address| self.address_update(address, event)).collect::<Result<Vec<_>>>()?;
        let mut chunks: Vec<Vec<TransactWriteItem>> =
            updates.chunks(TRANSACTION_LIMIT - 1).map(<[TransactWriteItem]>::to_vec).collect();
        let last = chunks.pop().unwrap_or_default();
        for chunk in chunks {
            self.table.transact(chunk).await?;
        }
        let mut writes = vec![TransactWriteItem::builder().put(marker).build()];
        writes.extend(last);
        match self.table.transact_or_cancelled(writes).await? {
            None => Ok(true),
            Some(reasons) if condition_failed(reasons.first()).is_some() => Ok(false),
            Some(_) => Err(Error::internal("an email address update failed its condition")),
        }
    }

    fn address_update(&self, address: &str, event: AddressEvent) -> Result<TransactWriteItem> {
        let now = timefmt::rfc3339(timefmt::now());
        let mut update = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::email_address(address))))
            .expression_attribute_values(":address", s(address))
            .expression_attribute_values(":now", s(&now))
            .expression_attribute_values(":one", n(1));
        update = match event.suppression_reason() {
            Some(reason) => update
                .update_expression(format!(
                    "SET address = :address, last_event_at = :now, suppressed = :true, \
                     suppression_reason = if_not_exists(suppression_reason, :reason), \
                     suppressed_at = if_not_exists(suppressed_at, :now), {gsi_pk} = :list, {gsi_sk} = :address \
                     ADD {counter} :one",
                    gsi_pk = keys::GSI1_PK,
                    gsi_sk = keys::GSI1_SK,
                    counter = event.counter()
                ))
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .expression_attribute_values(":reason", s(reason))
                .expression_attribute_values(":list", s(keys::SUPPRESSED)),
            None => update.update_expression(format!(
                "SET address = :address, last_event_at = :now ADD {counter} :one",
                counter = event.counter()
            )),
        };
        Ok(TransactWriteItem::builder().update(update.build().map_err(Error::internal)?).build())
    }

    /// Whether `address` (normalised) is on the list: one strongly
    /// consistent GetItem, so a suppression counts from the moment it is
    /// written.
    pub async fn is_suppressed(&self, address: &str) -> Result<bool> {
        let item = self.table.get(keys::email_address(address)).await?;
        Ok(item.as_ref().is_some_and(|item| ItemReader(item).bool("suppressed")))
    }

    /// The whole list, oldest address first (by address).
    pub async fn list(&self) -> Result<Vec<Suppression>> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .index_name(keys::GSI1)
                .key_condition_expression("#pk = :list")
                .expression_attribute_names("#pk", keys::GSI1_PK)
                .expression_attribute_values(":list", s(keys::SUPPRESSED))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            for item in output.items.unwrap_or_default() {
                let read = ItemReader(&item);
                let count = |name: &str| read.int(name).unwrap_or(0);
                found.push(Suppression {
                    address: read.string("address")?,
                    reason: read.optional_string("suppression_reason").unwrap_or_default(),
                    suppressed_at: read.optional_string("suppressed_at").unwrap_or_default(),
                    permanent_bounces: count("permanent_bounces"),
                    complaints: count("complaints"),
                    transient_bounces: count("transient_bounces"),
                });
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(found),
            }
        }
    }

    /// Takes `address` off the list (its counts stay). `Ok(false)`: it was
    /// not on it, so running this twice is harmless.
    pub async fn unsuppress(&self, address: &str) -> Result<bool> {
        let result = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::email_address(address))))
            .update_expression(format!(
                "SET unsuppressed_at = :now REMOVE suppressed, suppression_reason, suppressed_at, {}, {}",
                keys::GSI1_PK,
                keys::GSI1_SK
            ))
            .condition_expression("suppressed = :true")
            .expression_attribute_values(":now", s(timefmt::rfc3339(timefmt::now())))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await;
        Ok(updated_if(result)?.is_some())
    }
}
