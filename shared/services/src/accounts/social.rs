//! From a provider's identity to our user: one user per `(provider,
//! subject)`. A first sign-in links to the user with the same email only
//! when the provider vouches for the email (else anyone could claim an
//! address at a lax provider and take the account: 409); otherwise it makes
//! a user with a unique username and no password, in the same transaction
//! as the identity. The pending sign-ins (state, nonce, PKCE verifier) are
//! kept here too.

use domain::email::normalise_address;
use domain::user::{PendingSignIn, ProviderIdentity, USERNAME_MAX, USERNAME_MIN, User};
use domain::{Error, Result, timefmt};

use super::{AccountService, TokenPair};

/// Tries at a username before giving up (each a read, then the write).
const USERNAME_ATTEMPTS: usize = 5;

/// Company sign-on: the email must be verified and of an allowed domain.
pub fn check_domain(identity: &ProviderIdentity, domains: &[String]) -> Result<()> {
    if domains.is_empty() {
        return Ok(());
    }
    let domain = identity
        .email
        .as_deref()
        .and_then(|e| e.rsplit_once('@'))
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    if identity.email_verified && domains.contains(&domain) {
        Ok(())
    } else {
        tracing::warn!(domain = %domain, "company sign-on from a domain not allowed");
        Err(Error::PermissionDenied)
    }
}

/// A social sign-in that ended with one of our users.
#[derive(Debug)]
pub struct SocialSignIn {
    pub tokens: TokenPair,
    pub user: User,
    /// This sign-in made the account.
    pub created: bool,
}

impl AccountService {
    /// Keeps a sign-in that was started until the provider sends the
    /// person back.
    pub async fn save_pending_sign_in(&self, pending: &PendingSignIn) -> Result<()> {
        self.social.save_pending(pending).await
    }

    /// Takes a pending sign-in of `provider` back, once, before it expires.
    pub async fn take_pending_sign_in(&self, state: &str, provider: &str) -> Result<Option<PendingSignIn>> {
        self.social.take_pending(state, provider, timefmt::now().unix_timestamp()).await
    }

    /// Signs in the person a provider vouched for: their user found, linked
    /// or made, and a new login.
    pub async fn sign_in_with_provider(&self, provider: &str, identity: &ProviderIdentity) -> Result<SocialSignIn> {
        let (user, created) = self.find_or_create(provider, identity).await?;
        let tokens = self.start_login(&user).await?;
        tracing::info!(provider, user_id = %user.id, created, "social sign-in");
        Ok(SocialSignIn { tokens, user, created })
    }

    /// The user for this identity, and whether this sign-in made it.
    async fn find_or_create(&self, provider: &str, identity: &ProviderIdentity) -> Result<(User, bool)> {
        let (social, users) = (&self.social, &self.users);
        if let Some(user_id) = social.user_of(provider, &identity.subject).await? {
            let user = users.get(&user_id).await?.ok_or_else(|| Error::internal("an identity's user is gone"))?;
            return Ok((user, false));
        }
        let email = identity
            .email
            .as_deref()
            .and_then(normalise_address)
            .ok_or_else(|| Error::BadRequest("The provider gave no email address.".into()))?;
        if let Some(existing) = users.find_by_email(&email).await? {
            if !identity.email_verified {
                return Err(Error::conflict(
                    "An account with this email exists; sign in to it first, or use a provider that verifies the email.",
                ));
            }
            if !existing.email_verified {
                // Whoever registered this account never proved the address;
                // the provider just did. The registration's password and
                // logins go before the link (no pre-hijacking).
                let now_ms = timefmt::unix_ms(timefmt::now());
                if social.link_taking_over(provider, &identity.subject, &existing.id, now_ms).await? {
                    tracing::warn!(
                        provider,
                        user_id = %existing.id,
                        "identity linked by verified email to an unverified account: its password removed and its logins revoked"
                    );
                    return Ok((User { email_verified: true, ..existing }, false));
                }
            } else if social.link(provider, &identity.subject, &existing.id).await? {
                tracing::info!(provider, user_id = %existing.id, "identity linked by verified email");
                return Ok((existing, false));
            }
            // A concurrent first sign-in linked it: that link decides.
            return self.linked_meanwhile(provider, identity).await;
        }
        let base = username_base(identity, &email);
        for attempt in 0..USERNAME_ATTEMPTS {
            let username = candidate(&base, attempt);
            if users.username_taken(&username).await? {
                continue;
            }
            let user = User {
                id: domain::ids::new_id(),
                username,
                email: email.clone(),
                email_verified: identity.email_verified,
                is_staff: false,
                date_joined: timefmt::now(),
            };
            let identity_write = social.identity_write(provider, &identity.subject, &user.id)?;
            if users.create_with(&user, None, vec![identity_write]).await? {
                tracing::info!(provider, user_id = %user.id, "user created by social sign-in");
                return Ok((user, true));
            }
            // The username went meanwhile, or the identity did: look again.
            if social.user_of(provider, &identity.subject).await?.is_some() {
                return self.linked_meanwhile(provider, identity).await;
            }
        }
        Err(Error::conflict("Could not find a free username; try again."))
    }

