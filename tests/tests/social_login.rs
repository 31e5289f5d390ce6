//! Social login end to end, through the gateway: the `social-auth`
//! function starts a sign-in (an authorization URL, a state kept in
//! DynamoDB), and at the callback exchanges the code with the provider
//! itself, checks what the provider says (an RS256 ID token for OpenID
//! Connect providers, GitHub's user and emails for `github`) and answers
//! with our own tokens. Providers: the stack's oidc-provider-mock as
//! `google` and as `company`, the stack's GitHub fake as `github`, and a
//! test issuer of the tests' own as `rogue` (`tests/fixtures/rogue_issuer.py`,
//! started by the tests that need it), which signs ID tokens badly on
//! request.
//!
//! Covered: the providers listed; an unknown provider is a 404 everywhere;
//! a redirect URI not listed is a 400; the authorization URLs (OpenID
//! Connect and GitHub) and the state kept server-side; a Google, a GitHub
//! and a company sign-in create a user whose tokens work; the same account
//! again is the same user; a verified email of a registered user links to
//! them, an unverified one is a 409 that creates nothing; a taken username
//! is made unique; a social-only user has no password; GitHub counts only a
//! primary verified email; a state is good once, for 10 minutes, for its
//! own provider, and of concurrent callbacks one wins; a code the provider
//! refuses is a 400; an ID token with a bad signature, the wrong `iss`,
//! `aud` or `nonce`, or expired is a 401; a key rotation and a token
//! without `kid` still work, and the JWKS is cached; a company sign-in from
//! another domain is a 403; a provider that does not answer is a 503.
//!
//! Tests share the stack's providers, so each uses subjects, logins and
//! emails of its own, and none makes a shared provider fail. The test
//! issuer listens on the fixed port of `SOCIAL_ROGUE_ISSUER`, so the tests
//! that start it take turns ([`ROGUE_TURN`]).

use std::time::Duration;

use e2e_tests::commerce::{Reply, all_at_once};
use e2e_tests::social::{
    GitHubFake, OidcMock, PROVIDERS, RogueIssuer, STATE_LIFETIME, allowed_domain, allowed_domains,
    assert_oidc_authorization_url, assert_pkce, assert_scope, assert_state_param, assert_tokens_work, callback,
    expire_state, identity_item, keys, now, number, redirect_uri, redirect_uris, signed_in, start, start_rogue_issuer,
    start_with, started_from, state_item, text, unique, unique_github_id, users_with_email, without_query,
};
use e2e_tests::{Api, assert_error, required_setting, setting, status_and_json};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// The providers and the start

