//! What the mailer and SES's feedback need. Every email is asked for as a
//! typed [`MailRequest`] on the one mail queue ([`MailSender`]); the mailer
//! claims each before sending it (one sender at a time, a lease that lapses
//! if the sender dies), never sends to an address on the suppression list,
//! and marks it sent, suppressed or let go. A receipt's claim lives on its
//! order ([`ReceiptService`]); every other email's in the mail log
//! ([`OutgoingMail`]). SES's bounces and complaints keep the list.

use std::future::Future;

use domain::account_token::{AccountTokenKind, new_account_token};
use domain::email::normalise_address;
use domain::mail::MailRequest;
use domain::order::Order;
use domain::user::User;
use domain::{Result, timefmt};
use store::{AccountTokenRepository, MailLogRepository, OrderRepository, SuppressionRepository, Table, UserRepository};

pub use store::mail_log::{MailClaim, MailEnd};
pub use store::orders::ReceiptClaim;
pub use store::suppressions::AddressEvent;

/// Where every email is asked for: the mailer's queue.
pub trait MailSender: Send + Sync {
    fn send(&self, request: &MailRequest) -> impl Future<Output = Result<()>> + Send;
}

#[cfg(feature = "sqs")]
pub use store::mail_queue::MailQueue;

#[cfg(feature = "sqs")]
impl MailSender for store::mail_queue::MailQueue {
    async fn send(&self, request: &MailRequest) -> Result<()> {
        store::mail_queue::MailQueue::send(self, request).await
    }
}

/// How long an email's once is kept: longer than any message can live in
/// the queue and its dead-letter queue (14 days), so no redelivery sends
/// it twice.
const ONCE_KEPT: time::Duration = time::Duration::days(30);

#[derive(Debug, Clone)]
pub struct ReceiptService {
    orders: OrderRepository,
    suppressions: SuppressionRepository,
}

impl ReceiptService {
    pub fn new(table: Table) -> Self {
        Self { orders: OrderRepository::new(table.clone()), suppressions: SuppressionRepository::new(table) }
    }

    /// Claims the order's receipt for `claim_id` until `until` (unix
    /// seconds); one conditional write that returns the order with its
    /// lines, or says why not.
    pub async fn claim(&self, order_id: &str, claim_id: &str, now: i64, until: i64) -> Result<ReceiptClaim> {
        self.orders.claim_receipt(order_id, claim_id, now, until).await
    }

    /// Whether mail to `email` must not be sent. An address that does not
    /// normalise names no mailbox the list could hold.
    pub async fn is_suppressed(&self, email: &str) -> Result<bool> {
        is_suppressed(&self.suppressions, email).await
    }

    /// False when the claim lapsed before the mark.
    pub async fn mark_sent(&self, order_id: &str, claim_id: &str, message_id: &str) -> Result<bool> {
        self.orders.mark_receipt_sent(order_id, claim_id, message_id).await
    }

    /// False when the claim lapsed before the mark.
    pub async fn mark_suppressed(&self, order_id: &str, claim_id: &str) -> Result<bool> {
        self.orders.mark_receipt_suppressed(order_id, claim_id).await
    }

    /// Lets a claim go after a failed send, so the next delivery retries.
    pub async fn release(&self, order_id: &str, claim_id: &str) -> Result<()> {
        self.orders.release_receipt_claim(order_id, claim_id).await
    }
}

/// An email other than a receipt, ready to write: who it is to and what it
/// says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Letter {
    /// `refunded` given back by this refund, `total` so far.
    Refund {
        order: Box<Order>,
        refunded: i64,
        total: i64,
    },
    /// A link with a fresh token proving the address.
    EmailVerification {
        user: User,
        token: String,
    },
    /// A link with a fresh token setting a new password.
    PasswordReset {
        user: User,
        token: String,
    },
    Welcome {
        user: User,
    },
}

impl Letter {
    pub fn to(&self) -> &str {
        match self {
            Self::Refund { order, .. } => &order.email,
            Self::EmailVerification { user, .. } | Self::PasswordReset { user, .. } | Self::Welcome { user } => {
                &user.email
            }
        }
    }
}

/// Who an email goes to, before anything is made for it.
#[derive(Debug, Clone)]
enum Addressee {
    Order { order: Box<Order>, total: i64 },
    User { user: User, token: Option<AccountTokenKind> },
}

/// Every email but receipts: claimed once in the mail log, addressed from
/// the table as it stands when sent, checked against the suppression list,
/// and only then given a token (so a suppressed or vanished address never
/// gets one made).
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    log: MailLogRepository,
    suppressions: SuppressionRepository,
    users: UserRepository,
    orders: OrderRepository,
    tokens: AccountTokenRepository,
}

