//! Social sign-in's server-side state: the pending sign-ins (state, nonce,
//! PKCE verifier, bound to a provider and a redirect URI, 10 minutes, used
//! once) and the identities `(provider, subject)` that point at users.

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, ReturnValue, TransactWriteItem, Update};

use super::{Item, ItemReader, Table, item_with_key, key_of, keys, n, s, sdk_error};
use domain::user::PendingSignIn;
use domain::{Error, Result};

#[derive(Debug, Clone)]
pub struct SocialRepository {
    table: Table,
}

impl SocialRepository {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    pub async fn save_pending(&self, pending: &PendingSignIn) -> Result<()> {
        let mut item = item_with_key(keys::social_state(&pending.state));
        item.insert("provider".into(), s(&pending.provider));
        item.insert("redirect_uri".into(), s(&pending.redirect_uri));
        item.insert("code_verifier".into(), s(&pending.code_verifier));
        if let Some(nonce) = &pending.nonce {
            item.insert("nonce".into(), s(nonce));
        }
        item.insert(keys::TTL.into(), n(pending.expires_at));
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

    /// Takes the pending sign-in `state` for `provider`, once: a
    /// conditional delete, so of two concurrent callbacks one gets it. An
    /// unknown, used, expired (TTL deletion lags, so the condition checks
    /// the time too) or another provider's state is `None`.
    pub async fn take_pending(&self, state: &str, provider: &str, now: i64) -> Result<Option<PendingSignIn>> {
        let result = self
            .table
            .client
            .delete_item()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::social_state(state))))
            .condition_expression("attribute_exists(pk) AND provider = :provider AND expires_at > :now")
            .expression_attribute_values(":provider", s(provider))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let item = match result {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(e) if matches!(e.as_service_error(), Some(DeleteItemError::ConditionalCheckFailedException(_))) => {
                return Ok(None);
            }
            Err(e) => return Err(sdk_error("DeleteItem", e)),
        };
        let read = ItemReader(&item);
        Ok(Some(PendingSignIn {
            state: state.to_owned(),
            provider: read.string("provider")?,
            redirect_uri: read.string("redirect_uri")?,
            nonce: read.optional_string("nonce"),
            code_verifier: read.string("code_verifier")?,
            expires_at: read.int(keys::TTL)?,
        }))
    }

    /// The user an identity belongs to.
    pub async fn user_of(&self, provider: &str, subject: &str) -> Result<Option<String>> {
        let item = self.table.get(keys::identity(provider, subject)).await?;
        item.as_ref().map(|item| ItemReader(item).string("user_id")).transpose()
    }

    /// The write that makes an identity point at `user_id`, only if the
    /// identity is new (a concurrent first sign-in loses).
    pub fn identity_write(&self, provider: &str, subject: &str, user_id: &str) -> Result<TransactWriteItem> {
        let mut item: Item = item_with_key(keys::identity(provider, subject));
        item.insert("provider".into(), s(provider));
        item.insert("subject".into(), s(subject));
        item.insert("user_id".into(), s(user_id));
        item.insert("linked_at".into(), s(domain::timefmt::rfc3339(domain::timefmt::now())));
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(Error::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Links an identity to an existing user: the identity is new and the
    /// user still exists, or nothing is written. `Ok(false)`: one of them
    /// did not hold.
    pub async fn link(&self, provider: &str, subject: &str, user_id: &str) -> Result<bool> {
        let user_exists = ConditionCheck::builder()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::user(user_id))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(Error::internal)?;
        let writes = [
            self.identity_write(provider, subject, user_id)?,
            TransactWriteItem::builder().condition_check(user_exists).build(),
        ];
        self.table.transact(writes).await
    }

    /// Links an identity whose provider vouches for the email to a user who
    /// never proved it, taking the account over from whoever registered it
    /// (no pre-hijacking): in the one transaction, the user's password is
    /// removed, every login started before `now_ms` revoked, and the email
    /// marked verified. `Ok(false)`: the identity was linked meanwhile, or
    /// the user is gone or verified meanwhile; nothing was written.
    pub async fn link_taking_over(&self, provider: &str, subject: &str, user_id: &str, now_ms: i64) -> Result<bool> {
        let take_over = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::user(user_id))))
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(email_verified) OR email_verified = :false)",
            )
            .update_expression(
                "SET email_verified = :true, email_verified_at = :at, logins_revoked_at_ms = :ms, taken_over_by = :by \
                 REMOVE password_hash",
            )
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":at", s(domain::timefmt::rfc3339(domain::timefmt::now())))
            .expression_attribute_values(":ms", n(now_ms))
            .expression_attribute_values(":by", s(provider))
            .build()
            .map_err(Error::internal)?;
        let writes =
            [self.identity_write(provider, subject, user_id)?, TransactWriteItem::builder().update(take_over).build()];
        self.table.transact(writes).await
    }
}