    async fn linked_meanwhile(&self, provider: &str, identity: &ProviderIdentity) -> Result<(User, bool)> {
        let (social, users) = (&self.social, &self.users);
        let user_id = social
            .user_of(provider, &identity.subject)
            .await?
            .ok_or_else(|| Error::ServiceUnavailable { detail: "sign-in raced another".into(), retry_after_secs: 1 })?;
        let user = users.get(&user_id).await?.ok_or_else(|| Error::internal("an identity's user is gone"))?;
        Ok((user, false))
    }
}

/// Letters, digits and `@.+-_` from the provider's name for the person
/// (GitHub login, OIDC `preferred_username`), else the email's local part;
/// at least 3 characters.
pub fn username_base(identity: &ProviderIdentity, email: &str) -> String {
    let clean = |raw: &str| -> String {
        raw.chars().filter(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_')).collect()
    };
    let from_hint = identity.username_hint.as_deref().map(clean).unwrap_or_default();
    let base = if from_hint.chars().count() >= USERNAME_MIN {
        from_hint
    } else {
        clean(email.split('@').next().unwrap_or_default())
    };
    let base: String = base.chars().take(USERNAME_MAX - 8).collect();
    if base.chars().count() >= USERNAME_MIN { base } else { format!("user{base}") }
}

/// The base, then the base with a number (2, 3, ...), then with a random
/// suffix: a name others took is not fought over for long.
fn candidate(base: &str, attempt: usize) -> String {
    match attempt {
        0 => base.to_owned(),
        1..=2 => format!("{base}{}", attempt + 1),
        _ => format!("{base}-{}", &domain::ids::new_id()[20..].to_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(hint: Option<&str>) -> ProviderIdentity {
        ProviderIdentity {
            subject: "s".into(),
            email: Some("ann.b@example.com".into()),
            email_verified: true,
            username_hint: hint.map(str::to_owned),
        }
    }

    #[test]
    fn usernames_come_from_the_provider_or_the_email() {
        assert_eq!(username_base(&identity(Some("octo-cat")), "ann.b@example.com"), "octo-cat");
        assert_eq!(username_base(&identity(Some("Ann Bee")), "ann.b@example.com"), "AnnBee");
        assert_eq!(username_base(&identity(None), "ann.b@example.com"), "ann.b");
        assert_eq!(username_base(&identity(Some("!")), "ab@example.com"), "userab");
        assert_eq!(candidate("ann", 0), "ann");
        assert_eq!(candidate("ann", 1), "ann2");
        assert!(candidate("ann", 4).starts_with("ann-"));
    }

    #[test]
    fn company_sign_on_holds_to_its_domains() {
        let domains = vec!["company.example".to_owned()];
        let mut who = identity(None);
        who.email = Some("ann@Company.Example".into());
        assert!(check_domain(&who, &domains).is_ok());
        who.email = Some("ann@elsewhere.example".into());
        assert!(matches!(check_domain(&who, &domains), Err(Error::PermissionDenied)));
        who.email = Some("ann@company.example".into());
        who.email_verified = false;
        assert!(check_domain(&who, &domains).is_err());
        assert!(check_domain(&who, &[]).is_ok());
    }
}