#[tokio::test]
async fn the_configured_providers_are_listed() {
    let api = Api::new();
    let (status, body) = status_and_json(api.request(Method::GET, PROVIDERS).send().await.expect("the gateway")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let providers = body.as_array().unwrap_or_else(|| panic!("an array: {body}"));
    for provider in providers {
        assert_eq!(keys(provider), ["id", "name"], "{provider}");
        assert!(provider["name"].as_str().is_some_and(|name| !name.trim().is_empty()), "{provider}");
    }
    let mut ids: Vec<&str> = providers.iter().filter_map(|p| p["id"].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["company", "github", "google", "rogue"], "{body}");
}

#[tokio::test]
async fn an_unknown_provider_is_a_404_everywhere() {
    let api = Api::new();
    let made_up = unique("p");
    for provider in ["facebook", "acme", made_up.as_str()] {
        let reply = start_with(&api, provider, &json!({"redirect_uri": redirect_uri()})).await;
        assert_error(reply.status, &reply.body, 404, "not_found");
        let reply = callback(&api, provider, "some-code", &unique("state")).await;
        assert_error(reply.status, &reply.body, 404, "not_found");
    }
    // Not even with a state a real provider was given.
    let started = start(&api, "google").await;
    let reply = callback(&api, "facebook", "some-code", &started.state).await;
    assert_error(reply.status, &reply.body, 404, "not_found");
}

#[tokio::test]
async fn a_redirect_uri_that_is_not_listed_is_a_validation_error() {
    let api = Api::new();
    let listed = redirect_uris();
    let first = &listed[0];
    for provider in ["google", "github", "company"] {
        // Each listed URI is taken as it is.
        for uri in &listed {
            let reply = start_with(&api, provider, &json!({"redirect_uri": uri})).await;
            assert_eq!(reply.status, StatusCode::OK, "{provider} {uri}: {}", reply.body);
            let started = started_from(provider, &reply.body);
            assert_eq!(started.param("redirect_uri").as_deref(), Some(uri.as_str()), "{}", started.url);
        }
        let bad = [
            json!({"redirect_uri": "https://evil.example/auth/callback"}),
            json!({"redirect_uri": format!("{first}/more")}),
            json!({"redirect_uri": format!("{first}?next=%2Fadmin")}),
            json!({"redirect_uri": format!("{first}x")}),
            json!({"redirect_uri": ""}),
            json!({"redirect_uri": 42}),
            json!({}),
        ];
        for body in bad {
            if body["redirect_uri"].as_str().is_some_and(|uri| listed.iter().any(|l| l == uri)) {
                continue;
            }
            let reply = start_with(&api, provider, &body).await;
            assert_error(reply.status, &reply.body, 400, "validation_error");
            assert!(reply.body["errors"]["redirect_uri"].is_array(), "{provider} {body} → {}", reply.body);
        }
    }
}

#[tokio::test]
async fn a_google_start_builds_the_authorization_url_and_keeps_the_state_server_side() {
    let api = Api::new();
    let google = OidcMock::google();
    let before = now();
    let started = start(&api, "google").await;
    let after = now();
    assert_oidc_authorization_url(&started, &google.discovery().await, &required_setting("SOCIAL_GOOGLE_CLIENT_ID"));

    let item = state_item(&started.state).await.expect("the state is stored");
    assert_eq!(text(&item, "provider"), Some("google"), "{item:?}");
    let expires_at = number(&item, "expires_at").unwrap_or_else(|| panic!("expires_at is a number: {item:?}"));
    assert!(
        (before + STATE_LIFETIME - 5..=after + STATE_LIFETIME + 5).contains(&expires_at),
        "10 minutes ahead: {expires_at}, started at {before}..{after}"
    );

    // Every start is its own.
    let other = start(&api, "google").await;
    assert_ne!(other.state, started.state);
    assert_ne!(other.param("nonce"), started.param("nonce"));
    assert_ne!(other.param("code_challenge"), started.param("code_challenge"));
}

#[tokio::test]
async fn a_github_start_builds_githubs_authorization_url() {
    let api = Api::new();
    let started = start(&api, "github").await;
    let base = required_setting("SOCIAL_GITHUB_BASE");
    assert_eq!(started.endpoint(), without_query(&format!("{}/login/oauth/authorize", base.trim_end_matches('/'))));
    assert_eq!(started.param("client_id"), Some(required_setting("SOCIAL_GITHUB_CLIENT_ID")), "{}", started.url);
    assert_eq!(started.param("response_type"), Some("code".to_owned()), "{}", started.url);
    assert_eq!(started.param("redirect_uri"), Some(redirect_uri()), "{}", started.url);
    assert_scope(&started, &["read:user", "user:email"]);
    assert_state_param(&started);
    assert_pkce(&started);
    assert!(started.param("nonce").is_none(), "no nonce for OAuth 2: {}", started.url);

    let item = state_item(&started.state).await.expect("the state is stored");
    assert_eq!(text(&item, "provider"), Some("github"), "{item:?}");
    assert!(number(&item, "expires_at").is_some_and(|at| at > now()), "{item:?}");
}

// ---------------------------------------------------------------------------
// Sign-ins that work

#[tokio::test]
async fn a_google_sign_in_creates_a_user_whose_tokens_work() {
    let api = Api::new();
    let google = OidcMock::google();
    let sub = unique("g-");
    let preferred = unique("g");
    let email = format!("{}@example.com", unique("mail-"));
    let claims =
        json!({"email": email, "email_verified": true, "name": "Grace Hopper", "preferred_username": preferred});
    google.put_user(&sub, &claims).await;

    let started = start(&api, "google").await;
    let code = google.authorize(&started, &sub).await;
    let reply = callback(&api, "google", &code, &started.state).await;
    assert_eq!(header(&reply, "cache-control"), Some("no-store"), "{:?}", reply.headers);
    let signed = signed_in(&reply);
    assert!(signed.created, "{}", reply.body);
    assert_eq!(signed.user["username"], preferred.as_str(), "the provider's preferred_username");
    assert_eq!(signed.user["email"], email.as_str());
    assert_tokens_work(&api, &signed).await;

    assert!(identity_item("google", &sub).await.is_some(), "IDENTITY#google#{sub} is stored");
    assert_eq!(users_with_email(&email).await, [signed.user_id()], "one user with the address");
}

#[tokio::test]
async fn a_github_sign_in_uses_the_login_and_the_primary_verified_email() {
    let api = Api::new();
    let github = GitHubFake::shared();
    let login = unique("gh");
    let primary = format!("{login}@users.example");
    let emails = json!([
        {"email": format!("other-{login}@example.com"), "primary": false, "verified": true},
        {"email": primary, "primary": true, "verified": true},
        {"email": format!("unverified-{login}@example.com"), "primary": false, "verified": false},
    ]);
    github.put_user(&login, unique_github_id(), "Octo Cat", &emails).await;

    let reply = github.sign_in(&api, &login).await;
    assert_eq!(header(&reply, "cache-control"), Some("no-store"), "{:?}", reply.headers);
    let signed = signed_in(&reply);
    assert!(signed.created, "{}", reply.body);
    assert_eq!(signed.user["username"], login.as_str(), "GitHub's login");
    assert_eq!(signed.user["email"], primary.as_str(), "the primary verified email");
    assert_tokens_work(&api, &signed).await;

    // The same GitHub account again.
    let again = signed_in(&github.sign_in(&api, &login).await);
    assert!(!again.created, "{:?}", again.user);
    assert_eq!(again.user["id"], signed.user["id"]);
    assert_tokens_work(&api, &again).await;
}

#[tokio::test]
async fn a_company_sign_in_from_the_allowed_domain_creates_a_user_named_after_the_address() {
    let api = Api::new();
    let company = OidcMock::company();
    let started = start(&api, "company").await;
    assert_oidc_authorization_url(&started, &company.discovery().await, &required_setting("SOCIAL_COMPANY_CLIENT_ID"));

    // No preferred_username: the username comes from the email's local part
    // (not from `name`).
    let sub = unique("c-");
    let local = unique("c");
    let email = format!("{local}@{}", allowed_domain());
    company.put_user(&sub, &json!({"email": email, "email_verified": true, "name": "Casey Company"})).await;
    let code = company.authorize(&started, &sub).await;
    let signed = signed_in(&callback(&api, "company", &code, &started.state).await);
    assert!(signed.created, "{:?}", signed.user);
    assert_eq!(signed.user["username"], local.as_str(), "the email's local part");
    assert_eq!(signed.user["email"], email.as_str());
    assert_tokens_work(&api, &signed).await;
}

#[tokio::test]
async fn the_same_subject_again_is_the_same_user() {
    let api = Api::new();
    let google = OidcMock::google();
    let sub = unique("g-");
    let email = format!("{}@example.com", unique("again-"));
    let claims = json!({"email": email, "email_verified": true, "preferred_username": unique("g")});
    let first = signed_in(&google.sign_in(&api, &sub, &claims).await);
    assert!(first.created, "{:?}", first.user);
    for _ in 0..2 {
        let again = signed_in(&google.sign_in(&api, &sub, &claims).await);
        assert!(!again.created, "{:?}", again.user);
        assert_eq!(again.user["id"], first.user["id"]);
        assert_eq!(again.user["username"], first.user["username"]);
        assert_tokens_work(&api, &again).await;
    }
}

// ---------------------------------------------------------------------------
// Accounts: linking, conflicts, usernames, passwords

#[tokio::test]
async fn a_verified_email_of_a_registered_user_links_the_sign_in_to_them() {
    let api = Api::new();
    let (username, password, user) = api.register_user().await;
    let email = user["email"].as_str().expect("the user's email").to_owned();
    let google = OidcMock::google();
    let sub = unique("g-");
    let claims = json!({"email": email, "email_verified": true, "name": "Linked", "preferred_username": unique("g")});

    let signed = signed_in(&google.sign_in(&api, &sub, &claims).await);
    assert!(!signed.created, "linked, not created: {:?}", signed.user);
    assert_eq!(signed.user["id"], user["id"]);
    assert_eq!(signed.user["username"], username.as_str(), "the registered user keeps their username");
    assert_tokens_work(&api, &signed).await;
    assert!(identity_item("google", &sub).await.is_some(), "IDENTITY#google#{sub} is stored");
    assert_eq!(users_with_email(&email).await, [signed.user_id()], "no second user with the address");

    // Registered and never verified, the account is the Google user's now:
    // the registration's password is gone (no pre-hijacking), the address
    // verified, and the next Google sign-in is theirs too.
    assert_eq!(signed.user["email_verified"], true);
    let refused = api.post_json("/api/v1/auth/token", &json!({"username": username, "password": password})).await;
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    let again = signed_in(&google.sign_in(&api, &sub, &claims).await);
    assert!(!again.created);
    assert_eq!(again.user["id"], user["id"]);
}

#[tokio::test]
async fn a_github_primary_verified_email_of_a_registered_user_links_to_them() {
    let api = Api::new();
    let (_, _, user) = api.register_user().await;
    let email = user["email"].as_str().expect("the user's email").to_owned();
    let github = GitHubFake::shared();
    let login = unique("gh");
    github
        .put_user(&login, unique_github_id(), "Linked", &json!([{"email": email, "primary": true, "verified": true}]))
        .await;
    let signed = signed_in(&github.sign_in(&api, &login).await);
    assert!(!signed.created, "{:?}", signed.user);
    assert_eq!(signed.user["id"], user["id"]);
    assert_eq!(users_with_email(&email).await, [signed.user_id()]);
}

#[tokio::test]
async fn an_unverified_email_of_a_registered_user_is_a_conflict_that_creates_nothing() {
    let api = Api::new();
    let (_, _, user) = api.register_user().await;
    let email = user["email"].as_str().expect("the user's email").to_owned();
    let google = OidcMock::google();
    let cases = [
        ("email_verified false", json!({"email": email, "email_verified": false, "preferred_username": unique("g")})),
        ("no email_verified", json!({"email": email, "preferred_username": unique("g")})),
    ];
    for (case, claims) in &cases {
        let sub = unique("g-");
        let reply = google.sign_in(&api, &sub, claims).await;
        assert_error(reply.status, &reply.body, 409, "conflict");
        assert!(identity_item("google", &sub).await.is_none(), "{case}: no identity stored");
        assert_eq!(users_with_email(&email).await, [user["id"].as_str().unwrap()], "{case}: no user created");

        // Once the provider has verified the address, the same account links.
        let mut verified = claims.clone();
        verified["email_verified"] = json!(true);
        let signed = signed_in(&google.sign_in(&api, &sub, &verified).await);
        assert!(!signed.created, "{case}: {:?}", signed.user);
        assert_eq!(signed.user["id"], user["id"], "{case}");
    }
}

#[tokio::test]
async fn a_taken_username_from_an_openid_provider_is_made_unique() {
    let api = Api::new();
    let (taken, _, _) = api.register_user().await;
    let google = OidcMock::google();
    let mut seen = vec![taken.clone()];
    for _ in 0..2 {
        let email = format!("{}@example.com", unique("taken-"));
        let claims = json!({"email": email, "email_verified": true, "preferred_username": taken});
        let signed = signed_in(&google.sign_in(&api, &unique("g-"), &claims).await);
        assert!(signed.created, "{:?}", signed.user);
        let username = signed.username().to_owned();
        assert_valid_username(&username);
        assert!(username.starts_with(&taken), "{username} is derived from {taken}");
        assert!(!seen.iter().any(|other| other.eq_ignore_ascii_case(&username)), "{username} is unique: {seen:?}");
        seen.push(username);
    }
}

#[tokio::test]
async fn a_taken_github_login_is_made_unique() {
    let api = Api::new();
    // `u` and a ULID: a valid GitHub login too.
    let (taken, _, _) = api.register_user().await;
    let github = GitHubFake::shared();
    let email = format!("{}@users.example", unique("gh-"));
    github
        .put_user(&taken, unique_github_id(), "Taken", &json!([{"email": email, "primary": true, "verified": true}]))
        .await;
    let signed = signed_in(&github.sign_in(&api, &taken).await);
    assert!(signed.created, "{:?}", signed.user);
    let username = signed.username();
    assert_valid_username(username);
    assert!(username.starts_with(&taken), "{username} is derived from {taken}");
    assert!(!username.eq_ignore_ascii_case(&taken), "{username} is not the taken {taken}");
}

#[tokio::test]
async fn a_social_only_user_cannot_sign_in_with_a_password() {
    let api = Api::new();
    let google = OidcMock::google();
    let email = format!("{}@example.com", unique("nopass-"));
    let claims = json!({"email": email, "email_verified": true, "preferred_username": unique("g")});
    let signed = signed_in(&google.sign_in(&api, &unique("g-"), &claims).await);
    assert!(signed.created);

    let unknown =
        api.post_json("/api/v1/auth/token", &json!({"username": unique("nobody"), "password": "any-password-1"})).await;
    let (status, unknown_body) = status_and_json(unknown).await;
    assert_error(status, &unknown_body, 401, "not_authenticated");
    for password in ["correct-horse-battery", "any-password-1"] {
        let response =
            api.post_json("/api/v1/auth/token", &json!({"username": signed.username(), "password": password})).await;
        let (status, body) = status_and_json(response).await;
        assert_error(status, &body, 401, "not_authenticated");
        assert_eq!(body, unknown_body, "the same answer as for a user that does not exist");
    }
}

#[tokio::test]
async fn a_github_account_without_a_verified_primary_email_is_refused_and_creates_nothing() {
    let api = Api::new();
    let github = GitHubFake::shared();
    let cases = [
        ("unverified primary", vec![(true, false), (false, true)]),
        ("no primary", vec![(false, true), (false, false)]),
        ("no email at all", vec![]),
    ];
    for (case, shape) in cases {
        let login = unique("gh");
        let id = unique_github_id();
        let addresses: Vec<String> = (0..shape.len()).map(|i| format!("{i}-{login}@users.example")).collect();
        let emails: Vec<Value> = shape
            .iter()
            .zip(&addresses)
            .map(|((primary, verified), email)| json!({"email": email, "primary": primary, "verified": verified}))
            .collect();
        github.put_user(&login, id, "No Verified Primary", &Value::Array(emails)).await;
        let reply = github.sign_in(&api, &login).await;
        assert_error(reply.status, &reply.body, 400, "bad_request");
        for address in &addresses {
            assert_eq!(users_with_email(address).await, Vec::<String>::new(), "{case}: no user with {address}");
        }

        // Once GitHub has a verified primary address, this is the account's
        // first sign-in: nothing was made of the refused one.
        let fixed = format!("fixed-{login}@users.example");
        github.put_user(&login, id, "Verified", &json!([{"email": fixed, "primary": true, "verified": true}])).await;
        let signed = signed_in(&github.sign_in(&api, &login).await);
        assert!(signed.created, "{case}: {:?}", signed.user);
        assert_eq!(signed.user["email"], fixed.as_str(), "{case}");
    }
}

// ---------------------------------------------------------------------------
// The state and the code

#[tokio::test]
async fn a_state_is_good_once() {
    let api = Api::new();
    let google = OidcMock::google();
    let sub = unique("g-");
    google.put_user(&sub, &json!({"email": format!("{}@example.com", unique("once-")), "email_verified": true})).await;
    let started = start(&api, "google").await;
    let code = google.authorize(&started, &sub).await;
    signed_in(&callback(&api, "google", &code, &started.state).await);

    // The same code and state again.
    let reply = callback(&api, "google", &code, &started.state).await;
    assert_error(reply.status, &reply.body, 400, "bad_request");
    // A fresh code from the provider, with the used state.
    let fresh = google.authorize(&started, &sub).await;
    let reply = callback(&api, "google", &fresh, &started.state).await;
    assert_error(reply.status, &reply.body, 400, "bad_request");
}

#[tokio::test]
async fn an_unknown_state_is_refused_and_leaves_the_real_one_alone() {
    let api = Api::new();
    let google = OidcMock::google();
    let sub = unique("g-");
    google
        .put_user(&sub, &json!({"email": format!("{}@example.com", unique("unknown-")), "email_verified": true}))
        .await;
    let started = start(&api, "google").await;
    let code = google.authorize(&started, &sub).await;
    for state in [unique("state-"), format!("{}x", started.state), started.state.to_uppercase()] {
        if state == started.state {
            continue;
        }
        let reply = callback(&api, "google", &code, &state).await;
        assert_error(reply.status, &reply.body, 400, "bad_request");
    }
    // The code was not spent on them: with its own state it still works.
    let signed = signed_in(&callback(&api, "google", &code, &started.state).await);
    assert!(signed.created);
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let api = Api::new();
    let google = OidcMock::google();
    let sub = unique("g-");
    let email = format!("{}@example.com", unique("expired-"));
    google.put_user(&sub, &json!({"email": email, "email_verified": true})).await;
    let started = start(&api, "google").await;
    let code = google.authorize(&started, &sub).await;
    expire_state(&started.state).await;
    let reply = callback(&api, "google", &code, &started.state).await;
    assert_error(reply.status, &reply.body, 400, "bad_request");
    assert!(identity_item("google", &sub).await.is_none());
    assert_eq!(users_with_email(&email).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_state_issued_for_another_provider_is_refused() {
    let api = Api::new();
    let google = OidcMock::google();
    let sub = unique("g-");
    google.put_user(&sub, &json!({"email": format!("{}@example.com", unique("other-")), "email_verified": true})).await;
    let started = start(&api, "google").await;
    let code = google.authorize(&started, &sub).await;
    for provider in ["github", "company"] {
        let reply = callback(&api, provider, &code, &started.state).await;
        assert_error(reply.status, &reply.body, 400, "bad_request");
    }
    assert!(identity_item("google", &sub).await.is_none());

    let github_state = start(&api, "github").await.state;
    for provider in ["google", "company"] {
        let reply = callback(&api, provider, "some-code", &github_state).await;
        assert_error(reply.status, &reply.body, 400, "bad_request");
    }
}

#[tokio::test]
async fn of_concurrent_callbacks_with_one_state_exactly_one_signs_in() {
    let api = Api::new();
    let google = OidcMock::google();
    let sub = unique("g-");
    let claims = json!({"email": format!("{}@example.com", unique("race-")), "email_verified": true});
    google.put_user(&sub, &claims).await;
    let started = start(&api, "google").await;
    let code = google.authorize(&started, &sub).await;

    let replies: Vec<Reply> = all_at_once(
        (0..5)
            .map(|_| {
                let (api, code, state) = (api.clone(), code.clone(), started.state.clone());
                async move { callback(&api, "google", &code, &state).await }
            })
            .collect(),
    )
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
        assert_error(reply.status, &reply.body, 400, "bad_request");
    }
    let winner = signed_in(replies.iter().find(|r| r.status == StatusCode::OK).expect("the winner"));
    assert!(winner.created);

    // One user was made: the next sign-in is theirs.
    let again = signed_in(&google.sign_in(&api, &sub, &claims).await);
    assert!(!again.created);
    assert_eq!(again.user["id"], winner.user["id"]);
}

#[tokio::test]
async fn a_code_the_provider_refuses_is_a_bad_request() {
    let api = Api::new();
    for provider in ["google", "company", "github"] {
        let started = start(&api, provider).await;
        let reply = callback(&api, provider, &unique("made-up-code-"), &started.state).await;
        assert_error(reply.status, &reply.body, 400, "bad_request");
    }
}

// ---------------------------------------------------------------------------
// Company sign-on: the domain allowlist

#[tokio::test]
async fn a_company_sign_in_from_another_domain_is_forbidden_and_creates_nothing() {
    let api = Api::new();
    let company = OidcMock::company();
    let allowed = allowed_domain();
    let others = [format!("not{allowed}"), format!("{allowed}.evil.test"), "example.com".to_owned()];
    for domain in &others {
        assert!(!allowed_domains().contains(domain), "{domain} is allowed");
        let sub = unique("c-");
        let email = format!("{}@{domain}", unique("c"));
        let claims = json!({"email": email, "email_verified": true, "preferred_username": unique("c")});
        let reply = company.sign_in(&api, &sub, &claims).await;
        assert_error(reply.status, &reply.body, 403, "permission_denied");
        assert!(identity_item("company", &sub).await.is_none(), "{domain}");
        assert_eq!(users_with_email(&email).await, Vec::<String>::new(), "{domain}");

        // The same account with an address of the company: its first sign-in.
        let moved = json!({"email": format!("{}@{allowed}", unique("c")), "email_verified": true});
        let signed = signed_in(&company.sign_in(&api, &sub, &moved).await);
        assert!(signed.created, "{domain}: {:?}", signed.user);
    }
}

// ---------------------------------------------------------------------------
// ID tokens, through the test issuer (one test at a time: a fixed port)

/// The turn of the tests that start the test issuer.
static ROGUE_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The test issuer, started for one test; killed (then the turn passed on)
/// when dropped.
struct OwnIssuer {
    issuer: RogueIssuer,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

async fn own_rogue_issuer() -> OwnIssuer {
    let turn = ROGUE_TURN.lock().await;
    OwnIssuer { issuer: start_rogue_issuer().await, _turn: turn }
}

/// Claims of a fresh account at the test issuer, from the allowed domain.
fn rogue_claims() -> (String, String, Value) {
    let sub = unique("r-");
    let email = format!("{}@{}", unique("r"), allowed_domain());
    let claims = json!({"sub": sub, "email": email, "email_verified": true, "preferred_username": unique("r")});
    (sub, email, claims)
}

#[tokio::test]
async fn a_sign_in_through_the_test_issuer_exchanges_the_code_with_pkce() {
    let own = own_rogue_issuer().await;
    let api = Api::new();
    let (sub, email, claims) = rogue_claims();
    own.issuer.set_mode("valid", Some(&claims)).await;
    let started = start(&api, "rogue").await;
    let client_id = required_setting("SOCIAL_ROGUE_CLIENT_ID");
    assert_oidc_authorization_url(&started, &own.issuer.discovery().await, &client_id);
    let code = own.issuer.authorize(&started).await;
    let signed = signed_in(&callback(&api, "rogue", &code, &started.state).await);
    assert!(signed.created, "{:?}", signed.user);
    assert_eq!(signed.user["email"], email.as_str());
    assert_tokens_work(&api, &signed).await;
    assert!(identity_item("rogue", &sub).await.is_some(), "IDENTITY#rogue#{sub} is stored");

    // One token request: this client, this redirect URI, the verifier of
    // the challenge (the issuer refuses the code otherwise).
    let calls = own.issuer.calls().await;
    let requests = calls["token_requests"].as_array().unwrap_or_else(|| panic!("{calls}"));
    assert_eq!(requests.len(), 1, "{calls}");
    let request = &requests[0];
    assert_eq!(request["client_id"], client_id.as_str(), "{request}");
    assert_eq!(request["redirect_uri"], redirect_uri().as_str(), "{request}");
    assert_eq!(request["pkce"], "ok", "{request}");
    assert_eq!(request["outcome"], "issued", "{request}");
}

/// Signs in with an ID token made as `mode` says: a 401 that creates
/// nothing; then the same account with a good token signs in (so it was the
/// token that was refused, and nothing of it was kept).
async fn assert_id_token_refused(mode: &str) {
    let own = own_rogue_issuer().await;
    let api = Api::new();
    let (sub, email, claims) = rogue_claims();
    own.issuer.set_mode(mode, Some(&claims)).await;
    let reply = own.issuer.sign_in(&api).await;
    assert_error(reply.status, &reply.body, 401, "not_authenticated");
    let calls = own.issuer.calls().await;
    let last = calls["token_requests"].as_array().and_then(|r| r.last()).cloned().unwrap_or_default();
    assert_eq!(last["outcome"], "issued", "the issuer gave a token ({mode}), the service refused it: {calls}");
    assert!(identity_item("rogue", &sub).await.is_none(), "{mode}");
    assert_eq!(users_with_email(&email).await, Vec::<String>::new(), "{mode}");

    own.issuer.set_mode("valid", None).await;
    let signed = signed_in(&own.issuer.sign_in(&api).await);
    assert!(signed.created, "{mode}: {:?}", signed.user);
}

#[tokio::test]
async fn an_id_token_with_a_bad_signature_is_refused() {
    assert_id_token_refused("bad_signature").await;
}

#[tokio::test]
async fn an_id_token_without_kid_and_with_a_bad_signature_is_refused() {
    assert_id_token_refused("no_kid_bad_signature").await;
}

#[tokio::test]
async fn an_id_token_of_another_issuer_is_refused() {
    assert_id_token_refused("wrong_iss").await;
}

#[tokio::test]
async fn an_id_token_for_another_audience_is_refused() {
    assert_id_token_refused("wrong_aud").await;
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    assert_id_token_refused("expired").await;
}

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused() {
    assert_id_token_refused("wrong_nonce").await;
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched_again_and_accepted() {
    let own = own_rogue_issuer().await;
    let api = Api::new();
    let (_, _, claims) = rogue_claims();
    let before = own.issuer.set_mode("valid", Some(&claims)).await;
    // The service has the current key (it caches the JWKS).
    let first = signed_in(&own.issuer.sign_in(&api).await);
    assert!(first.created);
    let fetched = own.issuer.count("jwks").await;

    let rotated = own.issuer.set_mode("rotate", None).await;
    assert_ne!(rotated["kid"], before["kid"], "{rotated}");
    let again = signed_in(&own.issuer.sign_in(&api).await);
    assert!(!again.created);
    assert_eq!(again.user["id"], first.user["id"]);
    assert!(own.issuer.count("jwks").await > fetched, "the unknown kid made the service fetch the JWKS again");
}

#[tokio::test]
async fn an_id_token_without_kid_is_checked_against_the_jwks() {
    let own = own_rogue_issuer().await;
    let api = Api::new();
    let (_, _, claims) = rogue_claims();
    own.issuer.set_mode("valid", Some(&claims)).await;
    let first = signed_in(&own.issuer.sign_in(&api).await);
    own.issuer.set_mode("no_kid", None).await;
    let again = signed_in(&own.issuer.sign_in(&api).await);
    assert!(!again.created);
    assert_eq!(again.user["id"], first.user["id"]);
}

#[tokio::test]
async fn the_jwks_is_not_fetched_for_every_sign_in() {
    let own = own_rogue_issuer().await;
    let api = Api::new();
    let (_, _, claims) = rogue_claims();
    own.issuer.set_mode("valid", Some(&claims)).await;
    // Each instance of the function may fetch the JWKS once; sign in more
    // times than there are instances.
    let instances: u64 = setting("GATEWAY_MAX_INSTANCES").and_then(|v| v.parse().ok()).unwrap_or(4);
    let before = own.issuer.calls().await;
    for _ in 0..instances + 3 {
        signed_in(&own.issuer.sign_in(&api).await);
    }
    let after = own.issuer.calls().await;
    let fetched = after["jwks"].as_u64().unwrap_or(0) - before["jwks"].as_u64().unwrap_or(0);
    assert!(fetched <= instances, "the JWKS fetched {fetched} times for {} sign-ins", instances + 3);
}

#[tokio::test]
async fn a_sign_in_through_the_test_issuer_from_another_domain_is_forbidden() {
    let own = own_rogue_issuer().await;
    let api = Api::new();
    let sub = unique("r-");
    let email = format!("{}@not{}", unique("r"), allowed_domain());
    own.issuer.set_mode("valid", Some(&json!({"sub": sub, "email": email, "email_verified": true}))).await;
    let reply = own.issuer.sign_in(&api).await;
    assert_error(reply.status, &reply.body, 403, "permission_denied");
    assert!(identity_item("rogue", &sub).await.is_none());
    assert_eq!(users_with_email(&email).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_provider_that_does_not_answer_is_a_503() {
    let mut own = own_rogue_issuer().await;
    let api = Api::new();
    let (sub, _, claims) = rogue_claims();
    own.issuer.set_mode("valid", Some(&claims)).await;
    let started = start(&api, "rogue").await;
    let code = own.issuer.authorize(&started).await;

    own.issuer.stop().await;
    let started_at = std::time::Instant::now();
    let reply = callback(&api, "rogue", &code, &started.state).await;
    assert_error(reply.status, &reply.body, 503, "service_unavailable");
    let retry_after = header(&reply, "retry-after").and_then(|v| v.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|s| s >= 1), "Retry-After in seconds: {:?}", reply.headers);
    assert!(started_at.elapsed() < Duration::from_secs(10), "{:?}", started_at.elapsed());
    assert!(identity_item("rogue", &sub).await.is_none());
}

// ---------------------------------------------------------------------------
// Helpers

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).and_then(|value| value.to_str().ok())
}

/// The contract's username rule: 3–150 letters, digits and `@.+-_`.
fn assert_valid_username(username: &str) {
    assert!(
        (3..=150).contains(&username.chars().count())
            && username.chars().all(|c| c.is_ascii_alphanumeric() || "@.+-_".contains(c)),
        "{username:?} is a valid username"
    );
}
