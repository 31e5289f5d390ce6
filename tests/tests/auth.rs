//! The contract's Auth section, driven over HTTP through the local gateway.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use e2e_tests::{Api, assert_error, dynamodb, required_setting, status_and_json, unique_username};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn register_creates_a_user_and_stores_only_a_slow_hash() {
    let api = Api::new();
    let username = unique_username();
    let response = api
        .post_json(
            "/api/v1/auth/register",
            &json!({"username": username, "email": format!("{username}@Example.COM"), "password": "s3cret-horse"}),
        )
        .await;
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["date_joined", "email", "email_verified", "id", "is_staff", "username"]);
    assert_eq!(body["is_staff"], false, "registering never makes staff");
    assert_eq!(body["email_verified"], false, "the address is proved by its link, later");
    assert_eq!(body["username"], username);
    assert_eq!(body["email"], format!("{username}@example.com"));
    assert!(
        time::OffsetDateTime::parse(
            body["date_joined"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .is_ok()
    );

    let (db, table) = dynamodb().await;
    let item = db
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("USER#{}", body["id"].as_str().unwrap())))
        .key("sk", AttributeValue::S("PROFILE".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the user is stored");
    let hash = item["password_hash"].as_s().unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("s3cret-horse"));
    assert!(item.values().all(|v| v.as_s().map_or(true, |s| s != "s3cret-horse")));
}

#[tokio::test]
async fn register_reports_every_invalid_field() {
    let api = Api::new();
    let (status, body) = status_and_json(api.post_json("/api/v1/auth/register", &json!({})).await).await;
    assert_error(status, &body, 400, "validation_error");
    for field in ["username", "email", "password"] {
        assert_eq!(body["errors"][field], json!(["This field is required."]), "{body}");
    }

    let cases = [
        (json!({"username": "ab", "email": "a@b.co", "password": "long-enough"}), "username"),
        (json!({"username": "bad name!", "email": "a@b.co", "password": "long-enough"}), "username"),
        (json!({"username": "x".repeat(151), "email": "a@b.co", "password": "long-enough"}), "username"),
        (json!({"username": unique_username(), "email": "not-an-email", "password": "long-enough"}), "email"),
        (json!({"username": unique_username(), "email": "a@b.co", "password": "short"}), "password"),
        (json!({"username": unique_username(), "email": "a@b.co", "password": "12345678901"}), "password"),
        (json!({"username": 42, "email": "a@b.co", "password": "long-enough"}), "username"),
    ];
    for (input, field) in cases {
        let (status, body) = status_and_json(api.post_json("/api/v1/auth/register", &input).await).await;
        assert_error(status, &body, 400, "validation_error");
        assert!(body["errors"][field].is_array(), "{input} → {body}");
    }
}

