//! Stripe events, each recorded once under its id (the webhook's
//! idempotency), with a masked summary that is enough to replay it, and an
//! audit item per delivery. Nothing here holds an email, card data or a
//! secret: the webhook writes only the summary it made.

use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};

use super::{Item, ItemReader, Table, condition_failed, item_with_key, keys, n, s, sdk_error};
use domain::{Error, Result, timefmt};

/// How long delivery audit items are kept.
const DELIVERY_RETENTION_SECS: i64 = 90 * 24 * 3600;

const PROCESSED: &str = "processed";

/// What recording an event found.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// First sight: recorded now, with its outcome.
    New,
    /// Recorded by an earlier delivery, with this outcome.
    Seen { outcome: String },
}

/// The outcome an event's record holds.
pub fn recorded_outcome(record: &Item) -> String {
    ItemReader(record).optional_string("outcome").unwrap_or_default()
}

/// An event as recorded: what replay runs again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub event_id: String,
    pub event_type: String,
    /// The masked summary, as JSON, that the webhook made of the event.
    pub summary: String,
    pub processed: bool,
    pub outcome: Option<String>,
}

/// One delivery of an event, for the audit trail.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub request_id: String,
    /// `webhook` or `replay`.
    pub source: &'static str,
    /// The `t=` of `Stripe-Signature` (webhook deliveries).
    pub signed_at: Option<i64>,
    /// SHA-256 of the raw body, hex: identifies the payload without keeping it.
    pub body_sha256: Option<String>,
    pub body_bytes: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct StripeEventRepository {
    table: Table,
}

impl StripeEventRepository {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// The event's record with its outcome, written only if the event was
    /// never recorded (the webhook's idempotency); on failure the write
    /// returns the existing record.
    pub fn record_put(
        &self,
        event_id: &str,
        event_type: &str,
        order_id: Option<&str>,
        summary: &str,
        outcome: &str,
    ) -> Result<Put> {
        let now = timefmt::rfc3339(timefmt::now());
        let mut item = item_with_key(keys::stripe_event(event_id));
        item.insert("event_id".into(), s(event_id));
        item.insert("event_type".into(), s(event_type));
        item.insert("summary".into(), s(summary));
        item.insert("status".into(), s(PROCESSED));
        item.insert("outcome".into(), s(outcome));
        item.insert("received_at".into(), s(&now));
        item.insert("processed_at".into(), s(&now));
        if let Some(order_id) = order_id {
            item.insert("order_id".into(), s(order_id));
        }
        Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(Error::internal)
    }

    /// Records an event that changes no order, with its delivery's audit
    /// item, in one transaction.
    pub async fn record(&self, record: Put, event_id: &str, outcome: &str, delivery: &Delivery) -> Result<Recorded> {
        let writes =
            [TransactWriteItem::builder().put(record).build(), self.delivery_write(event_id, outcome, delivery)?];
        match self.table.transact_or_cancelled(writes).await? {
            None => Ok(Recorded::New),
            Some(reasons) => match condition_failed(reasons.first()) {
                Some(Some(existing)) => Ok(Recorded::Seen { outcome: recorded_outcome(existing) }),
                _ => Err(Error::internal(format!("event {event_id} could not be recorded"))),
            },
        }
    }

    pub async fn get(&self, event_id: &str) -> Result<Option<StoredEvent>> {
        let Some(item) = self.get_item(event_id).await? else { return Ok(None) };
        let read = ItemReader(&item);
        Ok(Some(StoredEvent {
            event_id: read.string("event_id")?,
            event_type: read.string("event_type")?,
            summary: read.string("summary")?,
            processed: read.optional_string("status").as_deref() == Some(PROCESSED),
            outcome: read.optional_string("outcome"),
        }))
    }

    /// Audits a delivery of an event that was already processed.
    pub async fn record_delivery(&self, event_id: &str, outcome: &str, delivery: &Delivery) -> Result<()> {
        let item = delivery_item(event_id, outcome, delivery);
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

    /// The audit item of one delivery, to go in the transaction that
    /// records what the delivery did.
    pub fn delivery_write(&self, event_id: &str, outcome: &str, delivery: &Delivery) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(delivery_item(event_id, outcome, delivery)))
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    async fn get_item(&self, event_id: &str) -> Result<Option<Item>> {
        self.table.get(keys::stripe_event(event_id)).await
    }
}

fn delivery_item(event_id: &str, outcome: &str, delivery: &Delivery) -> Item {
    let now = timefmt::now();
    let mut item = item_with_key(keys::stripe_event_delivery(event_id, &domain::ids::new_id_at(now)));
    item.insert("event_id".into(), s(event_id));
    item.insert("request_id".into(), s(&delivery.request_id));
    item.insert("source".into(), s(delivery.source));
    item.insert("outcome".into(), s(outcome));
    item.insert("received_at".into(), s(timefmt::rfc3339(now)));
    item.insert(keys::TTL.into(), n(now.unix_timestamp() + DELIVERY_RETENTION_SECS));
    if let Some(at) = delivery.signed_at {
        item.insert("signed_at".into(), n(at));
    }
    if let Some(hash) = &delivery.body_sha256 {
        item.insert("body_sha256".into(), s(hash));
    }
    if let Some(bytes) = delivery.body_bytes {
        item.insert("body_bytes".into(), n(bytes));
    }
    item
}
