//! Logins: one per sign-in, each the family of the refresh tokens that
//! rotate from it. See [`super::keys`] for why one `jti` is enough.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::{Item, ItemReader, Table, item_with_key, key_of, keys, n, s, sdk_error};
use domain::Result;
use domain::user::IssuedRefresh;

/// What became of a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshCheck {
    /// It was the login's current token and the change was made.
    Accepted,
    /// The login is unknown, expired or already revoked.
    NotValid,
    /// A genuine but already used token: the login is now revoked.
    Reused,
}

#[derive(Debug, Clone)]
pub struct LoginRepository {
    table: Table,
}

impl LoginRepository {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Records a new login whose only valid refresh token is `first`.
    pub async fn start(&self, user_id: &str, first: &IssuedRefresh, now: i64) -> Result<()> {
        let mut item = item_with_key(keys::login(&first.login_id));
        let (gsi1pk, gsi1sk) = keys::logins_of_user(user_id, &first.login_id);
        item.insert("user_id".into(), s(user_id));
        item.insert("current_jti".into(), s(&first.jti));
        item.insert("revoked".into(), AttributeValue::Bool(false));
        item.insert("created_at".into(), n(now));
        item.insert("started_at_ms".into(), n(domain::timefmt::unix_ms(domain::timefmt::now())));
        item.insert(keys::TTL.into(), n(first.expires_at));
        item.insert(keys::GSI1_PK.into(), s(gsi1pk));
        item.insert(keys::GSI1_SK.into(), s(gsi1sk));
        self.table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// Replaces the login's current token `presented_jti` by `next`, once.
    /// Accepted, it also says when the login started (unix milliseconds; 0
    /// for a login from before that was kept), which the caller holds
    /// against the account's revocations.
    pub async fn rotate(&self, presented_jti: &str, next: &IssuedRefresh, now: i64) -> Result<(RefreshCheck, i64)> {
        let update = self
            .table
            .client
            .update_item()
            .update_expression("SET current_jti = :next, #ttl = :exp, rotated_at = :now")
            .expression_attribute_values(":next", s(&next.jti))
            .expression_attribute_values(":exp", n(next.expires_at))
            .expression_attribute_values(":now", n(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        let (check, item) = self.change_if_current(update, &next.login_id, presented_jti, now).await?;
        let started_at_ms = item.as_ref().and_then(|item| ItemReader(item).int("started_at_ms").ok()).unwrap_or(0);
        Ok((check, started_at_ms))
    }

    /// Revokes a login the account's revocation covers (found out when it
    /// was next used).
    pub async fn revoke_with_account(&self, login_id: &str, now: i64) -> Result<()> {
        self.revoke(login_id, "account", now).await
    }

    /// Ends the login whose current token is `presented_jti` (logout).
    pub async fn end(&self, login_id: &str, presented_jti: &str, now: i64) -> Result<RefreshCheck> {
        let update = self
            .table
            .client
            .update_item()
            .update_expression("SET revoked = :true, revoked_reason = :reason, revoked_at = :now")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":reason", s("logout"))
            .expression_attribute_values(":now", n(now));
        Ok(self.change_if_current(update, login_id, presented_jti, now).await?.0)
    }

    /// Applies `update` only while `presented_jti` is the login's current,
    /// unrevoked, unexpired token (with the item as the update returns it);
    /// otherwise tells why, revoking the login when a used token came back.
    async fn change_if_current(
        &self,
        update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
        login_id: &str,
        presented_jti: &str,
        now: i64,
    ) -> Result<(RefreshCheck, Option<Item>)> {
        let result = update
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::login(login_id))))
            .condition_expression("current_jti = :presented AND revoked = :false AND #ttl > :clock")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":presented", s(presented_jti))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":clock", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old = match result {
            Ok(output) => return Ok((RefreshCheck::Accepted, output.attributes)),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => match failed.item() {
                    Some(item) => Some(item.clone()),
                    // Not every DynamoDB-compatible server returns the old
                    // item; read it to tell reuse from revocation.
                    None => self.get(login_id).await?,
                },
                _ => return Err(sdk_error("UpdateItem", e)),
            },
        };
        let Some(old) = old else { return Ok((RefreshCheck::NotValid, None)) };
        let read = ItemReader(&old);
        let expired = read.int(keys::TTL).map(|exp| exp <= now).unwrap_or(true);
        if read.bool("revoked") || expired {
            return Ok((RefreshCheck::NotValid, None));
        }
        self.revoke(login_id, "reuse", now).await?;
        Ok((RefreshCheck::Reused, None))
    }

    async fn revoke(&self, login_id: &str, reason: &str, now: i64) -> Result<()> {
        self.table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::login(login_id))))
            .update_expression("SET revoked = :true, revoked_reason = :reason, revoked_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":now", n(now))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        Ok(())
    }

    async fn get(&self, login_id: &str) -> Result<Option<Item>> {
        self.table.get(keys::login(login_id)).await
    }
}
