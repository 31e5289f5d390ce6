//! The `auth` function: register, token, refresh (rotating, with reuse
//! detection), logout and me, as the contract's Auth section states them.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::error::ErrorBody;
use domain::user::{CredentialsInput, RefreshInput, RegistrationInput, User, username_key};
use domain::{Error, Result};
use serde::Serialize;
use services::Table;
use services::accounts::{self, AccountService};
use services::tokens::TokenService;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use web::http::{ApiOptions, Authenticated, Json, api_layer, json_response};
use web::throttle::{self, ClientAddress, Throttle};

/// Everything a request needs, built once per instance in `main`.
#[derive(Clone)]
pub struct AuthState {
    pub accounts: AccountService,
    pub tokens: Arc<TokenService>,
    pub throttle: Throttle,
}

impl AuthState {
    pub fn new(table: Table, tokens: TokenService, throttle: Throttle) -> Self {
        let tokens = Arc::new(tokens);
        Self { accounts: AccountService::new(table, tokens.clone()), tokens, throttle }
    }
}

impl FromRef<AuthState> for Arc<TokenService> {
    fn from_ref(state: &AuthState) -> Self {
        state.tokens.clone()
    }
}

/// The routes and their OpenAPI operations, from the same annotations, so
/// the router and the document cannot disagree.
pub fn api() -> OpenApiRouter<AuthState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(token))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
}

pub fn router(state: AuthState) -> Router {
    let (throttle, tokens) = (state.throttle.clone(), state.tokens.clone());
    let (routes, _) = api().with_state(state).split_for_parts();
    api_layer(throttle::apply(routes, throttle, tokens), ApiOptions { no_store: true })
}

/// A fresh access token and the refresh token that replaces the one used.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// JWT (HS256) for `Authorization: Bearer`, 5 minutes by default.
    pub access: String,
    /// Good once: `POST /auth/token/refresh` answers a new pair.
    pub refresh: String,
}

impl From<accounts::TokenPair> for TokenPair {
    fn from(pair: accounts::TokenPair) -> Self {
        Self { access: pair.access, refresh: pair.refresh }
    }
}

/// Register a user.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", operation_id = "register",
    request_body = RegistrationInput,
    responses(
        (status = 201, description = "The new user.", body = User),
        (status = 409, description = "The username is taken (in any letter case).", body = ErrorBody),
    ))]
async fn register(State(state): State<AuthState>, Json(input): Json<RegistrationInput>) -> Result<Response> {
    let user = state.accounts.register(input.validate()?).await?;
    Ok(json_response(StatusCode::CREATED, &user))
}

/// Sign in: trade a username and password for a token pair.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", operation_id = "obtainTokenPair",
    request_body = CredentialsInput,
    responses(
        (status = 200, description = "Access and refresh tokens.", body = TokenPair),
        (status = 401, description = "Wrong username or password (the same answer either way).", body = ErrorBody),
    ))]
async fn token(
    State(state): State<AuthState>,
    ClientAddress(address): ClientAddress,
    Json(input): Json<CredentialsInput>,
) -> Result<Response> {
    let credentials = input.validate()?;
    // Password guessing: limited per address and username together.
    let login_key = format!("{address}|{}", username_key(&credentials.username));
    state.throttle.hit_scope("login", &login_key).await?;
    let pair = state.accounts.sign_in_with_password(&credentials).await?;
    Ok(json_response(StatusCode::OK, &TokenPair::from(pair)))
}

/// Trade a refresh token for a new pair; the old one is then used up.
#[utoipa::path(post, path = "/api/v1/auth/token/refresh", tag = "auth", operation_id = "refreshTokenPair",
    request_body = RefreshInput,
    responses(
        (status = 200, description = "A new pair.", body = TokenPair),
        (status = 401, description = "`token_not_valid`: expired, revoked or already used (a reuse revokes the whole login).", body = ErrorBody),
    ))]
async fn refresh(State(state): State<AuthState>, Json(input): Json<RefreshInput>) -> Result<Response> {
    let pair = state.accounts.refresh(&input.validate()?).await?;
    Ok(json_response(StatusCode::OK, &TokenPair::from(pair)))
}

/// Sign out: revoke the refresh token (no access token needed).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", operation_id = "logout",
    request_body = RefreshInput,
    responses(
        (status = 204, description = "Revoked."),
        (status = 401, description = "`token_not_valid`.", body = ErrorBody),
    ))]
async fn logout(State(state): State<AuthState>, Json(input): Json<RefreshInput>) -> Result<Response> {
    state.accounts.logout(&input.validate()?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The signed-in caller.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", operation_id = "me",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller.", body = User)))]
async fn me(State(state): State<AuthState>, Authenticated(principal): Authenticated) -> Result<Response> {
    let user = state.accounts.user(&principal.user_id).await?.ok_or(Error::NotAuthenticated("User not found."))?;
    Ok(json_response(StatusCode::OK, &user))
}
