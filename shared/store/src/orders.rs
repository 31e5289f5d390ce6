//! Orders: one item per order, its lines and stock holds inside it, written
//! in one transaction with the stock it holds. Every status change is a
//! conditional update that names the status it starts from and the amount
//! and currency it was paid with, so a stale or forged change cannot land.
//! See [`super::keys`] for the layout.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

use super::paging::Direction;
use super::paging::{self, ListPage, PositionKey, QuerySpec};
use super::{Item, ItemReader, Table, condition_failed, item_with_key, key_of, keys, n, s, sdk_error, updated_if};
use domain::order::{Order, OrderHead, OrderLine, OrderStatus, ReceiptStatus, StockHold, out_of_stock};
use domain::payment::{PaymentReport, StatusChange};
use domain::{Error, Result, timefmt};

/// The attributes that position an item in a customer's order list.
const ORDER_POSITION: &[&str] = &[keys::PK, keys::SK, keys::GSI1_PK, keys::GSI1_SK];
/// The attributes that position an item in staff's list of every order.
const ALL_ORDERS_POSITION: &[&str] = &[keys::PK, keys::SK, keys::GSI2_PK, keys::GSI2_SK];
/// Orders read per Query call when a filter may skip many.
const FILTERED_READ_PER_CALL: usize = 200;

/// Which orders staff's list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    /// Normalised, as orders keep it.
    pub email: Option<String>,
}
/// Writes of one order tried when other orders' transactions hold the same
/// products (DynamoDB cancels all but one of them); nothing was written.
const CREATE_ATTEMPTS: u32 = 8;

/// What [`OrderRepository::cancel`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Canceled {
    /// Canceled now, and its stock returned, in one write.
    Now,
    /// Not canceled: the order as it is (another status), or `None` when
    /// there is no such order.
    Refused { order: Option<Box<OrderHead>> },
}

/// What [`OrderRepository::settle`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// The event was new and the order moved: everything is written.
    Applied,
    /// The event was recorded before (a redelivery): nothing was written.
    /// `order` is the order as it is, when the order's condition failed too
    /// (it is past the change), else `None`.
    Seen { order: Option<OrderHead> },
    /// The event is new, but the order refused the change (another status,
    /// amount or currency), as `order` shows; `None`: there is no such
    /// order. Nothing was written.
    Refused { order: Option<OrderHead> },
}

/// The outcome of recording a PaymentIntent on an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentRecord {
    Recorded,
    /// Not recorded: the order already has one, or no longer awaits payment.
    Kept(Box<OrderHead>),
}

/// The outcome of claiming an order's receipt for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptClaim {
    /// Ours to send: the order, lines included, as the claim left it.
    Claimed(Box<Order>),
    AlreadySent,
    /// Not paid (nor refunded): there is no payment to send a receipt for.
    NotPaid(OrderStatus),
    /// Another delivery holds an unexpired claim.
    HeldElsewhere,
    NoSuchOrder,
}

#[derive(Debug, Clone)]
pub struct OrderRepository {
    table: Table,
}

