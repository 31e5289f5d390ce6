//! Password hashes: argon2id with the crate's defaults (OWASP's minimum:
//! 19 MiB, 2 passes), stored as a PHC string that carries its own salt and
//! parameters, so a later change of parameters still verifies old hashes.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};

use crate::{Error, Result};

pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|hash| hash.to_string()).map_err(Error::internal)
}

/// True if `password` matches `stored`. A malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as a real check when there is no user (or no
/// password) to check against, so timing does not tell whether a username
/// exists.
pub fn verify_against_nothing(password: &str) {
    static DECOY: LazyLock<Option<String>> = LazyLock::new(|| hash_password("decoy password, never matches").ok());
    if let Some(decoy) = DECOY.as_deref() {
        let _ = verify_password(password, decoy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password("correct horse", &a));
        assert!(verify_password("correct horse", &b));
        assert!(!verify_password("correct horse!", &a));
    }

    #[test]
    fn a_malformed_stored_hash_never_matches() {
        assert!(!verify_password("x", "not a phc string"));
        assert!(!verify_password("", ""));
    }
}
