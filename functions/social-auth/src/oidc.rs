//! An OpenID Connect provider: discovery, the authorization URL, the code
//! exchange and the ID token's checks (RS256 against the provider's JWKS:
//! `iss`, `aud`, `exp`, `iat`, `nonce`). Discovery and the JWKS are cached
//! for the instance's life; the JWKS is fetched again when a token names a
//! `kid` it does not hold (a key rotation), never on every request.

use std::sync::Mutex;

use domain::{Error, Result};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::{ProviderIdentity, form_encode, provider_unavailable};

/// Clock skew allowed on `exp` / `iat`.
const LEEWAY_SECS: u64 = 60;

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct IdClaims {
    sub: String,
    nonce: Option<String>,
    email: Option<String>,
    #[serde(default)]
    email_verified: EmailVerified,
    preferred_username: Option<String>,
}

/// `email_verified` is a boolean in the spec; some providers send "true".
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum EmailVerified {
    Bool(bool),
    Text(String),
    #[default]
    Absent,
}

impl EmailVerified {
    fn is_true(&self) -> bool {
        match self {
            Self::Bool(b) => *b,
            Self::Text(t) => t.eq_ignore_ascii_case("true"),
            Self::Absent => false,
        }
    }
}

pub struct OidcProvider {
    pub id: String,
    pub name: String,
    issuer: String,
    client_id: String,
    client_secret: String,
    /// Company sign-on: the email domains allowed (`None`: any).
    pub allowed_domains: Option<Vec<String>>,
    http: reqwest::Client,
    discovery: Mutex<Option<Discovery>>,
    jwks: Mutex<Option<JwkSet>>,
}

impl OidcProvider {
    pub fn new(
        id: &str,
        name: &str,
        issuer: &str,
        client_id: String,
        client_secret: String,
        allowed_domains: Option<Vec<String>>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id,
            client_secret,
            allowed_domains,
            http,
            discovery: Mutex::new(None),
            jwks: Mutex::new(None),
        }
    }

    /// The provider's metadata, fetched once per instance.
    pub async fn discovery(&self) -> Result<Discovery> {
        if let Some(found) = self.discovery.lock().ok().and_then(|d| d.clone()) {
            return Ok(found);
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let discovery: Discovery = self.get_json(&url).await?;
        if discovery.issuer.trim_end_matches('/') != self.issuer {
            return Err(Error::internal(format!("{}: discovery names issuer {}", self.id, discovery.issuer)));
        }
        if let Ok(mut cached) = self.discovery.lock() {
            *cached = Some(discovery.clone());
        }
        Ok(discovery)
    }

    pub async fn authorization_url(
        &self,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        challenge: &str,
    ) -> Result<String> {
        let discovery = self.discovery().await?;
        let query = form_encode(&[
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", "openid email profile"),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ]);
        let separator = if discovery.authorization_endpoint.contains('?') { '&' } else { '?' };
        Ok(format!("{}{separator}{query}", discovery.authorization_endpoint))
    }

    /// Trades the code for an ID token and checks it; the identity it
    /// proves.
    pub async fn exchange(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<ProviderIdentity> {
        let discovery = self.discovery().await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
            ("code_verifier", verifier),
        ];
        let response = self
            .http
            .post(&discovery.token_endpoint)
            .header("accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| provider_unavailable(&self.id, e))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(provider_unavailable(&self.id, format!("token endpoint answered {status}")));
        }
        if !status.is_success() {
            tracing::warn!(provider = %self.id, %status, "the provider refused the code");
            return Err(Error::BadRequest("The provider refused the authorization code.".into()));
        }
        let answer: TokenAnswer = response.json().await.map_err(|e| provider_unavailable(&self.id, e))?;
        let id_token = answer.id_token.ok_or_else(|| Error::BadRequest("The provider returned no ID token.".into()))?;
        self.verify(&id_token, nonce, &discovery).await
    }

    async fn verify(&self, id_token: &str, nonce: &str, discovery: &Discovery) -> Result<ProviderIdentity> {
        let refused = |why: &str| {
            tracing::warn!(provider = %self.id, reason = why, "ID token refused");
            Error::NotAuthenticated("The provider's ID token is not valid.")
        };
        let header = jsonwebtoken::decode_header(id_token).map_err(|_| refused("not a JWT"))?;
        if header.alg != Algorithm::RS256 {
            return Err(refused("not RS256"));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[discovery.issuer.as_str()]);
        validation.set_audience(&[self.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let keys = self.keys_for(header.kid.as_deref(), discovery).await?;
        if keys.is_empty() {
            return Err(refused("no key of the JWKS matches"));
        }
        let mut last_error = None;
        for key in &keys {
            match jsonwebtoken::decode::<IdClaims>(id_token, key, &validation) {
                Ok(data) => {
                    let claims = data.claims;
                    if claims.nonce.as_deref() != Some(nonce) {
                        return Err(refused("nonce"));
                    }
                    return Ok(ProviderIdentity {
                        subject: claims.sub,
                        email: claims.email,
                        email_verified: claims.email_verified.is_true(),
                        username_hint: claims.preferred_username,
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        let reason = last_error.map(|e| format!("{:?}", e.kind())).unwrap_or_default();
        Err(refused(&reason))
    }

    /// The keys to try: the one named `kid` (fetching the JWKS again once
    /// if it is unknown: a rotation), or every RSA key for a token without.
    async fn keys_for(&self, kid: Option<&str>, discovery: &Discovery) -> Result<Vec<DecodingKey>> {
        let pick = |set: &JwkSet| -> Vec<DecodingKey> {
            set.keys
                .iter()
                .filter(|k| kid.is_none() || k.common.key_id.as_deref() == kid)
                .filter_map(|k| DecodingKey::from_jwk(k).ok())
                .collect()
        };
        let cached = self.jwks.lock().ok().and_then(|j| j.clone());
        if let Some(set) = &cached {
            let keys = pick(set);
            if !keys.is_empty() {
                return Ok(keys);
            }
        }
        let set: JwkSet = self.get_json(&discovery.jwks_uri).await?;
        let keys = pick(&set);
        if let Ok(mut stored) = self.jwks.lock() {
            *stored = Some(set);
        }
        Ok(keys)
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, url: &str) -> Result<T> {
        let response = self.http.get(url).send().await.map_err(|e| provider_unavailable(&self.id, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(provider_unavailable(&self.id, format!("{url} answered {status}")));
        }
        response.json().await.map_err(|e| provider_unavailable(&self.id, e))
    }
}
