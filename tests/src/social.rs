//! Helpers for the social login suite: the `social-auth` routes, the
//! providers of the test stack (oidc-provider-mock as `google` and as
//! `company`, the GitHub fake as `github`), a test's own OpenID provider as
//! `rogue` (`tests/fixtures/rogue_issuer.py`, which signs ID tokens badly on
//! request), and what the service keeps of a sign-in in DynamoDB.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

use crate::commerce::{Reply, call};
use crate::{Api, dynamodb, required_setting, setting, status_and_json};

/// `GET`: `[{id, name}]`.
pub const PROVIDERS: &str = "/api/v1/auth/social/providers";
/// The log target of the `social-auth` function.
pub const TARGET: &str = "social_auth";
/// How long a state is good for, in seconds.
pub const STATE_LIFETIME: i64 = 600;

/// `POST` `{redirect_uri}` → `{authorization_url, state}`.
pub fn start_path(provider: &str) -> String {
    format!("/api/v1/auth/social/{provider}/start")
}

/// `POST` `{code, state}` → `{access, refresh, user, created}`.
pub fn callback_path(provider: &str) -> String {
    format!("/api/v1/auth/social/{provider}/callback")
}

/// `SOCIAL_REDIRECT_URIS`, in order.
pub fn redirect_uris() -> Vec<String> {
    required_setting("SOCIAL_REDIRECT_URIS")
        .split(',')
        .map(str::trim)
        .filter(|uri| !uri.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The redirect URI the tests use: the first one listed.
pub fn redirect_uri() -> String {
    redirect_uris().into_iter().next().expect("SOCIAL_REDIRECT_URIS lists at least one URI")
}

/// The email domains company sign-ins are held to, lower-case.
pub fn allowed_domains() -> Vec<String> {
    required_setting("SOCIAL_ALLOWED_EMAIL_DOMAINS")
        .split(',')
        .map(|domain| domain.trim().to_ascii_lowercase())
        .filter(|domain| !domain.is_empty())
        .collect()
}

/// The first allowed domain (the test stack's `company.example`).
pub fn allowed_domain() -> String {
    allowed_domains().into_iter().next().expect("SOCIAL_ALLOWED_EMAIL_DOMAINS lists at least one domain")
}

/// `prefix` and a fresh ULID, lower-case: subjects, logins, usernames and
/// email local parts no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// A GitHub user id no other test uses (below 2^31, as GitHub's are).
pub fn unique_github_id() -> u64 {
    100_000_000 + (ulid::Ulid::new().random() % 2_000_000_000) as u64
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

// ---------------------------------------------------------------------------
// The service's routes

/// A sign-in started: the state and the URL the browser would be sent to.
#[derive(Debug, Clone)]
pub struct Started {
    pub provider: String,
    pub state: String,
    pub url: Url,
}

impl Started {
    /// Every value of the authorization URL's query parameter `name`.
    pub fn params(&self, name: &str) -> Vec<String> {
        self.url.query_pairs().into_owned().filter(|(key, _)| key == name).map(|(_, value)| value).collect()
    }

    /// The query parameter `name`, which must not appear twice.
    pub fn param(&self, name: &str) -> Option<String> {
        let mut values = self.params(name);
        assert!(values.len() <= 1, "{name} appears {} times in {}", values.len(), self.url);
        values.pop()
    }

    /// The authorization URL without its query: the provider's endpoint.
    pub fn endpoint(&self) -> String {
        without_query(self.url.as_str())
    }
}

/// `url` without its query and fragment, normalised as [`Url`] writes it.
pub fn without_query(url: &str) -> String {
    let mut parsed = Url::parse(url).unwrap_or_else(|e| panic!("{url:?} is not an absolute URL: {e}"));
    parsed.set_query(None);
    parsed.set_fragment(None);
    parsed.to_string()
}

/// `POST /auth/social/{provider}/start` with any body.
pub async fn start_with(api: &Api, provider: &str, body: &Value) -> Reply {
    call(api, Method::POST, &start_path(provider), None, None, Some(body)).await
}

/// Starts a sign-in with the first listed redirect URI; it must succeed.
pub async fn start(api: &Api, provider: &str) -> Started {
    let reply = start_with(api, provider, &json!({"redirect_uri": redirect_uri()})).await;
    assert_eq!(reply.status, StatusCode::OK, "start {provider}: {}", reply.body);
    started_from(provider, &reply.body)
}

/// The `{authorization_url, state}` of a start's 200.
pub fn started_from(provider: &str, body: &Value) -> Started {
    assert_eq!(keys(body), ["authorization_url", "state"], "{body}");
    let state = body["state"].as_str().filter(|s| !s.is_empty()).unwrap_or_else(|| panic!("no state in {body}"));
    let url = body["authorization_url"]
        .as_str()
        .and_then(|url| Url::parse(url).ok())
        .unwrap_or_else(|| panic!("no absolute authorization_url in {body}"));
    Started { provider: provider.to_owned(), state: state.to_owned(), url }
}

/// `POST /auth/social/{provider}/callback` `{code, state}`.
pub async fn callback(api: &Api, provider: &str, code: &str, state: &str) -> Reply {
    let body = json!({"code": code, "state": state});
    call(api, Method::POST, &callback_path(provider), None, None, Some(&body)).await
}

/// A callback's 200: our tokens and the user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub access: String,
    pub refresh: String,
    pub user: Value,
    pub created: bool,
}

impl SignedIn {
    pub fn user_id(&self) -> &str {
        self.user["id"].as_str().expect("the user's id")
    }

    pub fn username(&self) -> &str {
        self.user["username"].as_str().expect("the user's username")
    }
}

/// Asserts that the callback answered 200 `{access, refresh, user: {id,
/// username, email, date_joined}, created}`; its parts.
pub fn signed_in(reply: &Reply) -> SignedIn {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(keys(body), ["access", "created", "refresh", "user"], "{body}");
    let user = body["user"].clone();
    assert_eq!(keys(&user), ["date_joined", "email", "email_verified", "id", "is_staff", "username"], "{user}");
    for field in ["id", "username", "email"] {
        assert!(user[field].as_str().is_some_and(|value| !value.is_empty()), "{field}: {user}");
    }
    let joined = user["date_joined"].as_str().unwrap_or_default();
    assert!(
        time::OffsetDateTime::parse(joined, &time::format_description::well_known::Rfc3339).is_ok(),
        "date_joined is RFC 3339: {user}"
    );
    let token = |name: &str| {
        body[name].as_str().filter(|t| !t.is_empty()).unwrap_or_else(|| panic!("no {name} token in {body}")).to_owned()
    };
    SignedIn {
        access: token("access"),
        refresh: token("refresh"),
        created: body["created"].as_bool().unwrap_or_else(|| panic!("created is not a boolean: {body}")),
        user,
    }
}

/// The access token works on `GET /auth/me` (the same user) and the refresh
/// token on `POST /auth/token/refresh` (a new pair).
pub async fn assert_tokens_work(api: &Api, signed: &SignedIn) {
    let (status, me) = status_and_json(api.get_authed("/api/v1/auth/me", &signed.access).await).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    for field in ["id", "username", "email"] {
        assert_eq!(me[field], signed.user[field], "GET /auth/me is the user the callback returned: {me}");
    }
    let response = api.post_json("/api/v1/auth/token/refresh", &json!({"refresh": signed.refresh})).await;
    let (status, pair) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert!(pair["access"].as_str().is_some_and(|t| !t.is_empty()), "{pair}");
    assert!(pair["refresh"].as_str().is_some_and(|t| !t.is_empty() && t != signed.refresh), "rotated: {pair}");
}

/// The checks every OpenID Connect authorization URL passes: the
/// provider's `authorization_endpoint` (from `discovery`) with
/// `response_type=code`, the client id, the redirect URI, `scope=openid
/// email profile`, the state, a nonce and a PKCE S256 challenge.
pub fn assert_oidc_authorization_url(started: &Started, discovery: &Value, client_id: &str) {
    let endpoint = discovery["authorization_endpoint"].as_str().unwrap_or_else(|| panic!("{discovery}"));
    assert_eq!(started.endpoint(), without_query(endpoint), "{}", started.url);
    assert_eq!(started.param("response_type").as_deref(), Some("code"), "{}", started.url);
    assert_eq!(started.param("client_id").as_deref(), Some(client_id), "{}", started.url);
    assert_eq!(started.param("redirect_uri"), Some(redirect_uri()), "{}", started.url);
    assert_scope(started, &["email", "openid", "profile"]);
    assert_state_param(started);
    let nonce = started.param("nonce").unwrap_or_else(|| panic!("no nonce in {}", started.url));
    assert!(nonce.len() >= 16, "a random nonce: {}", started.url);
    assert_ne!(nonce, started.state, "the nonce is not the state: {}", started.url);
    assert_pkce(started);
}

/// `scope`'s words, in any order.
pub fn assert_scope(started: &Started, expected: &[&str]) {
    let scope = started.param("scope").unwrap_or_else(|| panic!("no scope in {}", started.url));
    let mut words: Vec<&str> = scope.split_whitespace().collect();
    words.sort_unstable();
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(words, expected, "{}", started.url);
}

/// The URL carries the state the start returned, and it looks random.
pub fn assert_state_param(started: &Started) {
    assert_eq!(started.param("state").as_deref(), Some(started.state.as_str()), "{}", started.url);
    assert!(started.state.len() >= 16, "a random state: {}", started.state);
}

/// PKCE: an S256 challenge of 43+ base64url characters; the verifier stays
/// server-side.
pub fn assert_pkce(started: &Started) {
    let challenge = started.param("code_challenge").unwrap_or_else(|| panic!("no code_challenge in {}", started.url));
    assert!(
        challenge.len() >= 43 && challenge.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "code_challenge: 43+ base64url characters: {challenge:?}"
    );
    assert_eq!(started.param("code_challenge_method").as_deref(), Some("S256"), "{}", started.url);
    assert!(started.param("code_verifier").is_none(), "the verifier stays server-side: {}", started.url);
}

/// The `code` of the provider's redirect back to the redirect URI the
/// sign-in started with, checking that it carries the sign-in's state.
pub fn code_from_redirect(location: &str, started: &Started) -> String {
    let back = Url::parse(location).unwrap_or_else(|e| panic!("the provider redirected to {location:?}: {e}"));
    let expected = started.param("redirect_uri").unwrap_or_else(|| panic!("no redirect_uri in {}", started.url));
    assert_eq!(without_query(back.as_str()), without_query(&expected), "back to the redirect URI");
    let pairs: Vec<(String, String)> = back.query_pairs().into_owned().collect();
    let value = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    assert_eq!(value("state").as_deref(), Some(started.state.as_str()), "the state comes back: {location}");
    value("code").filter(|code| !code.is_empty()).unwrap_or_else(|| panic!("no code in {location}"))
}

/// A response's `Location`, which must be a 302.
async fn redirect_location(response: reqwest::Response, what: &str) -> String {
    let status = response.status();
    let location = response.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
    if status == StatusCode::FOUND
        && let Some(location) = location
    {
        return location;
    }
    let (_, body) = status_and_json(response).await;
    panic!("{what}: expected a 302 with a Location, got {status}: {body}")
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("an http client")
}

/// A JSON object's keys, sorted.
pub fn keys(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    keys.sort_unstable();
    keys
}

// ---------------------------------------------------------------------------
// The stack's providers

/// An `oidc-provider-mock` of the stack: `google` at `SOCIAL_GOOGLE_ISSUER`,
/// `company` at `SOCIAL_COMPANY_ISSUER`. Shared by every test running: each
/// test uses subjects of its own.
#[derive(Debug, Clone)]
pub struct OidcMock {
    pub provider: String,
    pub issuer: String,
    http: reqwest::Client,
}

impl OidcMock {
    pub fn google() -> Self {
        Self::at("google", &required_setting("SOCIAL_GOOGLE_ISSUER"))
    }

    pub fn company() -> Self {
        Self::at("company", &required_setting("SOCIAL_COMPANY_ISSUER"))
    }

    pub fn at(provider: &str, issuer: &str) -> Self {
        Self { provider: provider.to_owned(), issuer: issuer.trim_end_matches('/').to_owned(), http: no_redirects() }
    }

    /// Its `/.well-known/openid-configuration`.
    pub async fn discovery(&self) -> Value {
        discovery_of(&self.http, &self.issuer).await
    }

    /// `PUT /users/{sub}`: the user's claims (`email`, `email_verified`,
    /// `name`, `preferred_username`).
    pub async fn put_user(&self, sub: &str, claims: &Value) {
        let url = format!("{}/users/{sub}", self.issuer);
        let response = self.http.put(&url).json(claims).send().await;
        let response = response.unwrap_or_else(|e| panic!("{} ({}) does not answer: {e}", self.provider, self.issuer));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "PUT {url}: {status}: {text}");
    }

    /// The user `sub` approves the sign-in: `POST` the authorization URL
    /// with `sub=<sub>`; the code of the 302 back.
    pub async fn authorize(&self, started: &Started, sub: &str) -> String {
        let response = self.http.post(started.url.clone()).form(&[("sub", sub)]).send().await;
        let response = response.unwrap_or_else(|e| panic!("{} ({}) does not answer: {e}", self.provider, self.issuer));
        let location = redirect_location(response, &format!("{}'s authorization endpoint", self.provider)).await;
        code_from_redirect(&location, started)
    }

    /// Sets the user's claims, then signs in as them from start to callback.
    pub async fn sign_in(&self, api: &Api, sub: &str, claims: &Value) -> Reply {
        self.put_user(sub, claims).await;
        let started = start(api, &self.provider).await;
        let code = self.authorize(&started, sub).await;
        callback(api, &self.provider, &code, &started.state).await
    }
}

async fn discovery_of(http: &reqwest::Client, issuer: &str) -> Value {
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let response = http.get(&url).send().await.unwrap_or_else(|e| panic!("{url} does not answer: {e}"));
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{url}: {body}");
    body
}

/// The stack's GitHub fake (`infra/github_fake.py`) at `SOCIAL_GITHUB_BASE`.
/// Shared by every test running: each test uses logins and ids of its own,
/// and none resets it or makes it fail.
#[derive(Debug, Clone)]
pub struct GitHubFake {
    pub base: String,
    http: reqwest::Client,
}

impl GitHubFake {
    pub fn shared() -> Self {
        Self { base: required_setting("SOCIAL_GITHUB_BASE").trim_end_matches('/').to_owned(), http: no_redirects() }
    }

    /// `PUT /_fake/users/{login}` `{id, name, emails: [{email, primary,
    /// verified}]}`.
    pub async fn put_user(&self, login: &str, id: u64, name: &str, emails: &Value) {
        let url = format!("{}/_fake/users/{login}", self.base);
        let body = json!({"id": id, "name": name, "emails": emails});
        let response = self.http.put(&url).json(&body).send().await;
        let response = response.unwrap_or_else(|e| panic!("the GitHub fake ({}) does not answer: {e}", self.base));
        let (status, answer) = status_and_json(response).await;
        assert!(status == StatusCode::OK || status == StatusCode::CREATED, "PUT {url}: {status}: {answer}");
    }

    /// The user `login` approves: the authorization URL with `&login=`; the
    /// code of the 302 back.
    pub async fn authorize(&self, started: &Started, login: &str) -> String {
        let mut url = started.url.clone();
        url.query_pairs_mut().append_pair("login", login);
        let response = self.http.get(url).send().await;
        let response = response.unwrap_or_else(|e| panic!("the GitHub fake ({}) does not answer: {e}", self.base));
        let location = redirect_location(response, "GitHub's authorization endpoint").await;
        code_from_redirect(&location, started)
    }

    /// Signs in as `login` (already put) from start to callback.
    pub async fn sign_in(&self, api: &Api, login: &str) -> Reply {
        let started = start(api, "github").await;
        let code = self.authorize(&started, login).await;
        callback(api, "github", &code, &started.state).await
    }
}

// ---------------------------------------------------------------------------
// The test issuer (`rogue`), a process of the test's own

/// `tests/fixtures/rogue_issuer.py`, started by a test on the port of
/// `SOCIAL_ROGUE_ISSUER` and killed when this is dropped (or stopped). The
/// port is fixed: tests that start it must take turns.
pub struct RogueIssuer {
    /// `SOCIAL_ROGUE_ISSUER` without a trailing slash.
    pub base: String,
    http: reqwest::Client,
    process: tokio::process::Child,
}

/// Starts the test issuer as `SOCIAL_ROGUE_ISSUER` (with the stack's Python
/// if `make venv` made one) and waits until it answers. Its first signing
/// key is kept in the stack's state directory, so a `social-auth` instance
/// that cached the JWKS of an earlier test still holds it. Retries while
/// the port is still held by an earlier test's issuer that is on its way
/// out.
pub async fn start_rogue_issuer() -> RogueIssuer {
    let issuer = required_setting("SOCIAL_ROGUE_ISSUER");
    let parsed = Url::parse(&issuer).unwrap_or_else(|e| panic!("SOCIAL_ROGUE_ISSUER {issuer:?}: {e}"));
    let port = parsed.port_or_known_default().expect("SOCIAL_ROGUE_ISSUER has a port");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let venv_python = format!("{root}/.venv/bin/python");
    let python = if Path::new(&venv_python).is_file() { venv_python } else { "python3".to_owned() };
    let state_dir = stack_state_dir();
    std::fs::create_dir_all(&state_dir).unwrap_or_else(|e| panic!("{}: {e}", state_dir.display()));
    let key_file = state_dir.join(format!("rogue_issuer_{port}.pem"));
    let log_path = state_dir.join("rogue_issuer.log");
    let base = issuer.trim_end_matches('/').to_owned();
    let http = no_redirects();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("{}: {e}", log_path.display()));
        let mut process = tokio::process::Command::new(&python)
            .arg(format!("{root}/tests/fixtures/rogue_issuer.py"))
            .arg("--port")
            .arg(port.to_string())
            .arg("--issuer")
            .arg(&issuer)
            .arg("--key-file")
            .arg(&key_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("Python runs tests/fixtures/rogue_issuer.py");
        let pid = process.id().map(u64::from);
        loop {
            if let Ok(Some(_)) = process.try_wait() {
                break; // most likely the port is still taken: try again
            }
            // Ours answers with its own pid (not an earlier test's issuer).
            if let Ok(response) = http.get(format!("{base}/_mode")).send().await {
                let (status, body) = status_and_json(response).await;
                if status == StatusCode::OK && body["pid"].as_u64() == pid {
                    return RogueIssuer { base, http, process };
                }
            }
            assert!(
                Instant::now() < deadline,
                "the test issuer did not start on port {port} (log: {})",
                log_path.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(Instant::now() < deadline, "the test issuer could not take port {port} (log: {})", log_path.display());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Where the stack keeps its logs: beside `STACK_LOG`, or `.stack/<gateway
/// port>` as the stack script makes it.
fn stack_state_dir() -> PathBuf {
    match setting("STACK_LOG") {
        Some(log) => Path::new(&log).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".")),
        None => PathBuf::from(format!(
            "{}/../.stack/{}",
            env!("CARGO_MANIFEST_DIR"),
            setting("GATEWAY_PORT").unwrap_or_else(|| "3000".into())
        )),
    }
}

impl RogueIssuer {
    async fn control(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("the test issuer does not answer: {e}"));
        let (status, answer) = status_and_json(response).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        answer
    }

    /// How the next ID tokens are made (`valid`, `bad_signature`,
    /// `wrong_iss`, `wrong_aud`, `expired`, `wrong_nonce`, `no_kid`,
    /// `no_kid_bad_signature`, `rotate`), and, when given, the claims they
    /// carry (`sub`, `email`, `email_verified`, …; replacing the earlier
    /// ones). The answer: `{mode, kid, kids, claims, pid}`.
    pub async fn set_mode(&self, mode: &str, claims: Option<&Value>) -> Value {
        let mut body = json!({"mode": mode});
        if let Some(claims) = claims {
            body["claims"] = claims.clone();
        }
        let answer = self.control(Method::POST, "/_mode", Some(&body)).await;
        assert_eq!(answer["mode"], mode, "{answer}");
        answer
    }

    /// `{mode, kid, kids, claims, pid}`.
    pub async fn mode(&self) -> Value {
        self.control(Method::GET, "/_mode", None).await
    }

    /// Requests it answered: `discovery`, `jwks`, `authorize`, `token`
    /// counts, and `token_requests` (`client_id`, `client_auth`,
    /// `redirect_uri`, `pkce`, `outcome` of each token request).
    pub async fn calls(&self) -> Value {
        self.control(Method::GET, "/_calls", None).await
    }

    /// How many times it answered `name` (`discovery`, `jwks`, …).
    pub async fn count(&self, name: &str) -> u64 {
        let calls = self.calls().await;
        calls[name].as_u64().unwrap_or_else(|| panic!("no count of {name}: {calls}"))
    }

    pub async fn discovery(&self) -> Value {
        discovery_of(&self.http, &self.base).await
    }

    /// The user approves at once: `GET` the authorization URL; the code of
    /// the 302 back.
    pub async fn authorize(&self, started: &Started) -> String {
        let response = self.http.get(started.url.clone()).send().await;
        let response = response.unwrap_or_else(|e| panic!("the test issuer does not answer: {e}"));
        let location = redirect_location(response, "the test issuer's authorization endpoint").await;
        code_from_redirect(&location, started)
    }

    /// Signs in through it (as `rogue`) from start to callback.
    pub async fn sign_in(&self, api: &Api) -> Reply {
        let started = start(api, "rogue").await;
        let code = self.authorize(&started).await;
        callback(api, "rogue", &code, &started.state).await
    }

    /// Kills it and waits until it is gone: the provider is unreachable.
    pub async fn stop(&mut self) {
        let _ = self.process.kill().await;
    }
}

// ---------------------------------------------------------------------------
// What the service stores

pub use crate::{Item, item_at};

/// A started sign-in: `SOCIAL_STATE#<state>` / `SOCIAL_STATE`.
pub async fn state_item(state: &str) -> Option<Item> {
    item_at(&format!("SOCIAL_STATE#{state}"), "SOCIAL_STATE").await
}

/// Moves a stored state's `expires_at` a minute into the past.
pub async fn expire_state(state: &str) {
    let (db, table) = dynamodb().await;
    db.update_item()
        .table_name(table)
        .key("pk", AttributeValue::S(format!("SOCIAL_STATE#{state}")))
        .key("sk", AttributeValue::S("SOCIAL_STATE".into()))
        .update_expression("SET expires_at = :past")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":past", AttributeValue::N((now() - 60).to_string()))
        .send()
        .await
        .expect("UpdateItem on the stored state");
}

