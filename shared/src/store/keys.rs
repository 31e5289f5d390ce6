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
//! | post              | `POST#<post id>`     | `#POST`    | `POSTS` / `<post id>`       | no  |
//! | comment           | `POST#<post id>`     | `COMMENT#<comment id>` | `COMMENT#<comment id>` / `COMMENT` | no |
//!
//! Posts also fill `gsi2` (`POSTS` / `<title, lower>#<post id>`), `gsi3`
//! (`AUTHOR#<username, lower>` / `<post id>`) and `gsi4`
//! (`AUTHOR#<username, lower>` / `<title, lower>#<post id>`).
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
//! - A post and its comments are one item collection: `#POST` sorts before
//!   `COMMENT#…`, and comment ids are ULIDs, so one Query returns the post
//!   and its oldest comments; `comment_count` lives on the post item and
//!   changes in the same transaction as the comment it counts.
//! - Each list ordering has an index designed for it, so a page is one
//!   Query, never a Scan: all posts by creation (`gsi1`, post ids are ULIDs)
//!   or by title (`gsi2`), one author's by creation (`gsi3`) or by title
//!   (`gsi4`), keyed by the case-folded username (usernames never change).
//!   Visibility, `is_public` and search are filter expressions on that
//!   Query; private posts are few, so the visibility filter rarely skips.
//!   The all-posts partition `POSTS` is one hot key: at a few thousand
//!   writes a second it would need write sharding.
//! - A comment is found by id through `gsi1` (`COMMENT#<id>`).

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
pub const GSI2: &str = "gsi2";
pub const GSI2_PK: &str = "gsi2pk";
pub const GSI2_SK: &str = "gsi2sk";
pub const GSI3: &str = "gsi3";
pub const GSI3_PK: &str = "gsi3pk";
pub const GSI3_SK: &str = "gsi3sk";
pub const GSI4: &str = "gsi4";
pub const GSI4_PK: &str = "gsi4pk";
pub const GSI4_SK: &str = "gsi4sk";
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

pub const POST_SK: &str = "#POST";
pub const COMMENT_SK_PREFIX: &str = "COMMENT#";
pub const ALL_POSTS: &str = "POSTS";

pub fn post_partition(post_id: &str) -> String {
    format!("POST#{post_id}")
}

pub fn post(post_id: &str) -> (String, String) {
    (post_partition(post_id), POST_SK.to_owned())
}

pub fn comment(post_id: &str, comment_id: &str) -> (String, String) {
    (post_partition(post_id), format!("{COMMENT_SK_PREFIX}{comment_id}"))
}

pub fn comment_by_id(comment_id: &str) -> (String, String) {
    (format!("COMMENT#{comment_id}"), "COMMENT".to_owned())
}

pub fn posts_of_author(username_key: &str) -> String {
    format!("AUTHOR#{username_key}")
}

/// Sort key that orders posts by title, ties by age.
pub fn title_order(title_key: &str, post_id: &str) -> String {
    format!("{title_key}#{post_id}")
}