/// What preparing an email came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    Letter(Letter),
    /// The address is on the suppression list: nothing is sent.
    Suppressed,
    /// Nobody to write to: no user has the address, the email is verified
    /// already, the user or order is gone.
    NothingToSend,
}

impl OutgoingMail {
    pub fn new(table: Table) -> Self {
        Self {
            log: MailLogRepository::new(table.clone()),
            suppressions: SuppressionRepository::new(table.clone()),
            users: UserRepository::new(table.clone()),
            orders: OrderRepository::new(table.clone()),
            tokens: AccountTokenRepository::new(table),
        }
    }

    /// Claims `request`'s send for `claim_id` until `until` (unix seconds).
    pub async fn claim(&self, request: &MailRequest, claim_id: &str, now: i64, until: i64) -> Result<MailClaim> {
        let keep_until = (!request.once_for_ever()).then(|| now + ONCE_KEPT.whole_seconds());
        self.log.claim(&request.once_key(), claim_id, now, until, keep_until).await
    }

    /// The letter `request` asks for, as the table stands now.
    pub async fn prepare(&self, request: &MailRequest) -> Result<Prepared> {
        let Some(addressee) = self.addressee(request).await? else { return Ok(Prepared::NothingToSend) };
        let to = match &addressee {
            Addressee::Order { order, .. } => &order.email,
            Addressee::User { user, .. } => &user.email,
        };
        if is_suppressed(&self.suppressions, to).await? {
            return Ok(Prepared::Suppressed);
        }
        let letter = match addressee {
            Addressee::Order { order, total } => Letter::Refund { refunded: order.refunded_by(total), total, order },
            Addressee::User { user, token: Some(kind) } => {
                let token = self.issue_token(&user, kind).await?;
                match kind {
                    AccountTokenKind::EmailVerification => Letter::EmailVerification { user, token },
                    AccountTokenKind::PasswordReset => Letter::PasswordReset { user, token },
                }
            }
            Addressee::User { user, token: None } => Letter::Welcome { user },
        };
        Ok(Prepared::Letter(letter))
    }

    async fn addressee(&self, request: &MailRequest) -> Result<Option<Addressee>> {
        Ok(match request {
            MailRequest::Receipt { .. } => None,
            MailRequest::Refund { order_id, refunded_total, .. } => self
                .orders
                .get(order_id)
                .await?
                .map(|order| Addressee::Order { order: Box::new(order), total: *refunded_total }),
            MailRequest::EmailVerification { user_id, .. } => {
                let user = self.users.get(user_id).await?.filter(|user| !user.email_verified);
                user.map(|user| Addressee::User { user, token: Some(AccountTokenKind::EmailVerification) })
            }
            MailRequest::PasswordReset { email, .. } => {
                let user = self.users.find_by_email(email).await?;
                user.map(|user| Addressee::User { user, token: Some(AccountTokenKind::PasswordReset) })
            }
            MailRequest::Welcome { user_id } => {
                let user = self.users.get(user_id).await?.filter(|user| user.email_verified);
                user.map(|user| Addressee::User { user, token: None })
            }
        })
    }

    /// A new token of `kind` for `user`; the older one is void from now.
    async fn issue_token(&self, user: &User, kind: AccountTokenKind) -> Result<String> {
        let (token, hash) = new_account_token(&user.id);
        let expires_at = (timefmt::now() + kind.lifetime()).unix_timestamp();
        self.tokens.issue(&user.id, kind, &hash, expires_at).await?;
        Ok(token)
    }

    /// Records how the send ended; false when the claim lapsed first.
    pub async fn finish(
        &self,
        request: &MailRequest,
        claim_id: &str,
        end: MailEnd,
        message_id: Option<&str>,
    ) -> Result<bool> {
        self.log.finish(&request.once_key(), claim_id, end, message_id).await
    }

    /// Lets a claim go after a failed send, so the next delivery retries.
    pub async fn release(&self, request: &MailRequest, claim_id: &str) -> Result<()> {
        self.log.release(&request.once_key(), claim_id).await
    }
}

/// Whether mail to `email` must not be sent. An address that does not
/// normalise names no mailbox the list could hold.
async fn is_suppressed(suppressions: &SuppressionRepository, email: &str) -> Result<bool> {
    match normalise_address(email) {
        Some(address) => suppressions.is_suppressed(&address).await,
        None => Ok(false),
    }
}

#[derive(Debug, Clone)]
pub struct SuppressionList {
    suppressions: SuppressionRepository,
}

impl SuppressionList {
    pub fn new(table: Table) -> Self {
        Self { suppressions: SuppressionRepository::new(table) }
    }

    /// Applies one SES notification to its recipients, once: false when
    /// this notification was applied before.
    pub async fn apply(&self, notification_id: &str, event: AddressEvent, addresses: &[String]) -> Result<bool> {
        self.suppressions.apply(notification_id, event, addresses).await
    }
}
