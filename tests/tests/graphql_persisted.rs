//! The contract's GraphQL persisted queries (Apollo's protocol) on the
//! shared stack, where any client may register one; the committed
//! allowlist, which is `openapi/operations/` hashed; `GRAPHQL_ALLOWLIST=on`
//! and `GRAPHQL_IDE=off`, each on a gateway of the test's own (the same
//! table, the local settings with that one changed); and the GraphiQL page
//! with its assets, served by the function itself.
//!
//! Registrations outlive test runs (30 days in the table), so every query
//! a test registers carries a name made for that run.

use std::path::PathBuf;

use aws_sdk_dynamodb::types::AttributeValue;
use e2e_tests::graphql::{
    ACCEPTS, PATH, assert_bad_request, assert_only_errors, assert_request_error, error_code, gql, gql_get, gql_with,
    nodes, ok, operation, persisted, persisted_extension, reply, request, sha256_hex,
};
use e2e_tests::posts::{create_titled, get, id_of, new_user};
use e2e_tests::{Api, item_at, local_settings};
use local_gateway::{Gateway, GatewayConfig, GatewayError};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

/// What a browser sends when it opens the page.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn bin_dir() -> PathBuf {
    std::env::var("GATEWAY_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debug")))
}

/// A gateway of this test's own: its functions run with the local
/// settings, `overrides` in place of theirs.
struct OwnGateway {
    api: Api,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Result<(), GatewayError>>,
}

impl OwnGateway {
    async fn start(overrides: &[(&str, &str)]) -> OwnGateway {
        let mut config = GatewayConfig::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml"), bin_dir());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.max_instances_per_function = 2;
        config.extra_env = local_settings()
            .into_iter()
            .filter(|(key, _)| overrides.iter().all(|(name, _)| *name != key.as_str()))
            .chain(overrides.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())))
            .collect();
        let gateway = Gateway::bind(config).await.unwrap();
        let base = format!("http://{}", gateway.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(gateway.run(async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        OwnGateway { api: Api { base, http }, stop, serving }
    }

    async fn stop(self) {
        self.stop.send(()).ok();
        self.serving.await.unwrap().unwrap();
    }
}

/// A query text no earlier run has registered.
fn unique_name(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::new())
}

#[test]
fn the_allowlist_is_the_committed_operations_hashed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/operations");
    let mut expected = serde_json::Map::new();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        let path = entry.expect("a directory entry").path();
        assert_eq!(path.extension().and_then(|e| e.to_str()), Some("graphql"), "only operations in {dir}: {path:?}");
        let name = path.file_stem().and_then(|s| s.to_str()).expect("a file name").to_owned();
        let text = operation(&name);
        // One operation per file, named as the file is.
        let definitions: Vec<&str> = text
            .lines()
            .filter(|line| ["query", "mutation", "subscription", "fragment", "{"].iter().any(|k| line.starts_with(*k)))
            .collect();
        assert_eq!(definitions.len(), 1, "{name}: one operation per file:\n{text}");
        let mut words = definitions[0].split_whitespace();
        assert!(matches!(words.next(), Some("query" | "mutation")), "{name}: {}", definitions[0]);
        let declared = words.next().unwrap_or_default().split(['(', '{']).next().unwrap_or_default();
        assert_eq!(declared, name, "the file is named after its operation");
        expected.insert(sha256_hex(&text), json!(text));
        names.push(name);
    }
    for required in [
        "LatestPosts",
        "PostsPage",
        "PostsWithAuthors",
        "PostWithComments",
        "PostDetail",
        "Me",
        "CreatePost",
        "AddComment",
    ] {
        assert!(names.iter().any(|name| name == required), "no openapi/operations/{required}.graphql");
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/graphql-allowlist.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let allowlist: Value = serde_json::from_str(&text).expect("the allowlist is JSON");
    assert_eq!(
        allowlist,
        Value::Object(expected),
        "openapi/graphql-allowlist.json is not openapi/operations/*.graphql hashed (trimmed, sha256, hex): regenerate it"
    );
}

#[tokio::test]
async fn an_unknown_hash_alone_is_persisted_query_not_found() {
    let api = Api::new();
    let hash = sha256_hex(&format!("query {} {{ me {{ id }} }}", unique_name("Never")));
    let extensions = persisted_extension(&hash).to_string();
    for accept in ACCEPTS {
        let (status, headers, body) = gql_with(&api, &persisted(&hash, None, json!({})), None, accept, None).await;
        assert_request_error(status, &headers, &body, "PERSISTED_QUERY_NOT_FOUND", accept);
        let (status, headers, body) = gql_get(&api, &[("extensions", &extensions)], None, accept).await;
        assert_request_error(status, &headers, &body, "PERSISTED_QUERY_NOT_FOUND", accept);
    }
    assert!(item_at(&format!("PQ#{hash}"), "PQ").await.is_none(), "nothing registered");
}

