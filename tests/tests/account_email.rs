//! Account email end to end: the auth endpoints queue it, the mailer sends
//! it through moto's SES, and the links it carries are spent over HTTP.
//!
//! Covered: registering sends one verification email whose link verifies
//! the address once (the token kept only as a hash); the first verification
//! brings one welcome, and a verified address cannot ask for another link;
//! a resent link voids the older one, and resending needs a signed-in
//! caller; made-up, missing and other-kind tokens are refused and leave the
//! account as it was; a password reset link sets a new password, ends every
//! login, is good once and counts the address as verified; a password the
//! rules refuse leaves the link good; of two concurrent uses of one link
//! exactly one wins; a reset for an address nobody has is answered alike,
//! takes as long (medians of alternated requests) and sends nothing; a
//! suppressed address gets no account email while the answers stay the
//! same; a Google sign-in with the verified address takes an unverified
//! registration over (its password and refresh tokens stop working), and
//! links to a verified one without touching its password.
//!
//! Not here: the `email` throttle at its limit (the local stack sets it far
//! above production's `5/hour`), and the mailer's once-only sending under
//! redelivery.
//!
//! Every test uses addresses and usernames of its own, so the tests run
//! side by side with each other and with the other suites.

use std::time::{Duration, Instant};

use commerce_ops::ses_events::{Kind, notification};
use e2e_tests::commerce::{Reply, all_at_once, aws_config, call, emails_to, eventually, log_lines, unique_email};
use e2e_tests::social::{OidcMock, SignedIn, assert_tokens_work, keys, unique};
use e2e_tests::{Api, Item, assert_error, item_at, required_setting, unique_username};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const REGISTER: &str = "/api/v1/auth/register";
const TOKEN: &str = "/api/v1/auth/token";
const REFRESH: &str = "/api/v1/auth/token/refresh";
const ME: &str = "/api/v1/auth/me";
const VERIFY: &str = "/api/v1/auth/email/verify";
const RESEND: &str = "/api/v1/auth/email/verify/resend";
const RESET: &str = "/api/v1/auth/password/reset";
const RESET_CONFIRM: &str = "/api/v1/auth/password/reset/confirm";

const VERIFICATION_SUBJECT: &str = "Confirm your email address";
const RESET_SUBJECT: &str = "Reset your password";
/// Followed by the username.
const WELCOME_SUBJECT: &str = "Welcome, ";

/// The password every user of this suite registers with.
const PASSWORD: &str = "correct-horse-battery";

/// Every user object has exactly these fields.
const USER_FIELDS: [&str; 6] = ["date_joined", "email", "email_verified", "id", "is_staff", "username"];

/// An account email goes through the mail queue and the mailer to moto.
const MAILED_WITHIN: Duration = Duration::from_secs(30);
/// A bounce published to the email-events topic is on the list within a
/// poll or two of its queue.
const SUPPRESSED_WITHIN: Duration = Duration::from_secs(20);

/// Reset requests timed for each kind of address (known, unknown).
const TIMED_REQUESTS: usize = 30;
/// Untimed requests first, so neither kind pays for a cold start.
const WARM_UP_REQUESTS: usize = 3;
/// How far apart the median times of a reset request for a known and for
/// an unknown address may be: 25 % of the larger median, and never less
/// than 5 ms (loopback noise on a busy machine). Looking the user up or
/// sending the email on the request path of one kind only costs more than
/// that.
const TIMING_TOLERANCE_SHARE: f64 = 0.25;
const TIMING_TOLERANCE_FLOOR: Duration = Duration::from_millis(5);

// ---------------------------------------------------------------------------
// Verification

