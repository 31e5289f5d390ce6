//! Users: what registration and sign-in accept, and what clients see.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::validate::{is_valid_email, length_between, required_string};
use crate::{FieldErrors, Result};

/// Who is calling, as proven by a valid access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub username: String,
    /// The token says the user was staff when it was issued. A claim only:
    /// what staff may do is confirmed against the user as stored now.
    pub claims_staff: bool,
}

/// A freshly issued refresh token and what the store must remember of it.
#[derive(Debug, Clone)]
pub struct IssuedRefresh {
    pub token: String,
    pub jti: String,
    pub login_id: String,
    pub expires_at: i64,
}

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 150;
pub const PASSWORD_MIN: usize = 8;
/// Hashing cost grows with input; nobody types more than this.
pub const PASSWORD_MAX: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    #[schema(example = "01JD4Z6Q3V8M2N5P7R9S1T3W5X")]
    pub id: String,
    #[schema(example = "alice")]
    pub username: String,
    #[schema(example = "alice@example.com", format = Email)]
    pub email: String,
    /// The person proved they read this address: by its verification link,
    /// a password reset link, or a provider that vouches for it.
    pub email_verified: bool,
    /// Staff keep the catalog and see and refund every order. Only an
    /// operations command (`make staff`) makes someone staff.
    pub is_staff: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub date_joined: OffsetDateTime,
}

/// The case-folded form that makes usernames unique whatever their case.
pub fn username_key(username: &str) -> String {
    username.to_lowercase()
}

fn is_username_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_')
}

/// `POST /auth/register` as sent: every field optional so that all missing
/// ones are reported together.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RegistrationInput {
    /// Letters, digits and `@.+-_`; unique in any letter case.
    #[schema(value_type = String, required = true, min_length = 3, max_length = 150, pattern = r"^[\w.@+-]+$", example = "alice")]
    pub username: Option<String>,
    #[schema(value_type = String, required = true, format = Email, max_length = 254, example = "alice@example.com")]
    pub email: Option<String>,
    /// At least 8 characters, not all digits.
    #[schema(value_type = String, required = true, format = Password, min_length = 8, max_length = 1024, pattern = r"\D", write_only)]
    pub password: Option<String>,
}

/// A registration whose every field passed the contract's rules.
#[derive(Debug)]
pub struct Registration {
    pub username: String,
    pub email: String,
    pub password: String,
}

impl RegistrationInput {
    pub fn validate(self) -> Result<Registration> {
        let mut errors = FieldErrors::new();
        let username = required_string(&mut errors, "username", self.username, false);
        if errors.get("username").is_none() {
            length_between(&mut errors, "username", &username, USERNAME_MIN, USERNAME_MAX);
            if !username.chars().all(is_username_char) {
                errors.add(
                    "username",
                    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
                );
            }
        }
        let email = required_string(&mut errors, "email", self.email, false).trim().to_owned();
        if errors.get("email").is_none() && !is_valid_email(&email) {
            errors.add("email", "Enter a valid email address.");
        }
        let password = new_password(&mut errors, self.password);
        errors.into_result(Registration { username, email: normalize_email(&email), password })
    }
}

/// A password someone chooses (registering, resetting), checked against
/// the contract's rules under `password`.
fn new_password(errors: &mut FieldErrors, password: Option<String>) -> String {
    let password = required_string(errors, "password", password, false);
    if errors.get("password").is_none() {
        let length = password.chars().count();
        if length < PASSWORD_MIN {
            errors.add(
                "password",
                format!("This password is too short. It must contain at least {PASSWORD_MIN} characters."),
            );
        } else if length > PASSWORD_MAX {
            errors.add("password", format!("Ensure this field has no more than {PASSWORD_MAX} characters."));
        }
        if password.chars().all(|c| c.is_ascii_digit()) {
            errors.add("password", "This password is entirely numeric.");
        }
    }
    password
}

/// `POST /auth/email/verify` as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EmailVerificationInput {
    /// The `token` of the verification link's query.
    #[schema(value_type = String, required = true, min_length = 1)]
    pub token: Option<String>,
}

impl EmailVerificationInput {
    pub fn validate(self) -> Result<String> {
        let mut errors = FieldErrors::new();
        let token = required_string(&mut errors, "token", self.token, false);
        errors.into_result(token)
    }
}

/// `POST /auth/password/reset` as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordResetInput {
    #[schema(value_type = String, required = true, format = Email, max_length = 254, example = "alice@example.com")]
    pub email: Option<String>,
}

impl PasswordResetInput {
    /// The address, normalised as registration keeps it.
    pub fn validate(self) -> Result<String> {
        let mut errors = FieldErrors::new();
        let email = required_string(&mut errors, "email", self.email, false).trim().to_owned();
        if errors.get("email").is_none() && !is_valid_email(&email) {
            errors.add("email", "Enter a valid email address.");
        }
        errors.into_result(normalize_email(&email))
    }
}

/// `POST /auth/password/reset/confirm` as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordResetConfirmInput {
    /// The `token` of the reset link's query.
    #[schema(value_type = String, required = true, min_length = 1)]
    pub token: Option<String>,
    /// The new password: the registration's rules.
    #[schema(value_type = String, required = true, format = Password, min_length = 8, max_length = 1024, pattern = r"\D", write_only)]
    pub password: Option<String>,
}

/// A reset confirmation whose password passed the rules.
#[derive(Debug)]
pub struct PasswordResetConfirmation {
    pub token: String,
    pub password: String,
}