#[tokio::test]
async fn a_hash_sent_with_its_query_registers_it_for_30_days_then_the_hash_alone_runs() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let post_id = id_of(&create_titled(&api, &alice, "Persisted reading").await);
    let query = format!(
        "query {}($id: ID!) {{ post(id: $id) {{ id title author {{ username }} }} me {{ username }} }}",
        unique_name("PersistedPost")
    );
    let hash = sha256_hex(&query);
    let variables = json!({"id": post_id});
    let expected_post = json!({"id": post_id, "title": "Persisted reading", "author": {"username": alice.username}});

    let (status, _, body) = gql_with(&api, &persisted(&hash, None, variables.clone()), None, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(error_code(&body), "PERSISTED_QUERY_NOT_FOUND", "not registered yet: {body}");

    // Sent with its query: registered, and run.
    let (status, _, body) =
        gql_with(&api, &persisted(&hash, Some(query.as_str()), variables.clone()), alice.token(), None, None).await;
    assert_eq!(ok(status, &body), &json!({"post": expected_post, "me": {"username": alice.username}}));

    // Kept for 30 days: the item's TTL attribute.
    let item = item_at(&format!("PQ#{hash}"), "PQ").await.expect("the registration is stored");
    let expires_at: i64 = match item.get("expires_at") {
        Some(AttributeValue::N(number)) => number.parse().expect("a whole number of seconds"),
        other => panic!("expires_at is {other:?}"),
    };
    let in_30_days = time::OffsetDateTime::now_utc().unix_timestamp() + 30 * 24 * 3600;
    assert!((expires_at - in_30_days).abs() < 3600, "expires_at {expires_at}, about {in_30_days} expected");

    // The hash alone now runs, over POST and GET, each caller as themselves.
    let extensions = persisted_extension(&hash).to_string();
    let variables_json = variables.to_string();
    for (who, token, me) in [
        ("anonymous", None, Value::Null),
        ("alice", alice.token(), json!({"username": alice.username})),
        ("bob", bob.token(), json!({"username": bob.username})),
    ] {
        let expected = json!({"post": expected_post, "me": me});
        let (status, _, body) = gql_with(&api, &persisted(&hash, None, variables.clone()), token, None, None).await;
        assert_eq!(ok(status, &body), &expected, "POST, {who}");
        let params = [("extensions", extensions.as_str()), ("variables", variables_json.as_str())];
        let (status, _, body) = gql_get(&api, &params, token, None).await;
        assert_eq!(ok(status, &body), &expected, "GET, {who}");
    }
    // Its query sent again with it is fine too.
    let (status, _, body) = gql_with(&api, &persisted(&hash, Some(query.as_str()), variables), None, None, None).await;
    assert_eq!(ok(status, &body)["post"], expected_post);
}