impl OrderRepository {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Writes the order and takes the stock its items hold, all or
    /// nothing: each hold is a decrement on the condition that enough is
    /// left. A hold that is not there any more is the 409 of
    /// [`out_of_stock`], naming every item short; nothing is written then.
    /// One call (repeated only when concurrent orders for the same products
    /// collide, which writes nothing).
    pub async fn create(&self, order: &Order) -> Result<()> {
        let mut head = item_with_key(keys::order(&order.id));
        head.insert("order_id".into(), s(&order.id));
        head.insert("status".into(), s(order.status.as_str()));
        head.insert("email".into(), s(&order.email));
        head.insert("amount".into(), n(order.amount));
        head.insert("currency".into(), s(&order.currency));
        head.insert("item_count".into(), n(order.lines.len()));
        head.insert("receipt_status".into(), s(order.receipt_status.as_str()));
        head.insert("correlation_id".into(), s(&order.correlation_id));
        head.insert("created_at".into(), s(timefmt::rfc3339(order.created_at)));
        head.insert("updated_at".into(), s(timefmt::rfc3339(order.updated_at)));
        let (all_pk, all_sk) = keys::order_in_all_orders(&order.id);
        head.insert(keys::GSI2_PK.into(), s(all_pk));
        head.insert(keys::GSI2_SK.into(), s(all_sk));
        // Not `expires_at`: that is the table's TTL, which would delete it.
        let hold_expires_at = timefmt::rfc3339(order.expires_at);
        let (unpaid_pk, unpaid_sk) = keys::unpaid_order(order.expires_at, &order.id);
        head.insert("hold_expires_at".into(), s(&hold_expires_at));
        head.insert(keys::GSI3_PK.into(), s(unpaid_pk));
        head.insert(keys::GSI3_SK.into(), s(unpaid_sk));
        if let Some(hash) = &order.token_hash {
            head.insert("token_hash".into(), s(hash));
        }
        if let Some(user_id) = &order.user_id {
            head.insert("user_id".into(), s(user_id));
            head.insert(keys::GSI1_PK.into(), s(keys::orders_of_user(user_id)));
            head.insert(keys::GSI1_SK.into(), s(keys::order_in_user_list(&order.id)));
        }
        // The lines live in the order item (they never change): one read
        // gives the whole order, and one write that claims the receipt
        // returns all the receipt shows.
        let lines = order.lines.iter().map(|line| AttributeValue::M(line_attributes(line))).collect();
        head.insert("lines".into(), AttributeValue::L(lines));
        if !order.holds.is_empty() {
            head.insert("holds".into(), AttributeValue::L(order.holds.iter().map(hold_attribute).collect()));
        }
        let mut writes = vec![put_new(&self.table.name, head)?];
        for hold in &order.holds {
            writes.push(self.stock_change(hold, -hold.quantity)?);
        }
        for attempt in 1..=CREATE_ATTEMPTS {
            match self.table.transact_or_cancelled(writes.clone()).await {
                Ok(None) => return Ok(()),
                Ok(Some(reasons)) => {
                    if condition_failed(reasons.first()).is_some() {
                        return Err(Error::internal(format!("order id {} is taken", order.id)));
                    }
                    let shortages: Vec<(usize, i64)> = order
                        .holds
                        .iter()
                        .zip(reasons.iter().skip(1))
                        .filter_map(|(hold, reason)| {
                            let left = condition_failed(Some(reason))?;
                            Some((hold.line, left.and_then(|item| ItemReader(item).int("stock").ok()).unwrap_or(0)))
                        })
                        .collect();
                    return Err(out_of_stock(&shortages));
                }
                Err(Error::ServiceUnavailable { .. }) if attempt < CREATE_ATTEMPTS => {
                    // A little apart, so the colliding writes do not meet again.
                    let jitter =
                        u64::from(std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |t| t.subsec_nanos()) % 20);
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt) + jitter)).await;
                }
                Err(error) => return Err(error),
            }
        }
        Err(Error::ServiceUnavailable { detail: "order write kept colliding".into(), retry_after_secs: 1 })
    }

    /// Changes a product's stock by `delta`. A decrement (a hold taken)
    /// lands only while enough is left; a product whose limit was lifted
    /// since the order was priced takes it anyway. A return always lands.
    fn stock_change(&self, hold: &StockHold, delta: i64) -> Result<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::product(&hold.product_id))))
            .update_expression("ADD stock :delta")
            .expression_attribute_values(":delta", n(delta));
        if delta < 0 {
            update = update
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(stock_limited) OR stock_limited = :unlimited \
                     OR stock >= :quantity)",
                )
                .expression_attribute_values(":unlimited", AttributeValue::Bool(false))
                .expression_attribute_values(":quantity", n(hold.quantity))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        }
        Ok(TransactWriteItem::builder().update(update.build().map_err(Error::internal)?).build())
    }

    /// The writes that return `holds` to their products' stock: part of the
    /// transaction that cancels their order, so they land exactly once.
    pub fn stock_returns(&self, holds: &[StockHold]) -> Result<Vec<TransactWriteItem>> {
        holds.iter().map(|hold| self.stock_change(hold, hold.quantity)).collect()
    }

    /// Cancels an unpaid order and returns its stock, in one write: the
    /// order's update names the statuses it may start from, so however
    /// often (or concurrently) this runs, the stock comes back once.
    /// `order` is the order as read; its holds are what is returned.
    pub async fn cancel(&self, order: &OrderHead) -> Result<Canceled> {
        let from = OrderStatus::predecessors(OrderStatus::Canceled);
        let placeholders: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
        let mut update = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::order(&order.id))))
            .update_expression("SET #status = :canceled, updated_at = :now, canceled_at = :now REMOVE gsi3pk, gsi3sk")
            .condition_expression(format!("attribute_exists(pk) AND #status IN ({})", placeholders.join(", ")))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":canceled", s(OrderStatus::Canceled.as_str()))
            .expression_attribute_values(":now", s(timefmt::rfc3339(timefmt::now())));
        for (placeholder, status) in placeholders.iter().zip(&from) {
            update = update.expression_attribute_values(placeholder, s(status.as_str()));
        }
        let mut writes = vec![TransactWriteItem::builder().update(update.build().map_err(Error::internal)?).build()];
        writes.extend(self.stock_returns(&order.holds)?);
        let Some(reasons) = self.table.transact_or_cancelled(writes).await? else { return Ok(Canceled::Now) };
        let order = match condition_failed(reasons.first()) {
            Some(Some(item)) => Some(Box::new(head_from(item)?)),
            _ => None,
        };
        Ok(Canceled::Refused { order })
    }

    /// The order with its lines: one strongly consistent GetItem.
    pub async fn get(&self, order_id: &str) -> Result<Option<Order>> {
        let item = self.table.get(keys::order(order_id)).await?;
        item.as_ref().map(order_of_item).transpose()
    }

    /// The order item alone: one strongly consistent GetItem.
    pub async fn get_head(&self, order_id: &str) -> Result<Option<OrderHead>> {
        let item = self.table.get(keys::order(order_id)).await?;
        item.as_ref().map(head_from).transpose()
    }

    /// A page of a customer's orders, newest first, each with its lines:
    /// one Query of the customer's index.
    pub async fn list_for_user(
        &self,
        user_id: &str,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<ListPage<Order>> {
        if start.is_some_and(|p| p.keys().any(|k| !ORDER_POSITION.contains(&k.as_str()))) {
            return Err(Error::Validation(domain::FieldErrors::single("cursor", "Invalid cursor.")));
        }
        let spec = QuerySpec {
            index: Some(keys::GSI1),
            key_condition: format!("{} = :owner", keys::GSI1_PK),
            filter: None,
            names: HashMap::new(),
            values: HashMap::from([(":owner".to_owned(), s(keys::orders_of_user(user_id)))]),
            // Newest first: the index's descending order.
            ascending: false,
            key_attributes: ORDER_POSITION,
            per_call: page_size + 1,
        };
        let raw = paging::read_page(&self.table, &spec, direction, start, page_size).await?;
        paging::arrange(raw, direction, start, ORDER_POSITION, order_of_item)
    }

    /// Unpaid orders whose hold ended before `now`, oldest first, at most
    /// `limit`: one Query of the unpaid index (never a Scan).
    pub async fn expired(&self, now: time::OffsetDateTime, limit: usize) -> Result<Vec<OrderHead>> {
        let output = self
            .table
            .client
            .query()
            .table_name(&self.table.name)
            .index_name(keys::GSI3)
            .key_condition_expression("#pk = :unpaid AND #sk < :now")
            .expression_attribute_names("#pk", keys::GSI3_PK)
            .expression_attribute_names("#sk", keys::GSI3_SK)
            .expression_attribute_values(":unpaid", s(keys::UNPAID_ORDERS))
            .expression_attribute_values(":now", s(keys::unpaid_before(now)))
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        output.items.unwrap_or_default().iter().map(head_from).collect()
    }

    /// A page of every order, newest first, filtered (staff's list): one
    /// Query of the all-orders index, more when a filter skips many.
    pub async fn list_all(
        &self,
        filter: &OrderFilter,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<ListPage<Order>> {
        if start.is_some_and(|p| p.keys().any(|k| !ALL_ORDERS_POSITION.contains(&k.as_str()))) {
            return Err(Error::Validation(domain::FieldErrors::single("cursor", "Invalid cursor.")));
        }
        let mut conditions = Vec::new();
        let mut names = HashMap::new();
        let mut values = HashMap::from([(":all".to_owned(), s(keys::ALL_ORDERS))]);
        if let Some(status) = filter.status {
            conditions.push("#status = :status");
            names.insert("#status".to_owned(), "status".to_owned());
            values.insert(":status".to_owned(), s(status.as_str()));
        }
        if let Some(email) = &filter.email {
            conditions.push("email = :email");
            values.insert(":email".to_owned(), s(email));
        }
        let spec = QuerySpec {
            index: Some(keys::GSI2),
            key_condition: format!("{} = :all", keys::GSI2_PK),
            per_call: if conditions.is_empty() { page_size + 1 } else { FILTERED_READ_PER_CALL },
            filter: (!conditions.is_empty()).then(|| conditions.join(" AND ")),
            names,
            values,
            ascending: false,
            key_attributes: ALL_ORDERS_POSITION,
        };
        let raw = paging::read_page(&self.table, &spec, direction, start, page_size).await?;
        paging::arrange(raw, direction, start, ALL_ORDERS_POSITION, order_of_item)
    }

    /// Records `payment_intent_id` as the order's one PaymentIntent, and the
    /// way back from the intent to the order, in one transaction that holds
    /// only while the order has none and awaits payment.
    pub async fn record_payment_intent(&self, order_id: &str, payment_intent_id: &str) -> Result<IntentRecord> {
        let now = timefmt::rfc3339(timefmt::now());
        let update = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::order(order_id))))
            .update_expression("SET payment_intent_id = :pi, updated_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(payment_intent_id) AND #status IN (:pending, :failed)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pi", s(payment_intent_id))
            .expression_attribute_values(":now", s(&now))
            .expression_attribute_values(":pending", s(OrderStatus::Pending.as_str()))
            .expression_attribute_values(":failed", s(OrderStatus::PaymentFailed.as_str()))
            .build()
            .map_err(Error::internal)?;
        let mut link = item_with_key(keys::payment_intent(payment_intent_id));
        link.insert("order_id".into(), s(order_id));
        link.insert("created_at".into(), s(&now));
        let writes = [TransactWriteItem::builder().update(update).build(), put_new(&self.table.name, link)?];
        if self.table.transact(writes).await? {
            Ok(IntentRecord::Recorded)
        } else {
            let head = self.get_head(order_id).await?.ok_or(Error::NotFound)?;
            Ok(IntentRecord::Kept(Box::new(head)))
        }
    }

    /// The order a PaymentIntent was made for.
    pub async fn order_of_payment_intent(&self, payment_intent_id: &str) -> Result<Option<String>> {
        let item = self.table.get(keys::payment_intent(payment_intent_id)).await?;
        item.as_ref().map(|item| ItemReader(item).string("order_id")).transpose()
    }

    /// Records a payment provider's event and the order change it asks for
    /// in one transaction, so that neither lands without the other: the
    /// event's conditional put (`record`: first sight of that event), the
    /// order's conditional update (still in a status that can become the
    /// target, with this amount and currency), and `also` (audit items).
    /// Becoming paid also marks the receipt `queued`: the caller queues it
    /// next, and a redelivery of the event queues it again until it is sent.
    ///
    /// Nothing is read first: when a condition fails, the cancellation
    /// carries the event and the order as they were. One call in all.
    pub async fn settle(
        &self,
        record: Put,
        order_id: &str,
        report: &PaymentReport<'_>,
        also: Vec<TransactWriteItem>,
    ) -> Result<Settled> {
        let (change, amount, currency) = (report.change(), report.amount, report.currency);
        let target = change.target();
        let from = change.starts_from();
        let now = timefmt::rfc3339(timefmt::now());
        let placeholders: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
        let mut update = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::order(order_id))))
            .condition_expression(format!(
                "attribute_exists(pk) AND #status IN ({}) AND amount = :amount AND currency = :currency{}",
                placeholders.join(", "),
                // A refund's running total only ever rises.
                if matches!(change, StatusChange::Refunded { .. }) {
                    " AND (attribute_not_exists(refunded_amount) OR refunded_amount < :total)"
                } else {
                    ""
                }
            ))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", s(target.as_str()))
            .expression_attribute_values(":amount", n(amount))
            .expression_attribute_values(":currency", s(currency))
            .expression_attribute_values(":now", s(&now));
        for (placeholder, status) in placeholders.iter().zip(&from) {
            update = update.expression_attribute_values(placeholder, s(status.as_str()));
        }
        update = match change {
            StatusChange::Paid { event_id, payment_intent_id } => update
                .update_expression(
                    "SET #status = :to, updated_at = :now, paid_at = :now, paid_event_id = :event, \
                     paid_payment_intent_id = :pi, receipt_status = :queued, \
                     receipt_enqueued_at = if_not_exists(receipt_enqueued_at, :now) REMOVE gsi3pk, gsi3sk",
                )
                .expression_attribute_values(":event", s(event_id))
                .expression_attribute_values(":pi", s(payment_intent_id))
                .expression_attribute_values(":queued", s(ReceiptStatus::Queued.as_str())),
            StatusChange::PaymentFailed { event_id } => update
                .update_expression(
                    "SET #status = :to, updated_at = :now, payment_failed_at = :now, payment_failed_event_id = :event",
                )
                .expression_attribute_values(":event", s(event_id)),
            StatusChange::Refunded { event_id, total, whole } => update
                .update_expression(if whole {
                    "SET #status = :to, updated_at = :now, refunded_amount = :total, refunded_at = :now, \
                     refund_event_id = :event, refund_totals = list_append(if_not_exists(refund_totals, :none), :totals)"
                } else {
                    "SET #status = :to, updated_at = :now, refunded_amount = :total, refund_event_id = :event, \
                     refund_totals = list_append(if_not_exists(refund_totals, :none), :totals)"
                })
                .expression_attribute_values(":total", n(total))
                .expression_attribute_values(":none", AttributeValue::L(vec![]))
                .expression_attribute_values(":totals", AttributeValue::L(vec![n(total)]))
                .expression_attribute_values(":event", s(event_id)),
            StatusChange::Canceled { event_id } => update
                .update_expression(
                    "SET #status = :to, updated_at = :now, canceled_at = :now, cancel_event_id = :event \
                     REMOVE gsi3pk, gsi3sk",
                )
                .expression_attribute_values(":event", s(event_id)),
        };
        let update = update.build().map_err(Error::internal)?;
        let mut writes =
            vec![TransactWriteItem::builder().put(record).build(), TransactWriteItem::builder().update(update).build()];
        writes.extend(also);
        let Some(reasons) = self.table.transact_or_cancelled(writes).await? else { return Ok(Settled::Applied) };
        let order = match condition_failed(reasons.get(1)) {
            Some(Some(item)) => Some(head_from(item)?),
            // The order's condition held (it awaits the change), or there
            // is no such order.
            Some(None) | None => None,
        };
        match (condition_failed(reasons.first()), condition_failed(reasons.get(1))) {
            (Some(Some(_)), _) => Ok(Settled::Seen { order }),
            (Some(None), _) => Err(Error::internal("an event record's condition failed with no record")),
            (None, Some(_)) => Ok(Settled::Refused { order }),
            (None, None) => Err(Error::internal("a settlement's audit write failed its condition")),
        }
    }

    /// Claims the sending of the order's receipt until `lease_until` (epoch
    /// seconds). A claim whose lease ran out (its holder died between claim
    /// and send) may be taken again, so a crash never loses the email.
    pub async fn claim_receipt(
        &self,
        order_id: &str,
        claim_id: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<ReceiptClaim> {
        let result = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::order(order_id))))
            .update_expression(
                "SET receipt_claim_id = :claim, receipt_claim_expires_at = :until ADD receipt_attempts :one",
            )
            // A refunded order was paid too: its receipt is still owed.
            .condition_expression(
                "attribute_exists(pk) AND #status IN (:paid, :refunded) AND receipt_status <> :sent AND \
                 (attribute_not_exists(receipt_claim_expires_at) OR receipt_claim_expires_at < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claim", s(claim_id))
            .expression_attribute_values(":until", n(lease_until))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":paid", s(OrderStatus::Paid.as_str()))
            .expression_attribute_values(":refunded", s(OrderStatus::Refunded.as_str()))
            .expression_attribute_values(":sent", s(ReceiptStatus::Sent.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let failed = match result {
            Ok(output) => {
                let item = output.attributes.unwrap_or_default();
                let order = match lines_of_head(&item)? {
                    Some(lines) => order_from(&item, lines)?,
                    // Written before orders carried their lines: read them.
                    None => self.get(order_id).await?.ok_or(Error::NotFound)?,
                };
                return Ok(ReceiptClaim::Claimed(Box::new(order)));
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => failed.item.clone(),
                _ => return Err(sdk_error("UpdateItem", e)),
            },
        };
        let Some(item) = failed else { return Ok(ReceiptClaim::NoSuchOrder) };
        let head = head_from(&item)?;
        Ok(if head.receipt_status == ReceiptStatus::Sent {
            ReceiptClaim::AlreadySent
        } else if !matches!(head.status, OrderStatus::Paid | OrderStatus::Refunded) {
            ReceiptClaim::NotPaid(head.status)
        } else {
            ReceiptClaim::HeldElsewhere
        })
    }

    /// Marks the receipt sent and lets the claim go. `false`: the claim was
    /// no longer ours (its lease ran out and another delivery took it).
    pub async fn mark_receipt_sent(&self, order_id: &str, claim_id: &str, message_id: &str) -> Result<bool> {
        let set = "SET receipt_status = :to, receipt_sent_at = :now, receipt_message_id = :message";
        self.let_claim_go(order_id, claim_id, set, ReceiptStatus::Sent, &[(":message", s(message_id))]).await
    }

    /// Marks the receipt `suppressed` (the address is on the suppression
    /// list, so nothing was sent) and lets the claim go. `false`: the claim
    /// was no longer ours.
    pub async fn mark_receipt_suppressed(&self, order_id: &str, claim_id: &str) -> Result<bool> {
        let set = "SET receipt_status = :to, receipt_suppressed_at = :now";
        self.let_claim_go(order_id, claim_id, set, ReceiptStatus::Suppressed, &[]).await
    }

    /// After a failed send: the receipt is `failed` (until a retry sends
    /// it) and the claim is let go at once, so the retry need not wait.
    /// Someone else's claim is left alone: nothing of ours to let go.
    pub async fn release_receipt_claim(&self, order_id: &str, claim_id: &str) -> Result<()> {
        let set = "SET receipt_status = :to, receipt_failed_at = :now";
        self.let_claim_go(order_id, claim_id, set, ReceiptStatus::Failed, &[]).await?;
        Ok(())
    }

    /// Ends a receipt claim with `set` (which sets `receipt_status` to `:to`
    /// and may use `:now` and `values`), only while the claim is ours and
    /// the receipt unsent. `false`: it was not ours any more.
    async fn let_claim_go(
        &self,
        order_id: &str,
        claim_id: &str,
        set: &str,
        to: ReceiptStatus,
        values: &[(&str, AttributeValue)],
    ) -> Result<bool> {
        let mut update = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::order(order_id))))
            .update_expression(format!("{set} REMOVE receipt_claim_id, receipt_claim_expires_at"))
            .condition_expression("receipt_claim_id = :claim AND receipt_status <> :sent")
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":sent", s(ReceiptStatus::Sent.as_str()))
            .expression_attribute_values(":now", s(timefmt::rfc3339(timefmt::now())))
            .expression_attribute_values(":claim", s(claim_id));
        for (name, value) in values {
            update = update.expression_attribute_values(*name, value.clone());
        }
        Ok(updated_if(update.send().await)?.is_some())
    }
}