#[tokio::test]
async fn registering_sends_one_verification_email_whose_link_verifies_the_address_once() {
    let api = Api::new();
    let email = unique_email();
    let registered = register_with_email(&api, &email).await;
    assert_eq!(me(&api, &sign_in_access(&api, &registered.username).await).await["email_verified"], false);

    let letter = newest_email(&email, VERIFICATION_SUBJECT, 1).await;
    assert_eq!(letter["subject"], VERIFICATION_SUBJECT, "{letter}");
    assert_eq!(letter["source"], required_setting("SES_FROM_ADDRESS"), "{letter}");
    let token = token_from(body_of(&letter), &required_setting("EMAIL_VERIFY_URL"));
    assert_token_shape(&token);

    // Only a hash of the token is kept.
    let stored = item_at(&format!("USER#{}", registered.id), "TOKEN#email_verification")
        .await
        .expect("the live verification token is stored beside the user");
    assert_token_not_stored(&stored, &token);

    let reply = post(&api, VERIFY, &json!({"token": token})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    assert_user(&reply.body, true);
    for field in ["id", "username", "email"] {
        assert_eq!(reply.body[field], registered.user[field], "the registered user: {}", reply.body);
    }
    assert_eq!(me(&api, &sign_in_access(&api, &registered.username).await).await["email_verified"], true);

    // Good once.
    let again = post(&api, VERIFY, &json!({"token": token})).await;
    assert_error(again.status, &again.body, 400, "bad_request");
    assert_eq!(emails_about(&email, VERIFICATION_SUBJECT).await.len(), 1, "one verification email per registration");
}

#[tokio::test]
async fn the_first_verification_brings_one_welcome_and_a_verified_address_gets_no_new_link() {
    let api = Api::new();
    let email = unique_email();
    let registered = register_with_email(&api, &email).await;
    let token = verification_token(&email, 1).await;
    let verified = post(&api, VERIFY, &json!({"token": token})).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);

    let access = sign_in_access(&api, &registered.username).await;
    let resend = call(&api, Method::POST, RESEND, Some(&access), None, Some(&json!({}))).await;
    assert_error(resend.status, &resend.body, 409, "conflict");
    let reused = post(&api, VERIFY, &json!({"token": token})).await;
    assert_error(reused.status, &reused.body, 400, "bad_request");

    let welcome = newest_email(&email, WELCOME_SUBJECT, 1).await;
    assert_eq!(welcome["subject"], format!("{WELCOME_SUBJECT}{}", registered.username), "{welcome}");

    // Mail the mailer handles after the welcome: by the time it arrives,
    // a second welcome or verification email would have had its chance.
    let reset = post(&api, RESET, &json!({"email": email})).await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.body);
    newest_email(&email, RESET_SUBJECT, 1).await;
    assert_eq!(emails_about(&email, WELCOME_SUBJECT).await.len(), 1, "one welcome");
    assert_eq!(emails_about(&email, VERIFICATION_SUBJECT).await.len(), 1, "one verification email");
}

#[tokio::test]
async fn a_resent_link_voids_the_older_one() {
    let api = Api::new();
    let email = unique_email();
    let registered = register_with_email(&api, &email).await;
    let first = verification_token(&email, 1).await;

    let anonymous = call(&api, Method::POST, RESEND, None, None, Some(&json!({}))).await;
    assert_error(anonymous.status, &anonymous.body, 401, "not_authenticated");

    let access = sign_in_access(&api, &registered.username).await;
    let resend = call(&api, Method::POST, RESEND, Some(&access), None, Some(&json!({}))).await;
    assert_eq!(resend.status, StatusCode::ACCEPTED, "{}", resend.body);
    assert_eq!(resend.body, json!({}));

    let second = verification_token(&email, 2).await;
    assert_token_shape(&second);
    assert_ne!(second, first, "a new link");

    let voided = post(&api, VERIFY, &json!({"token": first})).await;
    assert_error(voided.status, &voided.body, 400, "bad_request");
    assert_eq!(me(&api, &access).await["email_verified"], false, "a voided link verifies nothing");

    let verified = post(&api, VERIFY, &json!({"token": second})).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert_user(&verified.body, true);
    assert_eq!(verified.body["id"], registered.id.as_str());

    let resend = call(&api, Method::POST, RESEND, Some(&access), None, Some(&json!({}))).await;
    assert_error(resend.status, &resend.body, 409, "conflict");
}

