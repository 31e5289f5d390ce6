//! GitHub's OAuth 2 web flow and REST API: the code traded at
//! `{base}/login/oauth/access_token` (PKCE included), then `{api}/user` for
//! the account and `{api}/user/emails` for its primary verified email. Only
//! that email counts: GitHub lets users add addresses they do not own.

use domain::{Error, Result};
use serde::Deserialize;

use crate::{ProviderIdentity, form_encode, provider_unavailable};

/// `read:user` for the profile, `user:email` for private addresses.
const SCOPE: &str = "read:user user:email";
/// GitHub's API refuses requests without one.
const USER_AGENT: &str = "publishing-api-social-auth";

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct GitHubUser {
    id: i64,
    login: String,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

pub struct GitHub {
    base: String,
    api: String,
    client_id: String,
    client_secret: String,
    http: reqwest::Client,
}

impl GitHub {
    pub fn new(base: &str, api: &str, client_id: String, client_secret: String, http: reqwest::Client) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            api: api.trim_end_matches('/').to_owned(),
            client_id,
            client_secret,
            http,
        }
    }

    pub fn authorization_url(&self, redirect_uri: &str, state: &str, challenge: &str) -> String {
        // `response_type=code` as the contract asks of every provider;
        // GitHub assumes it, but states it the way OAuth 2 does.
        let query = form_encode(&[
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", SCOPE),
            ("state", state),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ]);
        format!("{}/login/oauth/authorize?{query}", self.base)
    }

    pub async fn exchange(&self, code: &str, redirect_uri: &str, verifier: &str) -> Result<ProviderIdentity> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let response = self
            .http
            .post(format!("{}/login/oauth/access_token", self.base))
            .header("accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| provider_unavailable("github", e))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(provider_unavailable("github", format!("token endpoint answered {status}")));
        }
        // GitHub answers a refused code with 200 and an `error`.
        let answer: TokenAnswer = response.json().await.map_err(|e| provider_unavailable("github", e))?;
        let Some(token) = answer.access_token.filter(|_| status.is_success()) else {
            tracing::warn!(error = answer.error.as_deref().unwrap_or_default(), "github refused the code");
            return Err(Error::BadRequest("The provider refused the authorization code.".into()));
        };
        let user: GitHubUser = self.api_get(&token, "/user").await?;
        let emails: Vec<GitHubEmail> = self.api_get(&token, "/user/emails").await?;
        let primary = emails
            .into_iter()
            .find(|e| e.primary && e.verified)
            .ok_or_else(|| Error::BadRequest("The GitHub account has no verified primary email address.".into()))?;
        Ok(ProviderIdentity {
            subject: user.id.to_string(),
            email: Some(primary.email),
            email_verified: true,
            username_hint: Some(user.login),
        })
    }

    async fn api_get<T: for<'de> Deserialize<'de>>(&self, token: &str, path: &str) -> Result<T> {
        let response = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(token)
            .header("accept", "application/vnd.github+json")
            .header("user-agent", USER_AGENT)
            .send()
            .await
            .map_err(|e| provider_unavailable("github", e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(provider_unavailable("github", format!("{path} answered {status}")));
        }
        response.json().await.map_err(|e| provider_unavailable("github", e))
    }
}
