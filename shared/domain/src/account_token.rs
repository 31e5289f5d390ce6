//! The tokens account emails carry: random, single use, kept only as a
//! hash, one live token per user and kind.
//!
//! A token is `<user id>.<32 random bytes, base64url>`: the id says whose
//! token to look up (one item per user and kind, so a newer token replaces,
//! and so voids, the older one), and the 256 random bits are the secret.
//! The store keeps the SHA-256 of the whole token, compared by the
//! condition of the write that spends it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountTokenKind {
    EmailVerification,
    PasswordReset,
}

impl AccountTokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailVerification => "email_verification",
            Self::PasswordReset => "password_reset",
        }
    }

    /// How long a token of this kind is good for.
    pub fn lifetime(self) -> time::Duration {
        match self {
            Self::EmailVerification => time::Duration::hours(24),
            Self::PasswordReset => time::Duration::hours(1),
        }
    }
}

/// A new token for `user_id`, and the hash to store in its place.
pub fn new_account_token(user_id: &str) -> (String, String) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{user_id}.{}", URL_SAFE_NO_PAD.encode(secret));
    let hash = hash_account_token(&token);
    (token, hash)
}

pub fn hash_account_token(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// A presented token as the store needs it: whose, and its hash. `None` for
/// anything that cannot be one of ours (which is then refused like a token
/// that was spent, without a read).
pub fn parse_account_token(token: &str) -> Option<PresentedToken> {
    let (user_id, secret) = token.split_once('.')?;
    let secret_ok = secret.len() == 43 && URL_SAFE_NO_PAD.decode(secret).is_ok_and(|bytes| bytes.len() == 32);
    (crate::ids::is_plausible_id(user_id) && secret_ok)
        .then(|| PresentedToken { user_id: user_id.to_owned(), hash: hash_account_token(token) })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedToken {
    pub user_id: String,
    pub hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_parses_back_to_its_user_and_stored_hash() {
        let user_id = crate::ids::new_id();
        let (token, hash) = new_account_token(&user_id);
        let presented = parse_account_token(&token).unwrap();
        assert_eq!(presented, PresentedToken { user_id, hash: hash.clone() });
        assert!(!hash.contains(&token) && hash.len() == 43, "only the hash is kept");
        let (other, _) = new_account_token(&presented.user_id);
        assert_ne!(token, other);
    }

    #[test]
    fn anything_else_is_not_a_token() {
        let user_id = crate::ids::new_id();
        let (token, _) = new_account_token(&user_id);
        for bad in ["", "abc", ".", &format!("{user_id}."), &format!("{user_id}.short"), &token[..token.len() - 1]] {
            assert_eq!(parse_account_token(bad), None, "{bad:?}");
        }
        let (_, secret) = token.split_once('.').unwrap();
        assert_eq!(parse_account_token(&format!("../x.{secret}")), None);
    }
}
