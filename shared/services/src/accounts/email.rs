//! Account email, the API's side: asking the mailer for verification and
//! reset links, and spending their tokens. The mailer makes each token when
//! it sends (see `crate::email::OutgoingMail`), so none travels through the
//! queue; here a token is only ever checked, by the conditional write that
//! spends it.

use domain::account_token::parse_account_token;
use domain::mail::MailRequest;
use domain::password::hash_password;
use domain::user::{PasswordResetConfirmation, User};
use domain::{Error, Result, timefmt};
use store::{AccountTokenRepository, Table, UserRepository};

use crate::email::MailSender;

/// The one answer to a token that is not good, whatever is wrong with it.
pub const BAD_TOKEN: &str = "This link is invalid or has expired.";

#[derive(Debug, Clone)]
pub struct AccountEmailService<M> {
    users: UserRepository,
    tokens: AccountTokenRepository,
    mail: M,
}

impl<M: MailSender> AccountEmailService<M> {
    pub fn new(table: Table, mail: M) -> Self {
        Self { users: UserRepository::new(table.clone()), tokens: AccountTokenRepository::new(table), mail }
    }

    /// Asks for a verification email with a fresh link (the mailer's token
    /// voids the older one). 409 when the address is verified already.
    pub async fn request_verification(&self, user: &User) -> Result<()> {
        if user.email_verified {
            return Err(Error::conflict("This email address is already verified."));
        }
        let request = MailRequest::EmailVerification { user_id: user.id.clone(), request_id: domain::ids::new_id() };
        self.mail.send(&request).await?;
        tracing::info!(user_id = %user.id, "verification email requested");
        Ok(())
    }

    /// Spends a verification token: the user, now verified. After the
    /// first verification the mailer sends the welcome (once per user,
    /// however often it is asked).
    pub async fn verify(&self, token: &str) -> Result<User> {
        let presented = parse_account_token(token).ok_or_else(bad_token)?;
        if !self.tokens.verify_email(&presented, timefmt::now().unix_timestamp()).await? {
            return Err(bad_token());
        }
        let user = self.users.get(&presented.user_id).await?.ok_or_else(bad_token)?;
        tracing::info!(user_id = %user.id, "email verified");
        self.mail.send(&MailRequest::Welcome { user_id: user.id.clone() }).await?;
        Ok(user)
    }

    /// Asks for a reset email to whoever has `email`. The same work
    /// whether anyone does (one message on the queue; the mailer looks the
    /// address up), so neither the answer nor its timing tells.
    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        let request = MailRequest::PasswordReset { email: email.to_owned(), request_id: domain::ids::new_id() };
        self.mail.send(&request).await
    }

    /// Sets a new password with a reset token: the token spent, the
    /// password replaced, every login of the user revoked and the email
    /// counted as verified, all in one write. The password was checked
    /// before (a bad one leaves the token good).
    pub async fn reset_password(&self, confirmation: &PasswordResetConfirmation) -> Result<()> {
        let presented = parse_account_token(&confirmation.token);
        // Hashed whatever the token, so a made-up one costs what a real
        // one does.
        let hash = hash_password(&confirmation.password)?;
        let presented = presented.ok_or_else(bad_token)?;
        let now_ms = timefmt::unix_ms(timefmt::now());
        if !self.tokens.reset_password(&presented, &hash, now_ms).await? {
            return Err(bad_token());
        }
        tracing::info!(user_id = %presented.user_id, "password reset; every login revoked");
        Ok(())
    }
}

fn bad_token() -> Error {
    Error::BadRequest(BAD_TOKEN.into())
}
