//! PortOne payments as this service saw them: one audit item per payment
//! (`imp_uid`) with what was made of it last (paid the order, amount
//! mismatch, a second payment for a paid order, ...), and one item per
//! status that took effect, written in the same transaction as the effect,
//! so that each `(imp_uid, status)` counts once however often PortOne's
//! webhook or the client's completion call reports it.

use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};

use super::{Table, condition_failed, item_with_key, keys, n, s, sdk_error};
use domain::{Error, Result, timefmt};

/// A payment as PortOne reported it, and what it came to here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentAudit<'a> {
    pub imp_uid: &'a str,
    /// PortOne's `merchant_uid`: our order id.
    pub order_id: &'a str,
    /// PortOne's status: `ready`, `paid`, `failed`, `cancelled`.
    pub status: &'a str,
    pub amount: i64,
    /// As PortOne spells it (`KRW`).
    pub currency: &'a str,
    pub outcome: &'a str,
}

#[derive(Debug, Clone)]
pub struct PortOnePaymentRepository {
    table: Table,
}

impl PortOnePaymentRepository {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// The put that records `(imp_uid, status)` as having taken effect:
    /// only the first time (on failure it returns the existing record).
    pub fn status_put(&self, audit: &PaymentAudit<'_>) -> Result<Put> {
        let mut item = item_with_key(keys::portone_payment_status(audit.imp_uid, audit.status));
        item.insert("imp_uid".into(), s(audit.imp_uid));
        item.insert("order_id".into(), s(audit.order_id));
        item.insert("status".into(), s(audit.status));
        item.insert("outcome".into(), s(audit.outcome));
        item.insert("recorded_at".into(), s(timefmt::rfc3339(timefmt::now())));
        Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(Error::internal)
    }

    /// The payment's audit item, as a transaction's write.
    pub fn audit_write(&self, audit: &PaymentAudit<'_>) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(audit_item(audit)))
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Records what a payment came to (nothing else changes).
    pub async fn audit(&self, audit: &PaymentAudit<'_>) -> Result<()> {
        self.table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(audit_item(audit)))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// Records a status that changes no order, with the audit item, once.
    /// `Ok(false)`: it was recorded before.
    pub async fn record_status(&self, audit: &PaymentAudit<'_>) -> Result<bool> {
        let writes = [TransactWriteItem::builder().put(self.status_put(audit)?).build(), self.audit_write(audit)?];
        match self.table.transact_or_cancelled(writes).await? {
            None => Ok(true),
            Some(reasons) if condition_failed(reasons.first()).is_some() => Ok(false),
            Some(_) => Err(Error::internal("a PortOne payment's audit failed its condition")),
        }
    }
}

fn audit_item(audit: &PaymentAudit<'_>) -> super::Item {
    let mut item = item_with_key(keys::portone_payment(audit.imp_uid));
    item.insert("imp_uid".into(), s(audit.imp_uid));
    item.insert("order_id".into(), s(audit.order_id));
    item.insert("status".into(), s(audit.status));
    item.insert("amount".into(), n(audit.amount));
    item.insert("currency".into(), s(audit.currency));
    item.insert("outcome".into(), s(audit.outcome));
    item.insert("updated_at".into(), s(timefmt::rfc3339(timefmt::now())));
    item
}