fn put_new(table: &str, item: Item) -> Result<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(Error::internal)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn head_from(item: &Item) -> Result<OrderHead> {
    let read = ItemReader(item);
    let status = read.string("status")?;
    let receipt = read.string("receipt_status")?;
    let id = read.string("order_id")?;
    Ok(OrderHead {
        correlation_id: read.optional_string("correlation_id").unwrap_or_else(|| id.clone()),
        id,
        status: OrderStatus::parse(&status).ok_or_else(|| Error::internal(format!("order status {status:?}")))?,
        email: read.string("email")?,
        user_id: read.optional_string("user_id"),
        token_hash: read.optional_string("token_hash"),
        amount: read.int("amount")?,
        currency: read.string("currency")?,
        holds: holds_of_head(item)?,
        refunded_amount: read.int("refunded_amount").unwrap_or(0),
        payment_intent_id: read.optional_string("payment_intent_id"),
        receipt_status: ReceiptStatus::parse(&receipt)
            .ok_or_else(|| Error::internal(format!("receipt status {receipt:?}")))?,
        receipt_enqueued_at: read.optional_string("receipt_enqueued_at").and_then(|t| timefmt::parse_rfc3339(&t)),
        paid_by: read.optional_string("paid_payment_intent_id"),
    })
}

/// The running totals confirmed refunds brought, as landed.
fn refund_totals_of(item: &Item) -> Vec<i64> {
    match item.get("refund_totals") {
        Some(AttributeValue::L(totals)) => {
            totals.iter().filter_map(|total| total.as_n().ok().and_then(|n| n.parse().ok())).collect()
        }
        _ => Vec::new(),
    }
}