#[tokio::test]
async fn a_hash_that_does_not_match_its_query_is_400_and_registers_nothing() {
    let api = Api::new();
    let query = format!("query {} {{ me {{ id }} }}", unique_name("Mismatched"));
    let right = sha256_hex(&query);
    let wrong = sha256_hex(&format!("{query}\n# another text"));
    for accept in ACCEPTS {
        for hash in [wrong.as_str(), "not-a-hash", ""] {
            let (status, _, body) =
                gql_with(&api, &persisted(hash, Some(query.as_str()), json!({})), None, accept, None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "hash {hash:?}, Accept {accept:?}: {body}");
            assert_bad_request(status, &body, 400);
        }
    }
    for hash in [&wrong, &right] {
        assert!(item_at(&format!("PQ#{hash}"), "PQ").await.is_none(), "registered under {hash}");
        let (status, _, body) = gql_with(&api, &persisted(hash, None, json!({})), None, None, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(error_code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    }
}

#[tokio::test]
async fn a_persisted_mutation_runs_over_post_only() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let mutation = format!(
        "mutation {}($input: CreatePostInput!) {{ createPost(input: $input) {{ id title }} }}",
        unique_name("PersistedCreate")
    );
    let hash = sha256_hex(&mutation);
    let variables = json!({"input": {"title": "Persisted write", "body": ""}});
    let (status, _, body) =
        gql_with(&api, &persisted(&hash, Some(mutation.as_str()), variables.clone()), alice.token(), None, None).await;
    assert_eq!(ok(status, &body)["createPost"]["title"], "Persisted write");

    let extensions = persisted_extension(&hash).to_string();
    let variables_json = variables.to_string();
    let params = [("extensions", extensions.as_str()), ("variables", variables_json.as_str())];
    let (status, headers, body) = gql_get(&api, &params, alice.token(), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(headers.get(header::ALLOW).and_then(|v| v.to_str().ok()), Some("POST"), "{body}");
    assert_only_errors(&body);

    let (status, _, body) = gql_with(&api, &persisted(&hash, None, variables), alice.token(), None, None).await;
    assert_eq!(ok(status, &body)["createPost"]["title"], "Persisted write");
    let list = get(&api, &format!("/api/v1/posts?author={}", alice.username), None).await;
    assert_eq!(list.body["results"].as_array().map(Vec::len), Some(2), "two writes, none over GET: {}", list.body);
}

#[tokio::test]
async fn with_the_allowlist_on_only_the_committed_operations_run() {
    let shared = Api::new();
    let alice = new_user(&shared).await;
    let post_id = id_of(&create_titled(&shared, &alice, "Allowed reading").await);
    // Registered through the shared stack, where the allowlist is off.
    let registered = format!("query {} {{ me {{ id }} }}", unique_name("RegisteredElsewhere"));
    let registered_hash = sha256_hex(&registered);
    let (status, _, body) =
        gql_with(&shared, &persisted(&registered_hash, Some(registered.as_str()), json!({})), None, None, None).await;
    assert_eq!(ok(status, &body), &json!({"me": null}));

    let own = OwnGateway::start(&[("GRAPHQL_ALLOWLIST", "on")]).await;
    let api = &own.api;

    // A committed operation: by its hash alone (POST and GET), by its text, by both.
    let latest = operation("LatestPosts");
    let hash = sha256_hex(&latest);
    let extensions = persisted_extension(&hash).to_string();
    for (how, (status, _, body)) in [
        ("hash alone", gql_with(api, &persisted(&hash, None, json!({})), None, None, None).await),
        ("hash alone over GET", gql_get(api, &[("extensions", &extensions)], None, None).await),
        ("its text", gql_with(api, &request(&latest, json!({})), None, None, None).await),
        ("its text over GET", gql_get(api, &[("query", &latest)], None, None).await),
        ("hash and text", gql_with(api, &persisted(&hash, Some(latest.as_str()), json!({})), None, None, None).await),
    ] {
        assert_eq!(status, StatusCode::OK, "{how}: {body}");
        assert!(!nodes(&ok(status, &body)["posts"]).is_empty(), "{how}: {body}");
    }
    // With variables, and a write with a token.
    let with_comments = sha256_hex(&operation("PostWithComments"));
    let (status, _, body) =
        gql_with(api, &persisted(&with_comments, None, json!({"id": post_id})), None, None, None).await;
    assert_eq!(ok(status, &body)["post"]["title"], "Allowed reading");
    let create = sha256_hex(&operation("CreatePost"));
    let input = json!({"input": {"title": "Written through the allowlist", "body": ""}});
    let (status, _, body) = gql_with(api, &persisted(&create, None, input), alice.token(), None, None).await;
    let created = id_of(&ok(status, &body)["createPost"]);
    assert_eq!(get(&shared, &format!("/api/v1/posts/{created}"), None).await.status, StatusCode::OK);

    // Anything else is refused.
    let other = format!("query {} {{ me {{ id }} }}", unique_name("NotCommitted"));
    let unknown = sha256_hex(&other);
    let wider = latest.replace("first: 5", "first: 6");
    assert_ne!(wider, latest);
    let refused = [
        ("an ad-hoc document", request("{ me { id } }", json!({}))),
        ("a committed operation, changed", request(&wider, json!({}))),
        ("an unknown hash", persisted(&unknown, None, json!({}))),
        ("registering a new one", persisted(&unknown, Some(other.as_str()), json!({}))),
        ("a hash registered with the allowlist off", persisted(&registered_hash, None, json!({}))),
        ("that query's text", request(&registered, json!({}))),
    ];
    for (what, sent) in &refused {
        for accept in ACCEPTS {
            let (status, headers, body) = gql_with(api, sent, alice.token(), accept, None).await;
            assert_eq!(error_code(&body), "PERSISTED_QUERY_NOT_ALLOWED", "{what}: {body}");
            assert_request_error(status, &headers, &body, "PERSISTED_QUERY_NOT_ALLOWED", accept);
        }
    }
    let (status, headers, body) = gql_get(api, &[("query", "{ me { id } }")], None, None).await;
    assert_request_error(status, &headers, &body, "PERSISTED_QUERY_NOT_ALLOWED", None);
    assert!(item_at(&format!("PQ#{unknown}"), "PQ").await.is_none(), "nothing registered with the allowlist on");

    own.stop().await;
}

/// `GET /graphql` as a browser asks for it; asserts a 200 HTML page with
/// its security headers and returns the HTML.
async fn graphiql_page(api: &Api, accept: &str) -> String {
    let response = api.request(Method::GET, PATH).header(header::ACCEPT, accept).send().await.expect("the page");
    let status = response.status();
    let headers = response.headers().clone();
    let html = response.text().await.expect("the page's HTML");
    assert_eq!(status, StatusCode::OK, "Accept {accept}: {html}");
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "Content-Type {content_type:?}");
    let policy = headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(policy.contains("default-src 'self'"), "Content-Security-Policy {policy:?}");
    assert_eq!(headers.get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
    html
}

/// Every `src` and `href` value in the HTML.
fn referenced(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for attribute in ["src=", "href="] {
        let mut rest = html;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            let value = match rest.chars().next() {
                Some(quote @ ('"' | '\'')) => rest[1..].split(quote).next().unwrap_or_default(),
                _ => rest.split(|c: char| c.is_whitespace() || c == '>').next().unwrap_or_default(),
            };
            urls.push(value.to_owned());
        }
    }
    urls
}

#[tokio::test]
async fn the_graphiql_page_loads_only_assets_the_function_serves() {
    let api = Api::new();
    let html = graphiql_page(&api, "text/html").await;
    let urls = referenced(&html);
    assert_eq!(referenced(&graphiql_page(&api, BROWSER_ACCEPT).await), urls, "the page a browser gets");
    assert!(urls.iter().any(|u| u.ends_with(".js")) && urls.iter().any(|u| u.ends_with(".css")), "{urls:?}");
    for url in &urls {
        assert!(url.starts_with("/graphql/assets/"), "the page loads {url:?}: only its own assets, no CDN");
    }
    for url in &urls {
        let (status, headers, body) = reply(api.request(Method::GET, url)).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let javascript = ["text/javascript", "application/javascript"].iter().any(|t| content_type.starts_with(t));
        let css = content_type.starts_with("text/css");
        assert!(javascript || css, "{url}: Content-Type {content_type:?}");
        if url.ends_with(".js") {
            assert!(javascript, "{url}: Content-Type {content_type:?}");
        }
        if url.ends_with(".css") {
            assert!(css, "{url}: Content-Type {content_type:?}");
        }
        assert!(body.as_str().is_some_and(|text| !text.trim().is_empty()), "{url} is empty");
        assert_eq!(headers.get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"), "{url}");
    }
    for missing in ["/graphql/assets/no-such-asset.js", "/graphql/assets/unknown.css"] {
        let (status, _, body) = reply(api.request(Method::GET, missing)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}: {body}");
    }

    // Introspection, which GraphiQL needs, answers.
    let (status, body) = gql(&api, "{ __schema { queryType { name } } }", json!({}), None).await;
    assert_eq!(ok(status, &body), &json!({"__schema": {"queryType": {"name": "Query"}}}));
}

#[tokio::test]
async fn with_the_ide_off_introspection_and_the_page_are_gone() {
    // The page's assets, as the shared stack (IDE on) names them.
    let shared = Api::new();
    let assets = referenced(&graphiql_page(&shared, "text/html").await);

    let own = OwnGateway::start(&[("GRAPHQL_IDE", "off")]).await;
    let api = &own.api;
    for document in [
        "{ __schema { types { name } } }",
        "{ __type(name: \"Post\") { name fields { name } } }",
        "query Both { me { id } __schema { queryType { name } } }",
    ] {
        for accept in ACCEPTS {
            let (status, headers, body) = gql_with(api, &request(document, json!({})), None, accept, None).await;
            assert_request_error(status, &headers, &body, "GRAPHQL_VALIDATION_FAILED", accept);
        }
    }
    for accept in ["text/html", BROWSER_ACCEPT] {
        let (status, _, body) = reply(api.request(Method::GET, PATH).header(header::ACCEPT, accept)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "the page with the IDE off, Accept {accept}: {body}");
    }
    for url in assets.iter().map(String::as_str).chain(["/graphql/assets/graphiql-init.js"]) {
        let (status, _, body) = reply(api.request(Method::GET, url)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url} with the IDE off: {body}");
    }
    // Everything else works as before.
    let (status, body) = gql(api, &operation("LatestPosts"), json!({}), None).await;
    assert!(!nodes(&ok(status, &body)["posts"]).is_empty(), "{body}");

    own.stop().await;
}
