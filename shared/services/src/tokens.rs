//! JWT issue and verify: HS256 with the key from the environment, claims
//! `sub, exp, iat, jti, iss, aud, token_type`, plus `username` on access
//! tokens (usernames never change, and carrying it lets a request name its
//! author without reading the user) and `sid`, the login, on refresh tokens.
//! Any failure is the same `token_not_valid`.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use domain::{Error, Result};
use platform::config::TokenSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub token_type: TokenType,
    /// The login (refresh-token family) a refresh token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// An access token of a staff user (absent otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub staff: bool,
}

pub use domain::user::{IssuedRefresh, Principal};

pub struct TokenService {
    settings: TokenSettings,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl TokenService {
    /// Signs `user` in: a new login, recorded through `logins`, and its
    /// first token pair `(access, refresh)`, as `POST /auth/token` and
    /// social sign-in give.
    pub async fn sign_in(
        &self,
        logins: &store::LoginRepository,
        user: &domain::user::User,
    ) -> Result<(String, String)> {
        let now = domain::timefmt::now().unix_timestamp();
        let login_id = domain::ids::new_id();
        let refresh = self.issue_refresh(&user.id, &login_id, now)?;
        logins.start(&user.id, &refresh, now).await?;
        let access = self.issue_access_for(user, now)?;
        tracing::info!(user_id = %user.id, login_id = %login_id, "signed in");
        Ok((access, refresh.token))
    }

    pub fn new(settings: TokenSettings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // Tokens are issued and checked by the same clock; no grace period.
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(&settings.signing_key),
            decoding: DecodingKey::from_secret(&settings.signing_key),
            validation,
            settings,
        }
    }

    pub fn access_lifetime_secs(&self) -> i64 {
        self.settings.access_lifetime.as_secs() as i64
    }

    /// An access token of a user who is not staff.
    pub fn issue_access(&self, user_id: &str, username: &str, now: i64) -> Result<String> {
        self.access_token(user_id, username, false, now)
    }

    /// An access token for `user` as stored, staff claim included.
    pub fn issue_access_for(&self, user: &domain::user::User, now: i64) -> Result<String> {
        self.access_token(&user.id, &user.username, user.is_staff, now)
    }

    fn access_token(&self, user_id: &str, username: &str, staff: bool, now: i64) -> Result<String> {
        let mut claims = self.claims(user_id, TokenType::Access, now, self.settings.access_lifetime.as_secs(), None);
        claims.username = Some(username.to_owned());
        claims.staff = staff;
        self.sign(&claims)
    }

    /// The caller an access token proves.
    pub fn authenticate(&self, token: &str) -> Result<Principal> {
        let claims = self.verify(token, TokenType::Access)?;
        let username = claims.username.filter(|u| !u.is_empty()).ok_or(Error::TokenNotValid)?;
        Ok(Principal { user_id: claims.sub, username, claims_staff: claims.staff })
    }

    /// A refresh token for `login_id`; each one carries a fresh `jti` that
    /// the login record remembers as its only valid one.
    pub fn issue_refresh(&self, user_id: &str, login_id: &str, now: i64) -> Result<IssuedRefresh> {
        let claims = self.claims(
            user_id,
            TokenType::Refresh,
            now,
            self.settings.refresh_lifetime.as_secs(),
            Some(login_id.to_owned()),
        );
        Ok(IssuedRefresh {
            token: self.sign(&claims)?,
            jti: claims.jti,
            login_id: login_id.to_owned(),
            expires_at: claims.exp,
        })
    }

