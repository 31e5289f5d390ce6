//! The `social-auth` function: sign-in with Google, GitHub or a company's
//! OpenID Connect provider, exchanged by the backend for our own tokens.
//! The client only ever carries the provider's authorization code and our
//! state; the provider's tokens never leave this function.
//!
//! `start` keeps a random `state`, an OIDC `nonce` and a PKCE verifier in
//! the table for 10 minutes, bound to the provider and the redirect URI;
//! `callback` takes them back once (a conditional delete), trades the code
//! (with the verifier), checks what the provider says, and finds, links or
//! creates the user: see `services::accounts::social`.

pub mod github;
pub mod oidc;
pub mod providers;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::error::ErrorBody;
use domain::user::PendingSignIn;
use domain::user::User;
use domain::validate::required_string;
use domain::{Error, FieldErrors, Result, timefmt};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use services::Table;
use services::accounts::AccountService;
use services::accounts::social::check_domain;
use services::tokens::TokenService;
use sha2::{Digest, Sha256};
use web::http::{ApiOptions, Json, api_layer, json_response};
use web::throttle::{self, Throttle};

use crate::providers::Provider;

/// How long a started sign-in may take.
const PENDING_SECS: i64 = 600;

pub use domain::user::ProviderIdentity;

#[derive(Clone)]
pub struct SocialState {
    pub providers: Arc<Vec<Provider>>,
    pub redirect_uris: Arc<Vec<String>>,
    pub accounts: AccountService,
    pub tokens: Arc<TokenService>,
    pub throttle: Throttle,
}

impl SocialState {
    pub fn new(
        table: Table,
        providers: Vec<Provider>,
        redirect_uris: Vec<String>,
        tokens: TokenService,
        throttle: Throttle,
    ) -> Self {
        let tokens = Arc::new(tokens);
        Self {
            providers: Arc::new(providers),
            redirect_uris: Arc::new(redirect_uris),
            accounts: AccountService::new(table, tokens.clone()),
            tokens,
            throttle,
        }
    }

    fn provider(&self, id: &str) -> Result<&Provider> {
        self.providers.iter().find(|p| p.id() == id).ok_or(Error::NotFound)
    }
}

impl FromRef<SocialState> for Arc<TokenService> {
    fn from_ref(state: &SocialState) -> Self {
        state.tokens.clone()
    }
}

web::api_routes!(SocialState; list_providers, start_sign_in, finish_sign_in);

pub fn router(state: SocialState) -> Router {
    let (throttle, tokens) = (state.throttle.clone(), state.tokens.clone());
    let routes = routes().with_state(state);
    // Answers carry our tokens: no cache may keep them.
    api_layer(throttle::apply(routes, throttle, tokens), ApiOptions { no_store: true })
}

/// Percent-encodes a query (RFC 3986 unreserved characters kept).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let encode = |value: &str| {
        value
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// A provider that cannot be reached (or answers 5xx): 503, the client
/// may try again.
pub fn provider_unavailable(provider: &str, detail: impl std::fmt::Display) -> Error {
    Error::ServiceUnavailable { detail: format!("{provider}: {detail}"), retry_after_secs: 5 }
}

/// 32 random bytes, base64url: states, nonces, PKCE verifiers.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// PKCE's S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProviderView {
    #[schema(example = "google")]
    pub id: String,
    #[schema(example = "Google")]
    pub name: String,
}

/// The providers a client may offer.
#[utoipa::path(get, path = "/api/v1/auth/social/providers", tag = "auth", operation_id = "listSocialProviders",
    responses((status = 200, description = "The configured providers.", body = [ProviderView])))]
async fn list_providers(State(state): State<SocialState>) -> Result<Response> {
    let list: Vec<ProviderView> =
        state.providers.iter().map(|p| ProviderView { id: p.id().to_owned(), name: p.name().to_owned() }).collect();
    Ok(json_response(StatusCode::OK, &list))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StartInput {
    /// Exactly one of the configured redirect URIs.
    #[schema(value_type = String, required = true, example = "https://app.example.com/auth/callback")]
    pub redirect_uri: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StartView {
    /// Where to send the browser.
    pub authorization_url: String,
    /// Comes back on the redirect; hand it to the callback.
    pub state: String,
}

/// Starts a sign-in: where to send the browser, and the state that must
/// come back.
#[utoipa::path(post, path = "/api/v1/auth/social/{provider}/start", tag = "auth", operation_id = "startSocialSignIn",
    params(("provider" = String, Path, description = "A provider id from `/auth/social/providers`.")),
    request_body = StartInput,
    responses(
        (status = 200, description = "The provider's authorization URL and our state.", body = StartView),
        (status = 400, description = "`redirect_uri` is not one of the allowed ones.", body = ErrorBody),
        (status = 404, description = "No such provider.", body = ErrorBody),
        (status = 503, description = "The provider cannot be reached.", body = ErrorBody),
    ))]