impl PasswordResetConfirmInput {
    pub fn validate(self) -> Result<PasswordResetConfirmation> {
        let mut errors = FieldErrors::new();
        let token = required_string(&mut errors, "token", self.token, false);
        let password = new_password(&mut errors, self.password);
        errors.into_result(PasswordResetConfirmation { token, password })
    }
}

/// The domain part of an address is case-insensitive; the local part is
/// the mailbox owner's business and is kept as typed.
pub fn normalize_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => email.to_owned(),
    }
}

/// `POST /auth/token` as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CredentialsInput {
    #[schema(value_type = String, required = true, min_length = 1, pattern = r"\S", example = "alice")]
    pub username: Option<String>,
    #[schema(value_type = String, required = true, format = Password, min_length = 1, pattern = r"\S", write_only)]
    pub password: Option<String>,
}

#[derive(Debug)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl CredentialsInput {
    pub fn validate(self) -> Result<Credentials> {
        let mut errors = FieldErrors::new();
        let username = required_string(&mut errors, "username", self.username, false);
        let password = required_string(&mut errors, "password", self.password, false);
        errors.into_result(Credentials { username, password })
    }
}

/// `POST /auth/token/refresh` and `POST /auth/logout` as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RefreshInput {
    /// A refresh token from `POST /auth/token` or the last refresh.
    #[schema(value_type = String, required = true, min_length = 1, pattern = r"\S")]
    pub refresh: Option<String>,
}

impl RefreshInput {
    pub fn validate(self) -> Result<String> {
        let mut errors = FieldErrors::new();
        let refresh = required_string(&mut errors, "refresh", self.refresh, false);
        errors.into_result(refresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn input(username: Option<&str>, email: Option<&str>, password: Option<&str>) -> RegistrationInput {
        RegistrationInput {
            username: username.map(str::to_owned),
            email: email.map(str::to_owned),
            password: password.map(str::to_owned),
        }
    }

    fn errors_of(input: RegistrationInput) -> FieldErrors {
        match input.validate() {
            Err(Error::Validation(errors)) => errors,
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    #[test]
    fn a_good_registration_passes_and_normalizes_the_email_domain() {
        let r = input(Some("Alice_1.b+c@d-e"), Some("Alice@Example.COM"), Some("s3cret-pass")).validate().unwrap();
        assert_eq!(r.username, "Alice_1.b+c@d-e");
        assert_eq!(r.email, "Alice@example.com");
    }

    #[test]
    fn a_reset_password_keeps_the_registration_rules() {
        let confirm = |password: &str| {
            PasswordResetConfirmInput { token: Some("t".into()), password: Some(password.into()) }.validate()
        };
        assert_eq!(confirm("n3w-passw0rd").unwrap().password, "n3w-passw0rd");
        for bad in ["short", "12345678901"] {
            match confirm(bad) {
                Err(Error::Validation(errors)) => assert!(errors.get("password").is_some(), "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let missing = PasswordResetConfirmInput { token: None, password: None }.validate();
        assert!(
            matches!(missing, Err(Error::Validation(e)) if e.get("token").is_some() && e.get("password").is_some())
        );
        assert_eq!(
            PasswordResetInput { email: Some(" Ann@Example.ORG ".into()) }.validate().unwrap(),
            "Ann@example.org"
        );
        assert!(PasswordResetInput { email: Some("nope".into()) }.validate().is_err());
    }

    #[test]
    fn every_missing_field_is_reported_at_once() {
        let errors = errors_of(input(None, None, None));
        for field in ["username", "email", "password"] {
            assert_eq!(errors.get(field).unwrap(), ["This field is required."], "{field}");
        }
    }

    #[test]
    fn username_rules() {
        assert!(errors_of(input(Some("ab"), Some("a@b.co"), Some("password1"))).get("username").is_some());
        assert!(errors_of(input(Some(&"a".repeat(151)), Some("a@b.co"), Some("password1"))).get("username").is_some());
        assert!(errors_of(input(Some("has space"), Some("a@b.co"), Some("password1"))).get("username").is_some());
        assert!(errors_of(input(Some("semi;colon"), Some("a@b.co"), Some("password1"))).get("username").is_some());
        assert!(input(Some(&"a".repeat(150)), Some("a@b.co"), Some("password1")).validate().is_ok());
        assert!(input(Some("Ünïcödé"), Some("a@b.co"), Some("password1")).validate().is_ok());
    }

    #[test]
    fn password_rules() {
        let short = errors_of(input(Some("alice"), Some("a@b.co"), Some("short")));
        assert_eq!(short.get("password").unwrap().len(), 1);
        let numeric = errors_of(input(Some("alice"), Some("a@b.co"), Some("1234567890")));
        assert_eq!(numeric.get("password").unwrap(), ["This password is entirely numeric."]);
        assert!(input(Some("alice"), Some("a@b.co"), Some("12345678a")).validate().is_ok());
    }

    #[test]
    fn usernames_are_unique_whatever_their_case() {
        assert_eq!(username_key("AlIcE"), username_key("alice"));
    }
}

/// What a provider proved about the person signing in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    pub subject: String,
    pub email: Option<String>,
    /// The provider vouches for the email (OIDC `email_verified`; GitHub's
    /// primary verified address).
    pub email_verified: bool,
    /// What to derive a username from (GitHub login, OIDC
    /// `preferred_username`); else the email's local part serves.
    pub username_hint: Option<String>,
}

/// A social sign-in started and not yet finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    pub state: String,
    pub provider: String,
    pub redirect_uri: String,
    /// OpenID Connect providers only.
    pub nonce: Option<String>,
    pub code_verifier: String,
    /// Unix seconds.
    pub expires_at: i64,
}
