//! Accounts: registering, signing in with a password, rotating and ending
//! logins, and the users other entry points show (GraphQL's authors). Social
//! sign-in ends here too ([`social`]): whichever way a person proves who
//! they are, the login it starts is the same.

pub mod email;
pub mod social;

use std::collections::HashMap;
use std::sync::Arc;

use domain::password::{hash_password, verify_against_nothing, verify_password};
use domain::user::{Credentials, Registration, User};
use domain::{Error, Result, timefmt};
use store::{LoginRepository, RefreshCheck, SocialRepository, Table, UserRepository};

use crate::tokens::{Principal, TokenService, TokenType};

/// What a sign-in or a refresh gives the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

/// The one answer to every failed password sign-in, whatever failed.
pub const BAD_CREDENTIALS: &str = "No active account found with the given credentials.";

#[derive(Clone)]
pub struct AccountService {
    users: UserRepository,
    logins: LoginRepository,
    social: SocialRepository,
    tokens: Arc<TokenService>,
}

impl AccountService {
    pub fn new(table: Table, tokens: Arc<TokenService>) -> Self {
        Self {
            users: UserRepository::new(table.clone()),
            logins: LoginRepository::new(table.clone()),
            social: SocialRepository::new(table),
            tokens,
        }
    }

    pub fn tokens(&self) -> &Arc<TokenService> {
        &self.tokens
    }

    /// A new user with a password; 409 when the username is taken in any
    /// letter case.
    pub async fn register(&self, registration: Registration) -> Result<User> {
        let date_joined = timefmt::now();
        let user = User {
            id: domain::ids::new_id_at(date_joined),
            username: registration.username,
            email: registration.email,
            email_verified: false,
            is_staff: false,
            date_joined,
        };
        let hash = hash_password(&registration.password)?;
        self.users.create(&user, Some(&hash)).await?;
        tracing::info!(user_id = %user.id, "user registered");
        Ok(user)
    }

    /// Checks a username and password and starts a login. An unknown user,
    /// a user without a password (social sign-in only) and a wrong password
    /// take the same time and get the same answer.
    pub async fn sign_in_with_password(&self, credentials: &Credentials) -> Result<TokenPair> {
        let stored = self.users.find_for_sign_in(&credentials.username).await?;
        let hash = stored.as_ref().and_then(|stored| stored.password_hash.as_deref());
        let user = match (stored.as_ref(), hash) {
            (Some(stored), Some(hash)) if verify_password(&credentials.password, hash) => &stored.user,
            (Some(_), Some(_)) => return Err(Error::NotAuthenticated(BAD_CREDENTIALS)),
            _ => {
                verify_against_nothing(&credentials.password);
                return Err(Error::NotAuthenticated(BAD_CREDENTIALS));
            }
        };
        self.start_login(user).await
    }

    /// A new login for `user` and its first token pair.
    pub async fn start_login(&self, user: &User) -> Result<TokenPair> {
        let (access, refresh) = self.tokens.sign_in(&self.logins, user).await?;
        Ok(TokenPair { access, refresh })
    }

    /// Trades a refresh token for a new pair; the one presented is used
    /// up, and presenting it again revokes the whole login.
    pub async fn refresh(&self, presented: &str) -> Result<TokenPair> {
        let claims = self.tokens.verify(presented, TokenType::Refresh)?;
        let login_id = claims.sid.clone().unwrap_or_default();
        let now = timefmt::now().unix_timestamp();
        let next = self.tokens.issue_refresh(&claims.sub, &login_id, now)?;
        match self.logins.rotate(&claims.jti, &next, now).await? {
            (RefreshCheck::Accepted, started_at_ms) => {
                let stored = self.users.get_stored(&claims.sub).await?.ok_or(Error::TokenNotValid)?;
                // The account revoked every login started before a password
                // reset or a takeover; this one is found out on its next use.
                if started_at_ms < stored.logins_revoked_at_ms {
                    self.logins.revoke_with_account(&login_id, now).await?;
                    tracing::warn!(user_id = %claims.sub, login_id = %login_id, "a login the account revoked came back");
                    return Err(Error::TokenNotValid);
                }
                let access = self.tokens.issue_access_for(&stored.user, now)?;
                Ok(TokenPair { access, refresh: next.token })
            }
            (outcome, _) => Err(refused(outcome, &claims.sub, &login_id)),
        }
    }

    /// Ends the login a refresh token belongs to.
    pub async fn logout(&self, presented: &str) -> Result<()> {
        let claims = self.tokens.verify(presented, TokenType::Refresh)?;
        let login_id = claims.sid.clone().unwrap_or_default();
        let now = timefmt::now().unix_timestamp();
        match self.logins.end(&login_id, &claims.jti, now).await? {
            RefreshCheck::Accepted => {
                tracing::info!(user_id = %claims.sub, login_id = %login_id, "signed out");
                Ok(())
            }
            outcome => Err(refused(outcome, &claims.sub, &login_id)),
        }
    }

    /// The caller, confirmed staff against the user as stored now (a token
    /// only claims it): 403 for anyone else. One read, made only for callers
    /// whose token claims staff.
    pub async fn confirm_staff(&self, caller: &Principal) -> Result<User> {
        confirm_staff(&self.users, caller).await
    }

    pub async fn user(&self, user_id: &str) -> Result<Option<User>> {
        self.users.get(user_id).await
    }

    /// Users by id, in one batched read; ids with no user are left out.
    pub async fn users(&self, user_ids: &[String]) -> Result<HashMap<String, User>> {
        self.users.get_many(user_ids).await
    }
}

/// The staff rule, for every service that offers staff something.
pub(crate) async fn confirm_staff(users: &UserRepository, caller: &Principal) -> Result<User> {
    if !caller.claims_staff {
        return Err(Error::PermissionDenied);
    }
    match users.get(&caller.user_id).await? {
        Some(user) if user.is_staff => Ok(user),
        _ => {
            tracing::warn!(user_id = %caller.user_id, "a staff claim the stored user no longer holds");
            Err(Error::PermissionDenied)
        }
    }
}

fn refused(outcome: RefreshCheck, user_id: &str, login_id: &str) -> Error {
    if outcome == RefreshCheck::Reused {
        tracing::warn!(user_id, login_id, "used refresh token presented again; login revoked");
    }
    Error::TokenNotValid
}
