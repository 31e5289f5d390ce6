//! The tokens account emails carry, kept only as hashes: one live token per
//! user and kind (a newer one replaces, and so voids, the older), spent by
//! a conditional delete in the same transaction as what it grants, so two
//! concurrent uses of one token succeed at most once.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};

use super::{Table, item_with_key, key_of, keys, n, s, sdk_error};
use domain::account_token::{AccountTokenKind, PresentedToken};
use domain::{Error, Result, timefmt};

#[derive(Debug, Clone)]
pub struct AccountTokenRepository {
    table: Table,
}

impl AccountTokenRepository {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Keeps `hash` as the user's one live token of `kind` until
    /// `expires_at` (unix seconds), voiding any older one.
    pub async fn issue(&self, user_id: &str, kind: AccountTokenKind, hash: &str, expires_at: i64) -> Result<()> {
        let mut item = item_with_key(keys::account_token(user_id, kind.as_str()));
        item.insert("token_hash".into(), s(hash));
        item.insert("issued_at".into(), s(timefmt::rfc3339(timefmt::now())));
        item.insert(keys::TTL.into(), n(expires_at));
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

    /// Spends a verification token and marks the user's email verified, in
    /// one transaction. False: the token is not the user's live one (used,
    /// voided, expired, made up) and nothing changed.
    pub async fn verify_email(&self, token: &PresentedToken, now: i64) -> Result<bool> {
        let verified = self
            .user_update(&token.user_id)
            .update_expression("SET email_verified = :true, email_verified_at = if_not_exists(email_verified_at, :at)")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":at", s(timefmt::rfc3339(timefmt::now())))
            .build()
            .map_err(Error::internal)?;
        self.spend_with(token, AccountTokenKind::EmailVerification, now, verified).await
    }

    /// Spends a reset token and, in the same transaction, sets the user's
    /// password hash, counts the email as verified (the link proved it) and
    /// revokes every login started before `now_ms`. False: the token is not
    /// the user's live one and nothing changed.
    pub async fn reset_password(&self, token: &PresentedToken, password_hash: &str, now_ms: i64) -> Result<bool> {
        let at = timefmt::rfc3339(timefmt::now());
        let reset = self
            .user_update(&token.user_id)
            .update_expression(
                "SET password_hash = :hash, password_changed_at = :at, logins_revoked_at_ms = :ms, \
                 email_verified = :true, email_verified_at = if_not_exists(email_verified_at, :at)",
            )
            .expression_attribute_values(":hash", s(password_hash))
            .expression_attribute_values(":at", s(at))
            .expression_attribute_values(":ms", n(now_ms))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .build()
            .map_err(Error::internal)?;
        self.spend_with(token, AccountTokenKind::PasswordReset, now_ms / 1000, reset).await
    }

    fn user_update(&self, user_id: &str) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::user(user_id))))
            .condition_expression("attribute_exists(pk)")
    }

    async fn spend_with(
        &self,
        token: &PresentedToken,
        kind: AccountTokenKind,
        now: i64,
        change: Update,
    ) -> Result<bool> {
        let spend = Delete::builder()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::account_token(&token.user_id, kind.as_str()))))
            .condition_expression("token_hash = :hash AND #ttl > :now")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":hash", s(&token.hash))
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(Error::internal)?;
        self.table
            .transact([
                TransactWriteItem::builder().delete(spend).build(),
                TransactWriteItem::builder().update(change).build(),
            ])
            .await
    }
}