#[tokio::test]
async fn made_up_and_missing_tokens_are_refused_and_change_nothing() {
    let api = Api::new();
    let email = unique_email();
    let registered = register_with_email(&api, &email).await;

    let reply = post(&api, VERIFY, &json!({})).await;
    assert_error(reply.status, &reply.body, 400, "validation_error");
    assert!(reply.body["errors"]["token"].is_array(), "{}", reply.body);

    let reply = post(&api, RESET_CONFIRM, &json!({})).await;
    assert_error(reply.status, &reply.body, 400, "validation_error");
    for field in ["token", "password"] {
        assert!(reply.body["errors"][field].is_array(), "{field}: {}", reply.body);
    }

    for body in [json!({}), json!({"email": "not-an-email"})] {
        let reply = post(&api, RESET, &body).await;
        assert_error(reply.status, &reply.body, 400, "validation_error");
        assert!(reply.body["errors"]["email"].is_array(), "{body} → {}", reply.body);
    }

    // Malformed, and well-formed but never issued (for this user, and for
    // a user nobody has).
    let made_up = [
        "not-a-token".to_owned(),
        format!("{}.{}", registered.id, "A".repeat(43)),
        format!("{}.{}", ulid::Ulid::new(), "A".repeat(43)),
    ];
    for token in &made_up {
        let reply = post(&api, VERIFY, &json!({"token": token})).await;
        assert_error(reply.status, &reply.body, 400, "bad_request");
        let reply = post(&api, RESET_CONFIRM, &json!({"token": token, "password": "a-brand-new-password"})).await;
        assert_error(reply.status, &reply.body, 400, "bad_request");
    }

    // The account is as it was: unverified, its password unchanged.
    let access = sign_in_access(&api, &registered.username).await;
    assert_eq!(me(&api, &access).await["email_verified"], false);
}

