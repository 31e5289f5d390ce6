//! DynamoDB single-table access: the key layout ([`keys`]), one repository
//! per aggregate, and the conversions between items and domain types.

pub mod account_tokens;
pub mod keys;
pub mod logins;
pub mod mail_log;
#[cfg(feature = "sqs")]
pub mod mail_queue;
pub mod orders;
pub mod paging;
pub mod persisted_queries;
pub mod portone_payments;
pub mod posts;
pub mod products;
pub mod social;
pub mod stripe_events;
pub mod suppressions;
pub mod throttle;
pub mod users;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, KeysAndAttributes};

use domain::Error;

pub use account_tokens::AccountTokenRepository;
pub use logins::{LoginRepository, RefreshCheck};
pub use mail_log::MailLogRepository;
pub use orders::OrderRepository;
pub use portone_payments::PortOnePaymentRepository;
pub use posts::PostRepository;
pub use products::ProductRepository;
pub use social::SocialRepository;
pub use stripe_events::StripeEventRepository;
pub use suppressions::SuppressionRepository;
pub use users::UserRepository;

pub type Item = HashMap<String, AttributeValue>;

/// BatchGetItem reads at most this many keys a call.
const BATCH_GET_MAX_KEYS: usize = 100;
/// Calls per chunk of keys before unprocessed ones are given up on.
const BATCH_GET_ATTEMPTS: u32 = 5;

/// The table and a client for it, cheap to clone (the client is an `Arc`).
#[derive(Debug, Clone)]
pub struct Table {
    pub client: aws_sdk_dynamodb::Client,
    pub name: String,
}

impl Table {
    pub fn new(client: aws_sdk_dynamodb::Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into() }
    }

    /// One item by key, strongly consistent: a request reads its own writes.
    pub async fn get(&self, key: (String, String)) -> Result<Option<Item>, Error> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(key_of(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(output.item)
    }

    /// The items at these keys that exist (each key once): BatchGetItem by
    /// 100 keys (its limit); keys it leaves unprocessed under load are asked
    /// again, a bounded number of times, and then it is a 503 rather than a
    /// silent gap. `projection` names the attributes to read (all if `None`).
    pub async fn batch_get(
        &self,
        keys: impl IntoIterator<Item = (String, String)>,
        consistent: bool,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, Error> {
        let mut keys: Vec<(String, String)> = keys.into_iter().collect();
        keys.sort_unstable();
        keys.dedup();
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX_KEYS) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().cloned().map(key_of).collect()))
                .consistent_read(consistent)
                .set_projection_expression(projection.map(str::to_owned))
                .build()
                .map_err(Error::internal)?;
            for attempt in 0..BATCH_GET_ATTEMPTS {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.name, pending)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchGetItem", e))?;
                items.extend(output.responses.and_then(|mut r| r.remove(&self.name)).unwrap_or_default());
                match output.unprocessed_keys.and_then(|mut left| left.remove(&self.name)) {
                    Some(left) if !left.keys.is_empty() => pending = left,
                    _ => break,
                }
                if attempt + 1 == BATCH_GET_ATTEMPTS {
                    return Err(Error::ServiceUnavailable {
                        detail: "keys left unprocessed after BatchGetItem retries".into(),
                        retry_after_secs: 1,
                    });
                }
                tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
            }
        }
        Ok(items)
    }

    /// Writes all of `items` or none of them. `Ok(false)` when one of their
    /// conditions failed (the caller knows which rule that was).
    pub async fn transact(
        &self,
        items: impl IntoIterator<Item = aws_sdk_dynamodb::types::TransactWriteItem>,
    ) -> Result<bool, Error> {
        Ok(self.transact_or_cancelled(items).await?.is_none())
    }

    /// Writes all of `items` or none of them. `Ok(Some(reasons))` when a
    /// condition failed: one reason per item, in order, each with the item
    /// as it was where the write asked for it (`ReturnValuesOnConditionCheckFailure`),
    /// so the caller learns why without reading again. A conflict with
    /// another transaction in flight is a 503 worth retrying.
    pub async fn transact_or_cancelled(
        &self,
        items: impl IntoIterator<Item = aws_sdk_dynamodb::types::TransactWriteItem>,
    ) -> Result<Option<Vec<CancellationReason>>, Error> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        // The SDK gives the call one ClientRequestToken and keeps it across
        // its retries, so a resend of an attempt that landed (a timeout after
        // the write) is accepted as the same transaction, not refused by the
        // conditions it already made true.
        let result =
            self.client.transact_write_items().set_transact_items(Some(items.into_iter().collect())).send().await;
        match result {
            Ok(_) => Ok(None),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancel)) => {
                    let reasons = cancel.cancellation_reasons();
                    if reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed")) {
                        Ok(Some(reasons.to_vec()))
                    } else {
                        Err(Error::ServiceUnavailable {
                            detail: format!(
                                "transaction cancelled: {:?}",
                                reasons.iter().map(|r| r.code()).collect::<Vec<_>>()
                            ),
                            retry_after_secs: 1,
                        })
                    }
                }
                _ => Err(sdk_error("TransactWriteItems", e)),
            },
        }
    }
}