#[tokio::test]
async fn a_username_taken_in_any_letter_case_is_a_conflict() {
    let api = Api::new();
    let (username, _, _) = api.register_user().await;
    let shouted = username.to_uppercase();
    let (status, body) = status_and_json(
        api.post_json(
            "/api/v1/auth/register",
            &json!({"username": shouted, "email": "x@y.zz", "password": "another-pass"}),
        )
        .await,
    )
    .await;
    assert_error(status, &body, 409, "conflict");
    // And the loser left nothing behind: the original still signs in alone.
    let (db, table) = dynamodb().await;
    let claim = db
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("USERNAME#{username}")))
        .key("sk", AttributeValue::S("USERNAME".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let owner = claim["user_id"].as_s().unwrap().clone();
    let me = api.sign_in(&shouted, "correct-horse-battery").await;
    let (_, body) = status_and_json(api.get_authed("/api/v1/auth/me", me["access"].as_str().unwrap()).await).await;
    assert_eq!(body["id"], owner.as_str());
}

#[tokio::test]
async fn concurrent_registrations_of_one_username_have_one_winner() {
    let api = Api::new();
    let username = unique_username();
    let attempts = (0..4).map(|i| {
        let api = api.clone();
        let name = if i % 2 == 0 { username.clone() } else { username.to_uppercase() };
        async move {
            api.post_json(
                "/api/v1/auth/register",
                &json!({"username": name, "email": "r@a.ce", "password": "race-condition"}),
            )
            .await
            .status()
        }
    });
    let statuses = futures_join_all(attempts).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 3, "{statuses:?}");
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_401() {
    let api = Api::new();
    let (username, _, _) = api.register_user().await;
    let (s1, wrong) = status_and_json(
        api.post_json("/api/v1/auth/token", &json!({"username": username, "password": "nope-nope-nope"})).await,
    )
    .await;
    let (s2, unknown) = status_and_json(
        api.post_json("/api/v1/auth/token", &json!({"username": unique_username(), "password": "nope-nope-nope"}))
            .await,
    )
    .await;
    assert_error(s1, &wrong, 401, "not_authenticated");
    assert_eq!((s1, &wrong), (s2, &unknown));

    let (status, body) =
        status_and_json(api.post_json("/api/v1/auth/token", &json!({"username": username})).await).await;
    assert_error(status, &body, 400, "validation_error");
    assert!(body["errors"]["password"].is_array());
}

#[tokio::test]
async fn token_and_me_identify_the_caller() {
    let api = Api::new();
    let (username, password, user) = api.register_user().await;
    let pair = api.sign_in(&username.to_uppercase(), &password).await;
    assert!(pair["access"].is_string() && pair["refresh"].is_string());
    let response = api.get_authed("/api/v1/auth/me", pair["access"].as_str().unwrap()).await;
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let (status, me) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me, user);

    let (status, body) = status_and_json(api.request(Method::GET, "/api/v1/auth/me").send().await.unwrap()).await;
    assert_error(status, &body, 401, "not_authenticated");
    // A refresh token is not an access token.
    let (status, body) =
        status_and_json(api.get_authed("/api/v1/auth/me", pair["refresh"].as_str().unwrap()).await).await;
    assert_error(status, &body, 401, "token_not_valid");
}

