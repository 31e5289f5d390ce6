//! The single-table key design. Every item of every aggregate lives in one
//! DynamoDB table; this module is the only place that spells a key.
//!
//! Table attributes: `pk` (S, partition), `sk` (S, sort); `gsi1pk`/`gsi1sk`
//! and `gsi2pk`/`gsi2sk` (S) for the two global secondary indexes `gsi1` and
//! `gsi2` (projection ALL); `expires_at` (N, epoch seconds) is the TTL
//! attribute: DynamoDB deletes an item some time after it passes, so readers
//! still check it themselves.
//!
//! | item              | pk                   | sk         | gsi1pk / gsi1sk             | TTL |
//! |-------------------|----------------------|------------|-----------------------------|-----|
//! | user              | `USER#<user id>`     | `PROFILE`  | `EMAIL#<email, lower>` / `USER#<user id>` | no |
//! | username claim    | `USERNAME#<lower>`   | `USERNAME` | –                           | no  |
//! | login (refresh)   | `LOGIN#<login id>`   | `LOGIN`    | `USER#<user id>` / `LOGIN#<login id>` | yes |
//!
//! Why these shapes:
//! - A username is unique in any letter case: registration writes the user
//!   and its `USERNAME#<lower>` claim in one transaction, each conditional on
//!   not existing, so two racing sign-ups cannot both win and no half-made
//!   user is ever left behind.
//! - Sign-in reads the claim (username → id), then the user: two strongly
//!   consistent GetItems, no index (indexes are eventually consistent and a
//!   user who just registered must be able to sign in at once).
//! - A login is one refresh-token family. It remembers only the `jti` of the
//!   one refresh token that may still be used; rotation is a conditional
//!   update on it, so a token is good once, and any other genuine token of
//!   that login that comes back is a reuse that revokes the login.
//!   Its TTL is the current refresh token's expiry.
//! - `gsi1` on users (by email) is for linking social sign-ins; on logins
//!   (by user) for revoking every login of a user.

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
pub const GSI2: &str = "gsi2";
pub const GSI2_PK: &str = "gsi2pk";
pub const GSI2_SK: &str = "gsi2sk";
pub const TTL: &str = "expires_at";

pub fn user(user_id: &str) -> (String, String) {
    (format!("USER#{user_id}"), "PROFILE".to_owned())
}

pub fn user_by_email(email_lower: &str, user_id: &str) -> (String, String) {
    (format!("EMAIL#{email_lower}"), format!("USER#{user_id}"))
}

pub fn username_claim(username_key: &str) -> (String, String) {
    (format!("USERNAME#{username_key}"), "USERNAME".to_owned())
}

pub fn login(login_id: &str) -> (String, String) {
    (format!("LOGIN#{login_id}"), "LOGIN".to_owned())
}

pub fn logins_of_user(user_id: &str, login_id: &str) -> (String, String) {
    (format!("USER#{user_id}"), format!("LOGIN#{login_id}"))
}
