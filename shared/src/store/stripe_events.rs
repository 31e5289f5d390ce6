//! Stripe events, each recorded once under its id (the webhook's
//! idempotency), with a masked summary that is enough to replay it, and an
//! audit item per delivery. Nothing here holds an email, card data or a
//! secret: the webhook writes only the summary it made.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

use super::{Item, ItemReader, Table, item_with_key, key_of, keys, n, s, sdk_error};
use crate::{Error, Result, timefmt};

/// How long delivery audit items are kept.
const DELIVERY_RETENTION_SECS: i64 = 90 * 24 * 3600;

const RECEIVED: &str = "received";
const PROCESSED: &str = "processed";

/// What was already known of an event when a delivery arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventRecord {
    /// First sight: recorded now.
    New,
    /// Recorded by an earlier delivery that has not finished (it died, or
    /// is still running): this delivery carries the work on.
    Unfinished,
    /// Done before, with this outcome.
    Processed { outcome: String },
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

    /// Records the event under its id by a conditional put: the first
    /// delivery writes it, later ones learn how far it got.
    pub async fn record(
        &self,
        event_id: &str,
        event_type: &str,
        order_id: Option<&str>,
        summary: &str,
    ) -> Result<EventRecord> {
        let mut item = item_with_key(keys::stripe_event(event_id));
        item.insert("event_id".into(), s(event_id));
        item.insert("event_type".into(), s(event_type));
        item.insert("summary".into(), s(summary));
        item.insert("status".into(), s(RECEIVED));
        item.insert("received_at".into(), s(timefmt::rfc3339(timefmt::now())));
        if let Some(order_id) = order_id {
            item.insert("order_id".into(), s(order_id));
        }
        let result = self
            .table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let existing = match result {
            Ok(_) => return Ok(EventRecord::New),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => match failed.item() {
                    Some(item) => item.clone(),
                    None => self.get_item(event_id).await?.ok_or_else(|| Error::internal("event vanished"))?,
                },
                _ => return Err(sdk_error("PutItem", e)),
            },
        };
        let read = ItemReader(&existing);
        Ok(match read.optional_string("status").as_deref() {
            Some(PROCESSED) => EventRecord::Processed { outcome: read.optional_string("outcome").unwrap_or_default() },
            _ => EventRecord::Unfinished,
        })
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

    /// Closes the event with its outcome and audits this delivery, together
    /// with `also` (e.g. noting that a receipt was queued), in one
    /// transaction: either all of it is durable or none, and a redelivery
    /// finishes the job.
    pub async fn finish(
        &self,
        event_id: &str,
        outcome: &str,
        delivery: &Delivery,
        also: Vec<TransactWriteItem>,
    ) -> Result<()> {
        let close = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::stripe_event(event_id))))
            .update_expression(
                "SET #status = :processed, outcome = if_not_exists(outcome, :outcome), \
                 last_outcome = :outcome, processed_at = if_not_exists(processed_at, :now)",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":processed", s(PROCESSED))
            .expression_attribute_values(":outcome", s(outcome))
            .expression_attribute_values(":now", s(timefmt::rfc3339(timefmt::now())))
            .build()
            .map_err(Error::internal)?;
        let mut writes =
            vec![TransactWriteItem::builder().update(close).build(), self.delivery_write(event_id, outcome, delivery)?];
        writes.extend(also);
        if self.table.transact(writes).await? {
            Ok(())
        } else {
            Err(Error::internal(format!("event {event_id} could not be closed")))
        }
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

    fn delivery_write(&self, event_id: &str, outcome: &str, delivery: &Delivery) -> Result<TransactWriteItem> {
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
    let mut item = item_with_key(keys::stripe_event_delivery(event_id, &crate::ids::new_id_at(now)));
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
