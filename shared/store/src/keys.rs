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
//! | account token     | `USER#<user id>`     | `TOKEN#<kind>` | – (one live token per user and kind; its hash) | yes |
//! | login (refresh)   | `LOGIN#<login id>`   | `LOGIN`    | `USER#<user id>` / `LOGIN#<login id>` | yes |
//! | post              | `POST#<post id>`     | `#POST`    | `POSTS` / `<post id>`       | no  |
//! | comment           | `POST#<post id>`     | `COMMENT#<comment id>` | `COMMENT#<comment id>` / `COMMENT` | no |
//! | product           | `PRODUCT#<product id>` | `PRODUCT` | `PRODUCTS` / `<product id>` | no |
//! | order (lines and stock holds inside) | `ORDER#<order id>` | `#ORDER` | `USER_ORDERS#<user id>` / `<order id>#ORDER` (signed-in orders only); gsi2: `ORDERS` / `<order id>`; gsi3 while unpaid: `UNPAID` / `<hold end, epoch ms>#<order id>` | no |
//! | payment intent    | `PAYMENT_INTENT#<pi id>` | `PAYMENT_INTENT` | – (points at its order) | no |
//! | Stripe event      | `STRIPE_EVENT#<evt id>` | `STRIPE_EVENT` | –                      | no  |
//! | event delivery    | `STRIPE_EVENT#<evt id>` | `DELIVERY#<delivery id>` | –            | yes |
//! | email address     | `EMAIL_ADDRESS#<address>` | `EMAIL_ADDRESS` | `SUPPRESSED` / `<address>` (suppressed ones only) | no |
//! | email event       | `EMAIL_EVENT#<SNS message id>` | `EMAIL_EVENT` | –                 | yes |
//! | social sign-in    | `SOCIAL_STATE#<state>` | `SOCIAL_STATE` | – (used once, 10 minutes) | yes |
//! | identity          | `IDENTITY#<provider>#<subject>` | `IDENTITY` | – (points at its user) | no |
//! | PortOne payment   | `PORTONE_PAYMENT#<imp_uid>` | `PORTONE_PAYMENT` | – (what we made of it, latest) | no |
//! | PortOne status    | `PORTONE_PAYMENT#<imp_uid>` | `STATUS#<status>` | – (each status takes effect once) | no |
//! | persisted query   | `PQ#<sha256>`        | `PQ`       | –                           | yes |
//! | sent email        | `MAIL#<once key>`    | `MAIL`     | – (each email once: claim, then sent) | yes (a welcome: no) |
//! | throttle window   | `THROTTLE#<scope>#<caller>` | `W#<window start>` | –            | yes |
//!
//! Posts fill eight index key pairs, one per listing (`<title>` below is the
//! case-folded title, then `\u{1}` and the post id, so ties sort by age and a
//! title sorts before its longer continuations):
//!
//! | index | partition                                   | sort       | holds |
//! |-------|---------------------------------------------|------------|-------|
//! | gsi1  | `POSTS`                                     | post id    | every post |
//! | gsi2  | `POSTS`                                     | `<title>`  | every post |
//! | gsi3  | `AUTHOR#<username>`                         | post id    | every post of an author |
//! | gsi4  | `AUTHOR#<username>`                         | `<title>`  | every post of an author |
//! | gsi5  | `PUBLIC`                                    | post id    | public posts only (sparse) |
//! | gsi6  | `PUBLIC`                                    | `<title>`  | public posts only (sparse) |
//! | gsi7  | `AUTHOR#<username>#PUBLIC` or `…#PRIVATE`   | post id    | an author's posts by visibility |
//! | gsi8  | `AUTHOR#<username>#PUBLIC` or `…#PRIVATE`   | `<title>`  | an author's posts by visibility |
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
//! - Each listing has an index designed for it, so a page is one Query,
//!   never a Scan, and reads only what the caller may see: anonymous and
//!   `is_public=true` lists read the public-only indexes; another author's
//!   posts their public partition; one's own posts the author's partition;
//!   `is_public=false` one's own private partition. Only a signed-in
//!   caller's whole feed (everyone's public posts and their own private
//!   ones) reads all posts with a visibility filter, and search is a filter
//!   everywhere; those read on within a budget (see `paging`). Usernames are
//!   case-folded and never change, so they can key partitions. The
//!   all-posts partitions are hot keys: at a few thousand writes a second
//!   they would need write sharding.
//! - A comment is found by id through `gsi1` (`COMMENT#<id>`).
//! - An email address (normalised) has one item: what SES reported about it
//!   (bounce and complaint counts) and whether it is suppressed. The mailer
//!   reads it by key before each send; the suppression list is the sparse
//!   `SUPPRESSED` partition of `gsi1`, for operators, not for the mailer
//!   (an index lags its table).

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
pub const GSI5: &str = "gsi5";
pub const GSI5_PK: &str = "gsi5pk";
pub const GSI5_SK: &str = "gsi5sk";
pub const GSI6: &str = "gsi6";
pub const GSI6_PK: &str = "gsi6pk";
pub const GSI6_SK: &str = "gsi6sk";
pub const GSI7: &str = "gsi7";
pub const GSI7_PK: &str = "gsi7pk";
pub const GSI7_SK: &str = "gsi7sk";
pub const GSI8: &str = "gsi8";
pub const GSI8_PK: &str = "gsi8pk";
pub const GSI8_SK: &str = "gsi8sk";
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
pub const PUBLIC_POSTS: &str = "PUBLIC";