#[tokio::test]
async fn the_login_is_stored_with_a_ttl() {
    let api = Api::new();
    let (username, password, _) = api.register_user().await;
    let pair = api.sign_in(&username, &password).await;
    let claims = decode_claims(pair["refresh"].as_str().unwrap());
    let (db, table) = dynamodb().await;
    let item = db
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("LOGIN#{}", claims["sid"].as_str().unwrap())))
        .key("sk", AttributeValue::S("LOGIN".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("login stored");
    let ttl: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    assert_eq!(ttl, claims["exp"].as_i64().unwrap());
    assert!(ttl > now() + 6 * 24 * 3600, "refresh tokens live 7 days by default");
}

fn decode_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn refresh(api: &Api, token: &str) -> (StatusCode, Value) {
    status_and_json(api.post_json("/api/v1/auth/token/refresh", &json!({"refresh": token})).await).await
}

#[tokio::test]
async fn refresh_tokens_rotate_and_each_is_good_once() {
    let api = Api::new();
    let (username, password, user) = api.register_user().await;
    let first = api.sign_in(&username, &password).await;
    let (status, second) = refresh(&api, first["refresh"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh"], first["refresh"]);
    let (_, me) = status_and_json(api.get_authed("/api/v1/auth/me", second["access"].as_str().unwrap()).await).await;
    assert_eq!(me["id"], user["id"]);
    let (status, third) = refresh(&api, second["refresh"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{third}");
}

#[tokio::test]
async fn reusing_a_used_refresh_token_revokes_the_whole_login_only() {
    let api = Api::new();
    let (username, password, _) = api.register_user().await;
    let login = api.sign_in(&username, &password).await;
    let other_login = api.sign_in(&username, &password).await;
    let (_, rotated) = refresh(&api, login["refresh"].as_str().unwrap()).await;

    let (status, body) = refresh(&api, login["refresh"].as_str().unwrap()).await;
    assert_error(status, &body, 401, "token_not_valid");
    // The thief's replay killed the family: the newest token is dead too.
    let (status, body) = refresh(&api, rotated["refresh"].as_str().unwrap()).await;
    assert_error(status, &body, 401, "token_not_valid");
    // Another login of the same user is untouched.
    let (status, _) = refresh(&api, other_login["refresh"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn logout_revokes_that_refresh_token() {
    let api = Api::new();
    let (username, password, _) = api.register_user().await;
    let login = api.sign_in(&username, &password).await;
    let other_login = api.sign_in(&username, &password).await;
    let token = login["refresh"].as_str().unwrap();

    let response = api.post_json("/api/v1/auth/logout", &json!({"refresh": token})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, body) = status_and_json(api.post_json("/api/v1/auth/logout", &json!({"refresh": token})).await).await;
    assert_error(status, &body, 401, "token_not_valid");
    let (status, body) = refresh(&api, token).await;
    assert_error(status, &body, 401, "token_not_valid");
    let (status, _) = refresh(&api, other_login["refresh"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "logging out one login leaves the others");

    let (status, body) =
        status_and_json(api.post_json("/api/v1/auth/logout", &json!({"refresh": "garbage"})).await).await;
    assert_error(status, &body, 401, "token_not_valid");
    let (status, body) = status_and_json(api.post_json("/api/v1/auth/logout", &json!({})).await).await;
    assert_error(status, &body, 400, "validation_error");
}

#[derive(serde::Serialize)]
struct Forged<'a> {
    sub: &'a str,
    exp: i64,
    iat: i64,
    jti: &'a str,
    iss: String,
    aud: String,
    token_type: &'a str,
    username: &'a str,
}

#[tokio::test]
async fn forged_tokens_are_not_valid() {
    let api = Api::new();
    let (username, password, user) = api.register_user().await;
    let genuine = api.sign_in(&username, &password).await;
    let user_id = user["id"].as_str().unwrap();
    let key = required_setting("JWT_SIGNING_KEY");
    let claims = || Forged {
        sub: user_id,
        exp: now() + 300,
        iat: now(),
        jti: "forged-jti",
        iss: required_setting("JWT_ISSUER"),
        aud: required_setting("JWT_AUDIENCE"),
        token_type: "access",
        username: &username,
    };
    let sign = |claims: &Forged, key: &str| {
        encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(key.as_bytes())).unwrap()
    };

    // The harness can mint a good one: the rejections below are about the one thing changed.
    let (status, _) = status_and_json(api.get_authed("/api/v1/auth/me", &sign(&claims(), &key)).await).await;
    assert_eq!(status, StatusCode::OK);

    let payload = genuine["access"].as_str().unwrap().split('.').nth(1).unwrap().to_owned();
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let mut forged = vec![
        ("alg none", format!("{none_header}.{payload}.")),
        ("wrong key", sign(&claims(), "a-completely-different-signing-key-of-32b")),
        ("expired", sign(&Forged { exp: now() - 10, iat: now() - 400, ..claims() }, &key)),
        ("wrong aud", sign(&Forged { aud: "someone-else".into(), ..claims() }, &key)),
        ("wrong iss", sign(&Forged { iss: "https://evil.example".into(), ..claims() }, &key)),
        ("wrong token_type", sign(&Forged { token_type: "refresh", ..claims() }, &key)),
        ("garbage", "not.a.jwt".into()),
    ];
    let hs512 = encode(&Header::new(Algorithm::HS512), &claims(), &EncodingKey::from_secret(key.as_bytes())).unwrap();
    forged.push(("wrong alg", hs512));
    for (what, token) in forged {
        let (status, body) = status_and_json(api.get_authed("/api/v1/auth/me", &token).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_error(status, &body, 401, "token_not_valid");
    }
}