/// The whole order from its item.
fn order_of_item(item: &Item) -> Result<Order> {
    let lines = lines_of_head(item)?.ok_or_else(|| Error::internal("an order item without its lines"))?;
    order_from(item, lines)
}

fn order_from(item: &Item, lines: Vec<OrderLine>) -> Result<Order> {
    let head = head_from(item)?;
    let read = ItemReader(item);
    Ok(Order {
        id: head.id,
        status: head.status,
        email: head.email,
        user_id: head.user_id,
        token_hash: head.token_hash,
        lines,
        holds: head.holds,
        refunded_amount: head.refunded_amount,
        refund_totals: refund_totals_of(item),
        amount: head.amount,
        currency: head.currency,
        payment_intent_id: head.payment_intent_id,
        receipt_status: head.receipt_status,
        receipt_sent_at: read.optional_string("receipt_sent_at").and_then(|t| timefmt::parse_rfc3339(&t)),
        created_at: read.time("created_at")?,
        updated_at: read.time("updated_at")?,
        expires_at: read
            .optional_string("hold_expires_at")
            .and_then(|t| timefmt::parse_rfc3339(&t))
            .map_or_else(|| read.time("created_at"), Ok)?,
        correlation_id: head.correlation_id,
    })
}

fn line_attributes(line: &OrderLine) -> Item {
    HashMap::from([
        ("product_id".to_owned(), s(&line.product_id)),
        ("name".to_owned(), s(&line.name)),
        ("unit_amount".to_owned(), n(line.unit_amount)),
        ("quantity".to_owned(), n(line.quantity)),
        ("line_amount".to_owned(), n(line.line_amount)),
    ])
}