    /// Checks signature, algorithm, expiry, issuer, audience and type.
    pub fn verify(&self, token: &str, expected: TokenType) -> Result<Claims> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|_| Error::TokenNotValid)?;
        let claims = data.claims;
        if claims.token_type != expected || claims.jti.is_empty() || claims.sub.is_empty() {
            return Err(Error::TokenNotValid);
        }
        if expected == TokenType::Refresh && claims.sid.as_deref().is_none_or(str::is_empty) {
            return Err(Error::TokenNotValid);
        }
        Ok(claims)
    }

    fn claims(&self, user_id: &str, token_type: TokenType, now: i64, lifetime: u64, sid: Option<String>) -> Claims {
        Claims {
            sub: user_id.to_owned(),
            iat: now,
            exp: now + lifetime as i64,
            jti: ulid::Ulid::new().to_string(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            token_type,
            sid,
            username: None,
            staff: false,
        }
    }

    fn sign(&self, claims: &Claims) -> Result<String> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding).map_err(Error::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use std::time::Duration;

    fn settings(key: &str) -> TokenSettings {
        TokenSettings {
            signing_key: key.as_bytes().to_vec(),
            issuer: "iss-test".into(),
            audience: "aud-test".into(),
            access_lifetime: Duration::from_secs(300),
            refresh_lifetime: Duration::from_secs(3600),
        }
    }

    fn service() -> TokenService {
        TokenService::new(settings("0123456789abcdef0123456789abcdef"))
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn access_tokens_round_trip() {
        let tokens = service();
        let token = tokens.issue_access("user-1", "alice", now()).unwrap();
        let claims = tokens.verify(&token, TokenType::Access).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.token_type, claims.exp - claims.iat),
            ("user-1", TokenType::Access, 300)
        );
        assert_eq!((claims.iss.as_str(), claims.aud.as_str()), ("iss-test", "aud-test"));
        assert_eq!(
            tokens.authenticate(&token).unwrap(),
            Principal { user_id: "user-1".into(), username: "alice".into(), claims_staff: false }
        );
    }

    #[test]
    fn refresh_tokens_carry_their_login_and_a_fresh_jti() {
        let tokens = service();
        let a = tokens.issue_refresh("u", "login-1", now()).unwrap();
        let b = tokens.issue_refresh("u", "login-1", now()).unwrap();
        assert_ne!(a.jti, b.jti);
        let claims = tokens.verify(&a.token, TokenType::Refresh).unwrap();
        assert_eq!(claims.sid.as_deref(), Some("login-1"));
        assert_eq!(claims.jti, a.jti);
    }

    #[test]
    fn the_wrong_token_type_is_refused_both_ways() {
        let tokens = service();
        let access = tokens.issue_access("u", "alice", now()).unwrap();
        let refresh = tokens.issue_refresh("u", "l", now()).unwrap().token;
        assert!(matches!(tokens.verify(&access, TokenType::Refresh), Err(Error::TokenNotValid)));
        assert!(matches!(tokens.verify(&refresh, TokenType::Access), Err(Error::TokenNotValid)));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let tokens = service();
        let token = tokens.issue_access("u", "alice", now() - 301).unwrap();
        assert!(matches!(tokens.verify(&token, TokenType::Access), Err(Error::TokenNotValid)));
    }

    #[test]
    fn another_key_issuer_or_audience_is_refused() {
        let ours = service();
        let other_key = TokenService::new(settings("ffffffffffffffffffffffffffffffff"));
        let token = other_key.issue_access("u", "alice", now()).unwrap();
        assert!(ours.verify(&token, TokenType::Access).is_err());

        let mut s = settings("0123456789abcdef0123456789abcdef");
        s.issuer = "someone-else".into();
        assert!(
            ours.verify(&TokenService::new(s).issue_access("u", "alice", now()).unwrap(), TokenType::Access).is_err()
        );

        let mut s = settings("0123456789abcdef0123456789abcdef");
        s.audience = "another-app".into();
        assert!(
            ours.verify(&TokenService::new(s).issue_access("u", "alice", now()).unwrap(), TokenType::Access).is_err()
        );
    }

    #[test]
    fn alg_none_and_garbage_are_refused() {
        let tokens = service();
        let genuine = tokens.issue_access("u", "alice", now()).unwrap();
        let payload = genuine.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        for forged in [format!("{header}.{payload}."), format!("{header}.{payload}"), "garbage".into(), String::new()] {
            assert!(matches!(tokens.verify(&forged, TokenType::Access), Err(Error::TokenNotValid)), "{forged}");
        }
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let tokens = service();
        let genuine = tokens.issue_access("u", "alice", now()).unwrap();
        let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        claims["sub"] = "admin".into();
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        assert!(tokens.verify(&parts.join("."), TokenType::Access).is_err());
    }
}