/// A provider's account as the service links it:
/// `IDENTITY#<provider>#<subject>` / `IDENTITY`.
pub async fn identity_item(provider: &str, subject: &str) -> Option<Item> {
    item_at(&format!("IDENTITY#{provider}#{subject}"), "IDENTITY").await
}

/// The ids of the users with this email (the users' `gsi1`:
/// `EMAIL#<email, lower-case>`).
pub async fn users_with_email(email: &str) -> Vec<String> {
    let (db, table) = dynamodb().await;
    let items = db
        .query()
        .table_name(table)
        .index_name("gsi1")
        .key_condition_expression("gsi1pk = :email")
        .expression_attribute_values(":email", AttributeValue::S(format!("EMAIL#{}", email.to_lowercase())))
        .send()
        .await
        .expect("Query gsi1")
        .items
        .unwrap_or_default();
    items
        .iter()
        .filter(|item| text(item, "sk") == Some("PROFILE"))
        .filter_map(|item| text(item, "pk").and_then(|pk| pk.strip_prefix("USER#")).map(str::to_owned))
        .collect()
}

/// A string attribute.
pub fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|value| value.as_s().ok()).map(String::as_str)
}

/// A number attribute, as an integer.
pub fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|value| value.as_n().ok()).and_then(|n| n.parse().ok())
}