pub fn post_partition(post_id: &str) -> String {
    format!("POST#{post_id}")
}

/// The post id a post's partition key names.
pub fn post_id_of_partition(partition: &str) -> Option<&str> {
    partition.strip_prefix("POST#")
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

/// An author's public or private posts.
pub fn posts_of_author_by_visibility(username_key: &str, is_public: bool) -> String {
    format!("AUTHOR#{username_key}#{}", if is_public { "PUBLIC" } else { "PRIVATE" })
}

/// Sort key that orders posts by title, ties by age. The separator sorts
/// below every character a title may hold (titles have no control
/// characters), so "rust" comes before "rust tips".
pub fn title_order(title_key: &str, post_id: &str) -> String {
    format!("{title_key}\u{1}{post_id}")
}

// ---------------------------------------------------------------------------
// Commerce: products, orders, payment intents, Stripe events.
//
// - The catalog is one partition of `gsi1` (`PRODUCTS`), ordered by product
//   id; pricing an order reads its products by key (BatchGetItem).
// - An order is one item: its lines and the stock it holds are lists in it,
//   so one GetItem reads it whole. It is written in one transaction with a
//   conditional decrement of each limited product's `stock`. The receipt's
//   state (`receipt_status`, the mailer's claim) lives on it too, so one
//   conditional write claims a send.
// - A customer's orders list is `gsi1` under `USER_ORDERS#<user id>`
//   (`<order id>#ORDER`): newest first is one descending Query. Guest orders
//   are not in any customer's list. Every order is in staff's list, `gsi2`
//   under `ORDERS` by order id, filtered by status and email. An unpaid
//   order is in `gsi3` under `UNPAID`, by the end of its hold (zero-padded
//   epoch milliseconds, then its id), until it is paid or canceled: the sweep's Query.
// - `PAYMENT_INTENT#<id>` leads from a PaymentIntent back to its order
//   (refund events name the intent, not the order).
// - A Stripe event is recorded once under its id (a conditional put: the
//   webhook's idempotency); each delivery adds an audit item beside it,
//   kept 90 days.
// ---------------------------------------------------------------------------

pub const PRODUCT_SK: &str = "PRODUCT";
pub const ALL_PRODUCTS: &str = "PRODUCTS";
pub const ORDER_SK: &str = "#ORDER";

pub fn product(product_id: &str) -> (String, String) {
    (format!("PRODUCT#{product_id}"), PRODUCT_SK.to_owned())
}

/// `gsi1` of a product: the catalog partition, by id.
pub fn product_in_catalog(product_id: &str) -> (String, String) {
    (ALL_PRODUCTS.to_owned(), product_id.to_owned())
}

pub fn order_partition(order_id: &str) -> String {
    format!("ORDER#{order_id}")
}

pub fn order(order_id: &str) -> (String, String) {
    (order_partition(order_id), ORDER_SK.to_owned())
}

/// `gsi2` of every order: one partition, by order id (so by time), for
/// staff. A busy shop would shard it by day; this one reads it newest first.
pub const ALL_ORDERS: &str = "ORDERS";

pub fn order_in_all_orders(order_id: &str) -> (String, String) {
    (ALL_ORDERS.to_owned(), order_id.to_owned())
}

/// `gsi3` of an unpaid order (sparse: removed when it is paid or
/// canceled): one partition ordered by when its hold ends, so the sweep
/// reads exactly the expired ones.
pub const UNPAID_ORDERS: &str = "UNPAID";

/// The sort key of an unpaid order: when its hold ends, in zero-padded
/// epoch milliseconds (sorts as time does), then its id.
pub fn unpaid_order(hold_expires_at: time::OffsetDateTime, order_id: &str) -> (String, String) {
    (UNPAID_ORDERS.to_owned(), format!("{}#{order_id}", unpaid_before(hold_expires_at)))
}

/// The bound of the unpaid orders whose hold ended before `at`.
pub fn unpaid_before(at: time::OffsetDateTime) -> String {
    format!("{:015}", at.unix_timestamp_nanos() / 1_000_000)
}

pub fn orders_of_user(user_id: &str) -> String {
    format!("USER_ORDERS#{user_id}")
}

pub fn order_in_user_list(order_id: &str) -> String {
    format!("{order_id}#ORDER")
}

pub fn payment_intent(payment_intent_id: &str) -> (String, String) {
    (format!("PAYMENT_INTENT#{payment_intent_id}"), "PAYMENT_INTENT".to_owned())
}

pub fn stripe_event(event_id: &str) -> (String, String) {
    (format!("STRIPE_EVENT#{event_id}"), "STRIPE_EVENT".to_owned())
}

pub fn stripe_event_delivery(event_id: &str, delivery_id: &str) -> (String, String) {
    (format!("STRIPE_EVENT#{event_id}"), format!("DELIVERY#{delivery_id}"))
}

pub fn email_address(address: &str) -> (String, String) {
    (format!("EMAIL_ADDRESS#{address}"), "EMAIL_ADDRESS".into())
}

/// The live token of one kind (email verification, password reset) a
/// user's account email carries, beside the user's profile.
pub fn account_token(user_id: &str, kind: &str) -> (String, String) {
    (format!("USER#{user_id}"), format!("TOKEN#{kind}"))
}

/// One email the mailer sends once, by its once key (see
/// `domain::mail::MailRequest::once_key`).
pub fn sent_email(once_key: &str) -> (String, String) {
    (format!("MAIL#{once_key}"), "MAIL".into())
}

/// The `gsi1` partition of suppressed addresses.
pub const SUPPRESSED: &str = "SUPPRESSED";

pub fn email_event(notification_id: &str) -> (String, String) {
    (format!("EMAIL_EVENT#{notification_id}"), "EMAIL_EVENT".into())
}

/// What this service made of a PortOne payment (its audit record).
pub fn portone_payment(imp_uid: &str) -> (String, String) {
    (format!("PORTONE_PAYMENT#{imp_uid}"), "PORTONE_PAYMENT".into())
}

/// One status of a PortOne payment, recorded when it took effect.
pub fn portone_payment_status(imp_uid: &str, status: &str) -> (String, String) {
    (format!("PORTONE_PAYMENT#{imp_uid}"), format!("STATUS#{status}"))
}

/// A social sign-in between its start and its callback.
pub fn social_state(state: &str) -> (String, String) {
    (format!("SOCIAL_STATE#{state}"), "SOCIAL_STATE".into())
}

/// A provider's account, `(provider, subject)`, pointing at its user.
pub fn identity(provider: &str, subject: &str) -> (String, String) {
    (format!("IDENTITY#{provider}#{subject}"), "IDENTITY".into())
}

/// A GraphQL persisted query, by its document's SHA-256 (hex).
pub fn persisted_query(hash: &str) -> (String, String) {
    (format!("PQ#{hash}"), "PQ".into())
}

/// One caller's counter in one throttle scope for the window starting at
/// `window_start` (epoch seconds).
pub fn throttle_window(scope: &str, caller: &str, window_start: i64) -> (String, String) {
    (format!("THROTTLE#{scope}#{caller}"), format!("W#{window_start}"))
}