fn line_from(item: &Item) -> Result<OrderLine> {
    let read = ItemReader(item);
    Ok(OrderLine {
        product_id: read.string("product_id")?,
        name: read.string("name")?,
        unit_amount: read.int("unit_amount")?,
        quantity: read.int("quantity")?,
        line_amount: read.int("line_amount")?,
    })
}

/// The lines an order item carries, in order; `None` for an order item
/// written before orders carried them.
fn lines_of_head(item: &Item) -> Result<Option<Vec<OrderLine>>> {
    match item.get("lines") {
        Some(AttributeValue::L(lines)) => lines
            .iter()
            .map(|line| match line {
                AttributeValue::M(attributes) => line_from(attributes),
                _ => Err(Error::internal("an order line is not a map")),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        _ => Ok(None),
    }
}

fn hold_attribute(hold: &StockHold) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("product_id".to_owned(), s(&hold.product_id)),
        ("quantity".to_owned(), n(hold.quantity)),
        ("line".to_owned(), n(hold.line)),
    ]))
}

/// The stock an order item says it holds (none for an order of products
/// without a limit).
fn holds_of_head(item: &Item) -> Result<Vec<StockHold>> {
    let Some(AttributeValue::L(holds)) = item.get("holds") else { return Ok(Vec::new()) };
    holds
        .iter()
        .map(|hold| match hold {
            AttributeValue::M(attributes) => {
                let read = ItemReader(attributes);
                Ok(StockHold {
                    product_id: read.string("product_id")?,
                    quantity: read.int("quantity")?,
                    line: read.int("line")? as usize,
                })
            }
            _ => Err(Error::internal("a stock hold is not a map")),
        })
        .collect()
}
