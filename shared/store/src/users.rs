//! Users and their case-insensitive username claims.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::{ItemReader, Table, item_with_key, keys, s};
use domain::user::{User, username_key};
use domain::{Error, FieldErrors, Result};

/// A user as stored, with what only sign-in may see.
#[derive(Debug)]
pub struct StoredUser {
    pub user: User,
    pub password_hash: Option<String>,
    /// Logins started before this (unix milliseconds) were revoked with the
    /// account's (a password reset, a takeover by a verified sign-in).
    pub logins_revoked_at_ms: i64,
}

#[derive(Debug, Clone)]
pub struct UserRepository {
    table: Table,
}

impl UserRepository {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Writes the user and claims its username in one transaction; a
    /// username taken in any letter case is a 409 and nothing is written.
    pub async fn create(&self, user: &User, password_hash: Option<&str>) -> Result<()> {
        if self.create_with(user, password_hash, vec![]).await? {
            Ok(())
        } else {
            Err(Error::Conflict {
                message: "A user with that username already exists.".into(),
                errors: Some(FieldErrors::single("username", "A user with that username already exists.")),
            })
        }
    }

    /// The writes that make a user: its username claim and its profile,
    /// each only if new.
    fn create_writes(&self, user: &User, password_hash: Option<&str>) -> Result<Vec<TransactWriteItem>> {
        let username_key = username_key(&user.username);
        let mut profile = item_with_key(keys::user(&user.id));
        let (gsi1pk, gsi1sk) = keys::user_by_email(&user.email.to_lowercase(), &user.id);
        profile.insert("id".into(), s(&user.id));
        profile.insert("username".into(), s(&user.username));
        profile.insert("username_key".into(), s(&username_key));
        profile.insert("email".into(), s(&user.email));
        profile.insert("date_joined".into(), s(domain::timefmt::rfc3339(user.date_joined)));
        profile.insert("email_verified".into(), aws_sdk_dynamodb::types::AttributeValue::Bool(user.email_verified));
        profile.insert(keys::GSI1_PK.into(), s(gsi1pk));
        profile.insert(keys::GSI1_SK.into(), s(gsi1sk));
        if let Some(hash) = password_hash {
            profile.insert("password_hash".into(), s(hash));
        }
        let mut claim = item_with_key(keys::username_claim(&username_key));
        claim.insert("user_id".into(), s(&user.id));

        let put = |item| {
            Put::builder()
                .table_name(&self.table.name)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build())
                .map_err(Error::internal)
        };
        Ok(vec![put(claim)?, put(profile)?])
    }

    /// Writes the user, its username claim and `more` in one transaction.
    /// `false`: a condition failed (the username or another write's target
    /// was taken) and nothing was written.
    pub async fn create_with(
        &self,
        user: &User,
        password_hash: Option<&str>,
        more: Vec<TransactWriteItem>,
    ) -> Result<bool> {
        let mut writes = self.create_writes(user, password_hash)?;
        writes.extend(more);
        self.table.transact(writes).await
    }

    /// Whether a username is taken, in any letter case.
    pub async fn username_taken(&self, username: &str) -> Result<bool> {
        Ok(self.table.get(keys::username_claim(&username_key(username))).await?.is_some())
    }

    /// The user whose email is `email` (any letter case), by the email
    /// index (eventually consistent: for linking sign-ins, not for
    /// uniqueness).
    pub async fn find_by_email(&self, email: &str) -> Result<Option<User>> {
        let output = self
            .table
            .client
            .query()
            .table_name(&self.table.name)
            .index_name(keys::GSI1)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::GSI1_PK)
            .expression_attribute_values(":pk", s(keys::user_by_email(&email.to_lowercase(), "").0))
            .limit(1)
            .send()
            .await
            .map_err(|e| super::sdk_error("Query", e))?;
        let Some(item) = output.items.unwrap_or_default().into_iter().next() else { return Ok(None) };
        let user_id = ItemReader(&item).string("id")?;
        self.get(&user_id).await
    }

    pub async fn get(&self, user_id: &str) -> Result<Option<User>> {
        Ok(self.get_stored(user_id).await?.map(|stored| stored.user))
    }

    /// The user who owns `username` (any letter case), with their hash.
    pub async fn find_for_sign_in(&self, username: &str) -> Result<Option<StoredUser>> {
        let Some(claim) = self.table.get(keys::username_claim(&username_key(username))).await? else { return Ok(None) };
        let user_id = ItemReader(&claim).string("user_id")?;
        self.get_stored(&user_id).await
    }

    /// Makes the user who owns `username` staff, or not; the user as now
    /// stored, or `None` when nobody has that username.
    pub async fn set_staff(&self, username: &str, is_staff: bool) -> Result<Option<User>> {
        let Some(stored) = self.find_for_sign_in(username).await? else { return Ok(None) };
        self.table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(super::key_of(keys::user(&stored.user.id))))
            .update_expression("SET is_staff = :staff")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":staff", aws_sdk_dynamodb::types::AttributeValue::Bool(is_staff))
            .send()
            .await
            .map_err(|e| super::sdk_error("UpdateItem", e))?;
        Ok(Some(User { is_staff, ..stored.user }))
    }

    pub async fn get_stored(&self, user_id: &str) -> Result<Option<StoredUser>> {
        let Some(item) = self.table.get(keys::user(user_id)).await? else { return Ok(None) };
        Ok(Some(StoredUser {
            user: user_from(&item)?,
            password_hash: ItemReader(&item).optional_string("password_hash"),
            logins_revoked_at_ms: ItemReader(&item).int("logins_revoked_at_ms").unwrap_or(0),
        }))
    }

    /// The users with these ids that exist, by id, in as few calls as
    /// [`Table::batch_get`] allows. Password hashes are not read.
    pub async fn get_many(&self, user_ids: &[String]) -> Result<HashMap<String, User>> {
        let keys = user_ids.iter().map(|id| keys::user(id));
        let items = self
            .table
            .batch_get(keys, false, Some("id, username, email, email_verified, is_staff, date_joined"))
            .await?;
        items.iter().map(|item| user_from(item).map(|user| (user.id.clone(), user))).collect()
    }
}

fn user_from(item: &super::Item) -> Result<User> {
    let read = ItemReader(item);
    Ok(User {
        id: read.string("id")?,
        username: read.string("username")?,
        email: read.string("email")?,
        email_verified: read.bool("email_verified"),
        is_staff: read.bool("is_staff"),
        date_joined: read.time("date_joined")?,
    })
}
