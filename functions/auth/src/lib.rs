//! The `auth` function: register, token, refresh (rotating, with reuse
//! detection), logout and me, as the contract's Auth section states them;
//! and account email (verification, password reset), whose emails the
//! mailer sends from the mail queue.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::error::ErrorBody;
use domain::user::{
    CredentialsInput, EmailVerificationInput, PasswordResetConfirmInput, PasswordResetInput, RefreshInput,
    RegistrationInput, User, username_key,
};
use domain::{Error, Result};
use serde::Serialize;
use services::Table;
use services::accounts::email::AccountEmailService;
use services::accounts::{self, AccountService};
use services::email::MailQueue;
use services::tokens::TokenService;
use web::http::{ApiOptions, Authenticated, Json, api_layer, json_response};
use web::throttle::{self, ClientAddress, Throttle};

/// Everything a request needs, built once per instance in `main`.
#[derive(Clone)]
pub struct AuthState {
    pub accounts: AccountService,
    pub account_email: AccountEmailService<MailQueue>,
    pub tokens: Arc<TokenService>,
    pub throttle: Throttle,
}

impl AuthState {
    pub fn new(table: Table, tokens: TokenService, throttle: Throttle, mail: MailQueue) -> Self {
        let tokens = Arc::new(tokens);
        Self {
            accounts: AccountService::new(table.clone(), tokens.clone()),
            account_email: AccountEmailService::new(table, mail),
            tokens,
            throttle,
        }
    }
}

impl FromRef<AuthState> for Arc<TokenService> {
    fn from_ref(state: &AuthState) -> Self {
        state.tokens.clone()
    }
}

web::api_routes!(AuthState;
    register,
    token,
    refresh,
    logout,
    me,
    verify_email,
    resend_verification,
    request_password_reset,
    confirm_password_reset,
);

pub fn router(state: AuthState) -> Router {
    let (throttle, tokens) = (state.throttle.clone(), state.tokens.clone());
    api_layer(throttle::apply(routes().with_state(state), throttle, tokens), ApiOptions { no_store: true })
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

/// Register a user; a verification email follows.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", operation_id = "register",
    request_body = RegistrationInput,
    responses(
        (status = 201, description = "The new user (`email_verified` false until the emailed link is used).", body = User),
        (status = 409, description = "The username is taken (in any letter case).", body = ErrorBody),
    ))]
async fn register(State(state): State<AuthState>, Json(input): Json<RegistrationInput>) -> Result<Response> {
    let user = state.accounts.register(input.validate()?).await?;
    // The account exists whatever the queue says; a lost email is one
    // `verify/resend` away, so a failure here is logged, not answered.
    if let Err(error) = state.account_email.request_verification(&user).await {
        tracing::error!(user_id = %user.id, error = %error, "could not queue the verification email");
    }
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

/// The `email` scope: every request that sends an account email counts
/// once under the target address and once under the client's.
async fn count_email_request(throttle: &Throttle, target: &str, client_address: &str) -> Result<()> {
    throttle.hit_scope("email", &format!("to:{}", target.to_lowercase())).await?;
    throttle.hit_scope("email", &format!("from:{client_address}")).await
}

/// Prove the email address: spend the token from the verification link.
#[utoipa::path(post, path = "/api/v1/auth/email/verify", tag = "auth", operation_id = "verifyEmail",
    request_body = EmailVerificationInput,
    responses(
        (status = 200, description = "The user, now `email_verified`.", body = User),
        (status = 400, description = "`bad_request`: the token is used, expired, voided by a newer one, or made up.", body = ErrorBody),
    ))]
async fn verify_email(State(state): State<AuthState>, Json(input): Json<EmailVerificationInput>) -> Result<Response> {
    let user = state.account_email.verify(&input.validate()?).await?;
    Ok(json_response(StatusCode::OK, &user))
}

/// Send a fresh verification link (older links stop working).
#[utoipa::path(post, path = "/api/v1/auth/email/verify/resend", tag = "auth", operation_id = "resendVerificationEmail",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued.", body = Object, example = json!({})),
        (status = 409, description = "The email is verified already.", body = ErrorBody),
        (status = 429, description = "The `email` scope's limit.", body = ErrorBody),
    ))]
async fn resend_verification(
    State(state): State<AuthState>,
    ClientAddress(address): ClientAddress,
    Authenticated(principal): Authenticated,
) -> Result<Response> {
    let user = state.accounts.user(&principal.user_id).await?.ok_or(Error::NotAuthenticated("User not found."))?;
    count_email_request(&state.throttle, &user.email, &address).await?;
    state.account_email.request_verification(&user).await?;
    Ok(json_response(StatusCode::ACCEPTED, &serde_json::json!({})))
}

/// Ask for a password reset link. The answer is the same whether or not a
/// user has the address.
#[utoipa::path(post, path = "/api/v1/auth/password/reset", tag = "auth", operation_id = "requestPasswordReset",
    request_body = PasswordResetInput,
    responses(
        (status = 202, description = "Queued (if anyone has the address, they get a link valid for an hour).", body = Object, example = json!({})),
        (status = 429, description = "The `email` scope's limit.", body = ErrorBody),
    ))]
async fn request_password_reset(
    State(state): State<AuthState>,
    ClientAddress(address): ClientAddress,
    Json(input): Json<PasswordResetInput>,
) -> Result<Response> {
    let email = input.validate()?;
    count_email_request(&state.throttle, &email, &address).await?;
    state.account_email.request_password_reset(&email).await?;
    Ok(json_response(StatusCode::ACCEPTED, &serde_json::json!({})))
}

/// Set a new password with the token from the reset link; every login of
/// the user is revoked.
#[utoipa::path(post, path = "/api/v1/auth/password/reset/confirm", tag = "auth", operation_id = "confirmPasswordReset",
    request_body = PasswordResetConfirmInput,
    responses(
        (status = 204, description = "The new password works; every refresh token of the user is revoked."),
        (status = 400, description = "`bad_request` for a bad token; `validation_error` for a password the rules refuse (the token stays good).", body = ErrorBody),
    ))]
async fn confirm_password_reset(
    State(state): State<AuthState>,
    Json(input): Json<PasswordResetConfirmInput>,
) -> Result<Response> {
    state.account_email.reset_password(&input.validate()?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