#[tokio::test]
async fn a_link_of_one_kind_is_refused_by_the_other_and_stays_good() {
    let api = Api::new();
    let email = unique_email();
    let registered = register_with_email(&api, &email).await;
    let verification = verification_token(&email, 1).await;
    let requested = post(&api, RESET, &json!({"email": email})).await;
    assert_eq!(requested.status, StatusCode::ACCEPTED, "{}", requested.body);
    let reset = reset_token(&email).await;

    let reply = post(&api, VERIFY, &json!({"token": reset})).await;
    assert_error(reply.status, &reply.body, 400, "bad_request");
    let new_password = "a-password-of-my-own";
    let reply = post(&api, RESET_CONFIRM, &json!({"token": verification, "password": new_password})).await;
    assert_error(reply.status, &reply.body, 400, "bad_request");
    assert_eq!(password_sign_in(&api, &registered.username, PASSWORD).await.status, StatusCode::OK);

    let reply = post(&api, VERIFY, &json!({"token": verification})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_user(&reply.body, true);
    assert_reset_sets_password(&api, &reset, &registered.username, new_password).await;
}

// ---------------------------------------------------------------------------
// Password reset

#[tokio::test]
async fn a_reset_link_sets_a_new_password_ends_every_login_and_verifies_the_address() {
    let api = Api::new();
    let email = unique_email();
    let registered = register_with_email(&api, &email).await;
    // Two logins, each with its refresh token.
    let logins = [api.sign_in(&registered.username, PASSWORD).await, api.sign_in(&registered.username, PASSWORD).await];

    let requested = post(&api, RESET, &json!({"email": email})).await;
    assert_eq!(requested.status, StatusCode::ACCEPTED, "{}", requested.body);
    assert_eq!(requested.body, json!({}));
    let letter = newest_email(&email, RESET_SUBJECT, 1).await;
    assert_eq!(letter["subject"], RESET_SUBJECT, "{letter}");
    assert_eq!(letter["source"], required_setting("SES_FROM_ADDRESS"), "{letter}");
    let token = token_from(body_of(&letter), &required_setting("PASSWORD_RESET_URL"));
    assert_token_shape(&token);

    let new_password = "a-fresh-start-2";
    let confirmed = post(&api, RESET_CONFIRM, &json!({"token": token, "password": new_password})).await;
    assert_eq!(confirmed.status, StatusCode::NO_CONTENT, "{}", confirmed.body);
    assert_eq!(confirmed.body, Value::Null, "a 204 has no body");

    let old = password_sign_in(&api, &registered.username, PASSWORD).await;
    assert_error(old.status, &old.body, 401, "not_authenticated");
    let fresh = password_sign_in(&api, &registered.username, new_password).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);

    for login in &logins {
        let refresh = login["refresh"].as_str().expect("a refresh token");
        let reply = post(&api, REFRESH, &json!({"refresh": refresh})).await;
        assert_error(reply.status, &reply.body, 401, "token_not_valid");
    }

    let spent = post(&api, RESET_CONFIRM, &json!({"token": token, "password": "yet-another-password"})).await;
    assert_error(spent.status, &spent.body, 400, "bad_request");
    let fresh_access = fresh.body["access"].as_str().expect("an access token");
    let user = me(&api, fresh_access).await;
    assert_user(&user, true);
    assert_eq!(user["id"], registered.id.as_str());
    // The new login is unaffected by the spent link's second try.
    let refresh = fresh.body["refresh"].as_str().expect("a refresh token");
    assert_eq!(post(&api, REFRESH, &json!({"refresh": refresh})).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_password_the_rules_refuse_leaves_the_reset_link_good() {
    let api = Api::new();
    let email = unique_email();
    let registered = register_with_email(&api, &email).await;
    let requested = post(&api, RESET, &json!({"email": email})).await;
    assert_eq!(requested.status, StatusCode::ACCEPTED, "{}", requested.body);
    let token = reset_token(&email).await;

    for refused in ["short", "12345678901"] {
        let reply = post(&api, RESET_CONFIRM, &json!({"token": token, "password": refused})).await;
        assert_error(reply.status, &reply.body, 400, "validation_error");
        assert!(reply.body["errors"]["password"].is_array(), "{refused}: {}", reply.body);
    }
    assert_eq!(password_sign_in(&api, &registered.username, PASSWORD).await.status, StatusCode::OK, "unchanged");

    let new_password = "long-enough-this-time";
    assert_reset_sets_password(&api, &token, &registered.username, new_password).await;
}

#[tokio::test]
async fn of_two_concurrent_uses_of_one_reset_link_exactly_one_wins() {
    let api = Api::new();
    let email = unique_email();
    let registered = register_with_email(&api, &email).await;
    let requested = post(&api, RESET, &json!({"email": email})).await;
    assert_eq!(requested.status, StatusCode::ACCEPTED, "{}", requested.body);
    let token = reset_token(&email).await;

    let attempts: Vec<_> = ["first-racing-password", "second-racing-password"]
        .into_iter()
        .map(|password| {
            let (api, token) = (api.clone(), token.clone());
            async move {
                let body = json!({"token": token, "password": password});
                (password, call(&api, Method::POST, RESET_CONFIRM, None, None, Some(&body)).await)
            }
        })
        .collect();
    let replies = all_at_once(attempts).await;

    let (winners, losers): (Vec<_>, Vec<_>) =
        replies.iter().partition(|(_, reply)| reply.status == StatusCode::NO_CONTENT);
    let statuses: Vec<_> = replies.iter().map(|(_, reply)| reply.status).collect();
    assert_eq!((winners.len(), losers.len()), (1, 1), "{statuses:?}");
    let (winner, _) = winners[0];
    let (loser, refused) = losers[0];
    assert_error(refused.status, &refused.body, 400, "bad_request");

    assert_eq!(password_sign_in(&api, &registered.username, winner).await.status, StatusCode::OK);
    let reply = password_sign_in(&api, &registered.username, loser).await;
    assert_error(reply.status, &reply.body, 401, "not_authenticated");
}

#[tokio::test]
async fn a_reset_for_an_address_nobody_has_is_answered_alike_and_sends_nothing() {
    let api = Api::new();
    let known = unique_email();
    register_with_email(&api, &known).await;
    let unknown = unique_email();
    let handled_before = mailer_outcomes("password_reset", "nothing_to_send");

    let for_unknown = post(&api, RESET, &json!({"email": unknown})).await;
    let for_known = post(&api, RESET, &json!({"email": known})).await;
    for reply in [&for_unknown, &for_known] {
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        assert_eq!(reply.body, json!({}));
    }
    let content_type = |reply: &Reply| reply.headers.get("content-type").cloned();
    assert_eq!(content_type(&for_unknown), content_type(&for_known));

    // The queue keeps no order: wait for the known address's email and for
    // the mailer to have found nobody to write to.
    newest_email(&known, RESET_SUBJECT, 1).await;
    let what = "the mailer's line for a reset nobody gets";
    eventually(MAILED_WITHIN, what, move || async move {
        (mailer_outcomes("password_reset", "nothing_to_send") > handled_before).then_some(())
    })
    .await;
    let mailed = emails_to(&unknown).await;
    assert!(mailed.is_empty(), "no email to an address nobody has: {mailed:?}");
}

#[tokio::test]
async fn a_reset_request_takes_as_long_for_an_address_nobody_has_as_for_a_known_one() {
    let api = Api::new();
    let mut known = Vec::with_capacity(TIMED_REQUESTS);
    for _ in 0..TIMED_REQUESTS {
        let email = unique_email();
        register_with_email(&api, &email).await;
        known.push(email);
    }
    for _ in 0..WARM_UP_REQUESTS {
        timed_reset(&api, &unique_email()).await;
    }

    // Alternated, and in turn each kind first, so that a change in the
    // machine's load falls on both kinds alike. Every address is asked for
    // once, so no count per address comes near a limit.
    let mut for_known = Vec::with_capacity(TIMED_REQUESTS);
    let mut for_unknown = Vec::with_capacity(TIMED_REQUESTS);
    for (i, address) in known.iter().enumerate() {
        let unknown = unique_email();
        if i.is_multiple_of(2) {
            for_known.push(timed_reset(&api, address).await);
            for_unknown.push(timed_reset(&api, &unknown).await);
        } else {
            for_unknown.push(timed_reset(&api, &unknown).await);
            for_known.push(timed_reset(&api, address).await);
        }
    }

    let known_median = median(&mut for_known);
    let unknown_median = median(&mut for_unknown);
    let larger = known_median.max(unknown_median);
    let tolerance = TIMING_TOLERANCE_FLOOR.max(larger.mul_f64(TIMING_TOLERANCE_SHARE));
    let difference = known_median.abs_diff(unknown_median);
    assert!(
        difference < tolerance,
        "median {known_median:?} for known addresses, {unknown_median:?} for unknown ones: {difference:?} apart, \
         tolerance {tolerance:?}\nknown (ms): {:?}\nunknown (ms): {:?}",
        millis(&for_known),
        millis(&for_unknown),
    );
}

// ---------------------------------------------------------------------------
// Suppression

#[tokio::test]
async fn a_suppressed_address_gets_no_account_email_and_the_same_answers() {
    let api = Api::new();
    let email = unique_email();
    suppress(&email).await;
    let verifications_before = mailer_outcomes("email_verification", "suppressed");
    let resets_before = mailer_outcomes("password_reset", "suppressed");

    // Registration: the same 201, and the mailer holds the email back.
    let registered = register_with_email(&api, &email).await;
    wait_for_mailer_outcome("email_verification", "suppressed", verifications_before).await;

    // A resend: the same 202.
    let access = sign_in_access(&api, &registered.username).await;
    let resend = call(&api, Method::POST, RESEND, Some(&access), None, Some(&json!({}))).await;
    assert_eq!(resend.status, StatusCode::ACCEPTED, "{}", resend.body);
    assert_eq!(resend.body, json!({}));
    wait_for_mailer_outcome("email_verification", "suppressed", verifications_before + 1).await;

    // A reset: the same 202.
    let reset = post(&api, RESET, &json!({"email": email})).await;
    assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.body);
    assert_eq!(reset.body, json!({}));
    wait_for_mailer_outcome("password_reset", "suppressed", resets_before).await;

    let mailed = emails_to(&email).await;
    assert!(mailed.is_empty(), "no email to a suppressed address: {mailed:?}");
    assert_eq!(me(&api, &access).await["email_verified"], false);
}

// ---------------------------------------------------------------------------
// Social sign-in and unverified registrations

#[tokio::test]
async fn a_google_sign_in_with_the_verified_address_takes_an_unverified_registration_over() {
    let api = Api::new();
    let email = unique_email();
    // Someone registers with an address they never prove, and keeps a login.
    let registered = register_with_email(&api, &email).await;
    let squatter = api.sign_in(&registered.username, PASSWORD).await;
    let squatter_refresh = squatter["refresh"].as_str().expect("a refresh token").to_owned();

    // The address's owner signs in with Google, which vouches for it.
    let google = OidcMock::google();
    let sub = unique("g-");
    let claims = json!({"email": email, "email_verified": true, "name": "Owner Of The Address"});
    let signed = social_sign_in(&google.sign_in(&api, &sub, &claims).await);
    assert!(!signed.created, "linked, not created: {}", signed.user);
    assert_eq!(signed.user["id"], registered.id.as_str(), "{}", signed.user);
    assert_eq!(signed.user["email_verified"], true, "{}", signed.user);

    // The registration's password and login are gone.
    let reply = password_sign_in(&api, &registered.username, PASSWORD).await;
    assert_error(reply.status, &reply.body, 401, "not_authenticated");
    let reply = post(&api, REFRESH, &json!({"refresh": squatter_refresh})).await;
    assert_error(reply.status, &reply.body, 401, "token_not_valid");

    // The Google sign-in holds the account.
    let user = me(&api, &signed.access).await;
    assert_eq!(user["id"], registered.id.as_str());
    assert_user(&user, true);
    assert_tokens_work(&api, &signed).await;
}

#[tokio::test]
async fn a_google_sign_in_links_to_a_verified_registration_and_its_password_keeps_working() {
    let api = Api::new();
    let email = unique_email();
    let registered = register_with_email(&api, &email).await;
    let token = verification_token(&email, 1).await;
    let verified = post(&api, VERIFY, &json!({"token": token})).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    let login = api.sign_in(&registered.username, PASSWORD).await;

    let google = OidcMock::google();
    let claims = json!({"email": email, "email_verified": true, "name": "Verified Owner"});
    let signed = social_sign_in(&google.sign_in(&api, &unique("g-"), &claims).await);
    assert!(!signed.created, "linked, not created: {}", signed.user);
    assert_eq!(signed.user["id"], registered.id.as_str(), "{}", signed.user);
    assert_eq!(signed.user["email_verified"], true, "{}", signed.user);
    assert_tokens_work(&api, &signed).await;

    assert_eq!(password_sign_in(&api, &registered.username, PASSWORD).await.status, StatusCode::OK);
    let refresh = login["refresh"].as_str().expect("a refresh token");
    let reply = post(&api, REFRESH, &json!({"refresh": refresh})).await;
    assert_eq!(reply.status, StatusCode::OK, "the login from before the link goes on: {}", reply.body);
}

// ---------------------------------------------------------------------------
// Users, sign-ins, mail and timing

/// A user this suite registered.
struct Registered {
    id: String,
    username: String,
    user: Value,
}

/// `POST /auth/register` with `email`, a fresh username and [`PASSWORD`]:
/// a 201 with an unverified user.
async fn register_with_email(api: &Api, email: &str) -> Registered {
    let username = unique_username();
    let body = json!({"username": username, "email": email, "password": PASSWORD});
    let reply = post(api, REGISTER, &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_user(&reply.body, false);
    assert_eq!(reply.body["email"], email, "{}", reply.body);
    assert_eq!(reply.body["username"], username.as_str(), "{}", reply.body);
    let id = reply.body["id"].as_str().expect("the user's id").to_owned();
    Registered { id, username, user: reply.body }
}

/// The shape every user object has, and its `email_verified`.
fn assert_user(user: &Value, email_verified: bool) {
    assert_eq!(keys(user), USER_FIELDS, "{user}");
    assert_eq!(user["email_verified"], email_verified, "{user}");
}

async fn post(api: &Api, path: &str, body: &Value) -> Reply {
    call(api, Method::POST, path, None, None, Some(body)).await
}

/// `POST /auth/token`, whatever it answers.
/// Confirms a reset with `token`; the new password then signs in.
async fn assert_reset_sets_password(api: &Api, token: &str, username: &str, password: &str) {
    let reply = post(api, RESET_CONFIRM, &json!({"token": token, "password": password})).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(password_sign_in(api, username, password).await.status, StatusCode::OK);
}

async fn password_sign_in(api: &Api, username: &str, password: &str) -> Reply {
    post(api, TOKEN, &json!({"username": username, "password": password})).await
}

/// A fresh access token for a user who still has [`PASSWORD`].
async fn sign_in_access(api: &Api, username: &str) -> String {
    api.sign_in(username, PASSWORD).await["access"].as_str().expect("an access token").to_owned()
}

/// `GET /auth/me`, which must answer 200.
async fn me(api: &Api, access: &str) -> Value {
    let reply = call(api, Method::GET, ME, Some(access), None, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// A social callback's 200: `{access, refresh, user, created}`.
fn social_sign_in(reply: &Reply) -> SignedIn {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(keys(body), ["access", "created", "refresh", "user"], "{body}");
    let token = |name: &str| {
        body[name].as_str().filter(|t| !t.is_empty()).unwrap_or_else(|| panic!("no {name} token in {body}")).to_owned()
    };
    let user = body["user"].clone();
    assert_eq!(keys(&user), USER_FIELDS, "{user}");
    SignedIn {
        access: token("access"),
        refresh: token("refresh"),
        created: body["created"].as_bool().unwrap_or_else(|| panic!("created is not a boolean: {body}")),
        user,
    }
}

/// The emails to `address` whose subject starts with `subject`, oldest
/// first.
async fn emails_about(address: &str, subject: &str) -> Vec<Value> {
    emails_to(address)
        .await
        .into_iter()
        .filter(|email| email["subject"].as_str().is_some_and(|s| s.starts_with(subject)))
        .collect()
}

/// Waits until `address` has at least `count` emails whose subject starts
/// with `subject`; the newest of them.
async fn newest_email(address: &str, subject: &str, count: usize) -> Value {
    let what = format!("{count} email(s) \"{subject}…\" to {address}");
    eventually(MAILED_WITHIN, &what, move || async move {
        let emails = emails_about(address, subject).await;
        if emails.len() >= count { emails.last().cloned() } else { None }
    })
    .await
}

/// The token of the newest verification email to `address`, once it has
/// `count` of them.
async fn verification_token(address: &str, count: usize) -> String {
    let letter = newest_email(address, VERIFICATION_SUBJECT, count).await;
    token_from(body_of(&letter), &required_setting("EMAIL_VERIFY_URL"))
}

/// The token of the first reset email to `address`.
async fn reset_token(address: &str) -> String {
    let letter = newest_email(address, RESET_SUBJECT, 1).await;
    token_from(body_of(&letter), &required_setting("PASSWORD_RESET_URL"))
}

fn body_of(email: &Value) -> &str {
    email["body"].as_str().unwrap_or_else(|| panic!("an email without a body: {email}"))
}

/// The token of the link `{link_base}?token=<token>` in an email's body
/// (its HTML or its text part: both carry the link as it is).
fn token_from(body: &str, link_base: &str) -> String {
    let marker = format!("{link_base}?token=");
    let start = body.find(&marker).unwrap_or_else(|| panic!("no link {marker}… in: {body}")) + marker.len();
    let token: String =
        body[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')).collect();
    assert!(!token.is_empty(), "an empty token after {marker} in: {body}");
    token
}

/// At least 128 random bits, in base64url after the token's last `.`.
fn assert_token_shape(token: &str) {
    let secret = token.rsplit('.').next().unwrap_or_default();
    assert!(
        secret.len() >= 22 && secret.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{token:?}"
    );
}

/// Neither the token nor its random part is anywhere in `item`.
fn assert_token_not_stored(item: &Item, token: &str) {
    let secret = token.rsplit('.').next().unwrap_or_default();
    for (name, value) in item {
        if let Ok(text) = value.as_s() {
            assert!(!text.contains(secret), "{name} holds the token as it is: {item:?}");
        }
    }
}

/// `POST /auth/password/reset` for `email`, timed at the client from the
/// request to the whole answer; it must be the 202 `{}`.
async fn timed_reset(api: &Api, email: &str) -> Duration {
    let started = Instant::now();
    let response = api.post_json(RESET, &json!({"email": email})).await;
    let status = response.status();
    let body = response.text().await.expect("a body");
    let took = started.elapsed();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).ok(), Some(json!({})), "{body}");
    took
}

fn median(samples: &mut [Duration]) -> Duration {
    assert!(!samples.is_empty(), "no samples");
    samples.sort_unstable();
    let middle = samples.len() / 2;
    if samples.len().is_multiple_of(2) { (samples[middle - 1] + samples[middle]) / 2 } else { samples[middle] }
}

fn millis(samples: &[Duration]) -> Vec<f64> {
    samples.iter().map(|d| (d.as_secs_f64() * 10_000.0).round() / 10.0).collect()
}

/// How many of the mailer's `event completed` lines are about an email of
/// `kind` that ended `status`.
fn mailer_outcomes(kind: &str, status: &str) -> usize {
    log_lines(&["\"event completed\"", kind])
        .iter()
        .filter(|line| line["target"] == "mailer" && line["kind"] == kind && line["status"] == status)
        .count()
}

/// Waits until there are more than `before` such lines.
async fn wait_for_mailer_outcome(kind: &str, status: &str, before: usize) {
    let what = format!("a mailer line for {kind} ending {status} (after {before})");
    eventually(MAILED_WITHIN, &what, move || async move { (mailer_outcomes(kind, status) > before).then_some(()) })
        .await
}

/// Puts `address` on the suppression list as a permanent bounce reported
/// by SES would (published to the email-events topic), and waits until it
/// is there.
async fn suppress(address: &str) {
    let sns = aws_sdk_sns::Client::new(&aws_config().await);
    let mail_message_id = format!("e2e-mail-{}", ulid::Ulid::new().to_string().to_lowercase());
    let message = notification(Kind::PermanentBounce, &[address], &mail_message_id);
    sns.publish()
        .topic_arn(required_setting("EMAIL_EVENTS_TOPIC_ARN"))
        .message(message.to_string())
        .send()
        .await
        .expect("SNS takes the notification");
    let what = format!("{address} on the suppression list");
    eventually(SUPPRESSED_WITHIN, &what, move || async move {
        item_at(&format!("EMAIL_ADDRESS#{address}"), "EMAIL_ADDRESS").await.filter(is_suppressed)
    })
    .await;
}

fn is_suppressed(item: &Item) -> bool {
    item.get("suppressed").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false)
}

// ---------------------------------------------------------------------------
// The walk-through

/// `make demo-account` runs its whole walk against the stack: registered,
/// the emailed link used, welcomed, the password reset by the emailed link.
#[tokio::test]
async fn the_account_demo_registers_verifies_and_resets() {
    let said = e2e_tests::commerce::run_tool("account-demo", &[]).await;
    for step in [
        "2. The verification email",
        "the same link again: HTTP 400",
        "4. The welcome email",
        "6. The new password set",
    ] {
        assert!(said.contains(step), "{step}: {said}");
    }
    assert!(said.contains("old password: HTTP 401 Unauthorized; new password: HTTP 200 OK"), "{said}");
    assert!(said.contains("Done: registered, verified, welcomed, reset."), "{said}");
}