async fn start_sign_in(
    State(state): State<SocialState>,
    Path(provider_id): Path<String>,
    Json(input): Json<StartInput>,
) -> Result<Response> {
    let provider = state.provider(&provider_id)?;
    let mut errors = FieldErrors::new();
    let redirect_uri = required_string(&mut errors, "redirect_uri", input.redirect_uri, false);
    if !redirect_uri.is_empty() && !state.redirect_uris.contains(&redirect_uri) {
        errors.add("redirect_uri", "Not an allowed redirect URI.");
    }
    errors.into_result(())?;
    let pending = PendingSignIn {
        state: random_token(),
        provider: provider.id().to_owned(),
        redirect_uri,
        nonce: matches!(provider, Provider::Oidc(_)).then(random_token),
        code_verifier: random_token(),
        expires_at: timefmt::now().unix_timestamp() + PENDING_SECS,
    };
    let challenge = pkce_challenge(&pending.code_verifier);
    let authorization_url = match provider {
        Provider::Oidc(oidc) => {
            let nonce = pending.nonce.as_deref().unwrap_or_default();
            oidc.authorization_url(&pending.redirect_uri, &pending.state, nonce, &challenge).await?
        }
        Provider::GitHub(github) => github.authorization_url(&pending.redirect_uri, &pending.state, &challenge),
    };
    state.accounts.save_pending_sign_in(&pending).await?;
    Ok(json_response(StatusCode::OK, &StartView { authorization_url, state: pending.state }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CallbackInput {
    /// From the provider's redirect.
    #[schema(value_type = String, required = true)]
    pub code: Option<String>,
    #[schema(value_type = String, required = true)]
    pub state: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    pub access: String,
    pub refresh: String,
    pub user: User,
    /// This sign-in made the account.
    pub created: bool,
}

/// Finishes a sign-in: the code traded with the provider, the person found
/// (or linked, or created), and our own tokens.
#[utoipa::path(post, path = "/api/v1/auth/social/{provider}/callback", tag = "auth", operation_id = "finishSocialSignIn",
    params(("provider" = String, Path, description = "The provider the sign-in was started with.")),
    request_body = CallbackInput,
    responses(
        (status = 200, description = "Our access and refresh tokens, as `POST /auth/token` gives.", body = SignedIn),
        (status = 400, description = "The state is unknown, used, expired or another provider's; or the provider refused the code.", body = ErrorBody),
        (status = 401, description = "The provider's ID token failed its checks.", body = ErrorBody),
        (status = 403, description = "Company sign-on from an email domain not allowed.", body = ErrorBody),
        (status = 404, description = "No such provider.", body = ErrorBody),
        (status = 409, description = "An account has this email, and the provider does not vouch for it.", body = ErrorBody),
        (status = 503, description = "The provider cannot be reached.", body = ErrorBody),
    ))]
async fn finish_sign_in(
    State(state): State<SocialState>,
    Path(provider_id): Path<String>,
    Json(input): Json<CallbackInput>,
) -> Result<Response> {
    let provider = state.provider(&provider_id)?;
    let mut errors = FieldErrors::new();
    let code = required_string(&mut errors, "code", input.code, false);
    let state_token = required_string(&mut errors, "state", input.state, false);
    errors.into_result(())?;
    let pending = state
        .accounts
        .take_pending_sign_in(&state_token, provider.id())
        .await?
        .ok_or_else(|| Error::BadRequest("Unknown, used or expired sign-in state.".into()))?;
    let identity = match provider {
        Provider::Oidc(oidc) => {
            let nonce = pending.nonce.as_deref().ok_or_else(|| Error::internal("an OIDC sign-in without a nonce"))?;
            let identity = oidc.exchange(&code, &pending.redirect_uri, &pending.code_verifier, nonce).await?;
            if let Some(domains) = &oidc.allowed_domains {
                check_domain(&identity, domains)?;
            }
            identity
        }
        Provider::GitHub(github) => github.exchange(&code, &pending.redirect_uri, &pending.code_verifier).await?,
    };
    let signed_in = state.accounts.sign_in_with_provider(provider.id(), &identity).await?;
    let (user, created) = (signed_in.user, signed_in.created);
    let (access, refresh) = (signed_in.tokens.access, signed_in.tokens.refresh);
    Ok(json_response(StatusCode::OK, &SignedIn { access, refresh, user, created }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc_7636s_example() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn queries_are_encoded() {
        assert_eq!(
            form_encode(&[("scope", "openid email"), ("u", "http://a/b?c=d")]),
            "scope=openid%20email&u=http%3A%2F%2Fa%2Fb%3Fc%3Dd"
        );
    }

    #[test]
    fn random_tokens_are_long_and_different() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