/// Whether a cancelled transaction's item failed its own condition, and the
/// item as it was (when the write asked for it and the item existed).
pub fn condition_failed(reason: Option<&CancellationReason>) -> Option<Option<&Item>> {
    let reason = reason?;
    (reason.code() == Some("ConditionalCheckFailed")).then_some(reason.item.as_ref())
}

/// Starts an item with its primary key.
pub fn item_with_key((pk, sk): (String, String)) -> Item {
    HashMap::from([(keys::PK.to_owned(), AttributeValue::S(pk)), (keys::SK.to_owned(), AttributeValue::S(sk))])
}

pub fn key_of(key: (String, String)) -> Item {
    item_with_key(key)
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Reads typed attributes out of an item; a missing or mistyped attribute
/// is a fault of ours (the item was written by this code), not the client's.
pub struct ItemReader<'a>(pub &'a Item);

impl ItemReader<'_> {
    pub fn string(&self, name: &str) -> Result<String, Error> {
        match self.0.get(name) {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            _ => Err(Error::internal(format!("item attribute {name} missing or not a string"))),
        }
    }

    pub fn optional_string(&self, name: &str) -> Option<String> {
        match self.0.get(name) {
            Some(AttributeValue::S(v)) => Some(v.clone()),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Result<i64, Error> {
        match self.0.get(name) {
            Some(AttributeValue::N(v)) => v.parse().map_err(Error::internal),
            _ => Err(Error::internal(format!("item attribute {name} missing or not a number"))),
        }
    }

    pub fn bool(&self, name: &str) -> bool {
        matches!(self.0.get(name), Some(AttributeValue::Bool(true)))
    }

    pub fn time(&self, name: &str) -> Result<time::OffsetDateTime, Error> {
        let text = self.string(name)?;
        domain::timefmt::parse_rfc3339(&text)
            .ok_or_else(|| Error::internal(format!("item attribute {name} is not a time")))
    }
}

/// A conditional UpdateItem's result: `None` when its condition did not
/// hold (the caller knows which rule that was), the output otherwise.
pub fn updated_if<R>(
    result: Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, R>,
    >,
) -> Result<Option<aws_sdk_dynamodb::operation::update_item::UpdateItemOutput>, Error>
where
    R: std::fmt::Debug,
{
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    match result {
        Ok(output) => Ok(Some(output)),
        Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => Ok(None),
        Err(e) => Err(sdk_error("UpdateItem", e)),
    }
}

/// An SDK failure as the client should see it: the store being unreachable
/// or overloaded is a 503 worth retrying; anything else is our fault.
pub fn sdk_error<E, R>(operation: &'static str, error: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let transient = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(e) => matches!(
            e.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
            )
        ),
        _ => false,
    };
    let detail = format!("dynamodb {operation}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&error));
    if transient { Error::ServiceUnavailable { detail, retry_after_secs: 1 } } else { Error::Internal(detail) }
}
