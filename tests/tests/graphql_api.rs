//! The contract's "GraphQL" section at `/graphql` on the shared stack: the
//! committed operations over POST and GET, media types and status codes,
//! requests that are not GraphQL requests, parse and validation failures,
//! tokens and `me`, the two mutations and their input errors, private
//! posts, agreement with the REST detail, the `posts` filters and orders,
//! cursor walks over posts and comments, tampered cursors, and the headers
//! and log line every answer carries.
//!
//! The table is shared with suites running at the same time: every test
//! isolates itself with fresh users (`author:`) or unique search words.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use e2e_tests::graphql::{
    ACCEPTS, GRAPHQL_RESPONSE_JSON, PATH, assert_bad_request, assert_field_error, assert_input_errors,
    assert_media_type, assert_only_errors, assert_request_error, decorate, error_code, get_path, gql, gql_get,
    gql_with, instant, node_ids, nodes, ok, operation, reply, request,
};
use e2e_tests::posts::{
    User, bounded, create_comment, create_post, create_titled, get, id_of, keys, new_user, send, stored_post_items,
    unique_word,
};
use e2e_tests::{Api, aws_calls, completed_log_line, fresh_request_id, required_setting};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::{Method, RequestBuilder, StatusCode, header};
use serde_json::{Value, json};

/// Walks `posts` with the `PostsPage` operation from the first page,
/// following `endCursor` while `hasNextPage`; every page's connection.
async fn walk_posts(api: &Api, variables: Value, token: Option<&str>, max_pages: usize) -> Vec<Value> {
    let query = operation("PostsPage");
    let mut variables = variables;
    let mut pages = Vec::new();
    loop {
        let (status, body) = gql(api, &query, variables.clone(), token).await;
        let connection = ok(status, &body)["posts"].clone();
        let page_info = connection["pageInfo"].clone();
        pages.push(connection);
        assert!(pages.len() <= max_pages, "more than {max_pages} pages for {variables}");
        if page_info["hasNextPage"] != true {
            return pages;
        }
        let cursor = page_info["endCursor"].as_str().unwrap_or_else(|| panic!("a next page without endCursor: {body}"));
        variables["after"] = json!(cursor);
    }
}

/// The ids of every post the walk reaches, in order.
async fn listed(api: &Api, variables: Value, token: Option<&str>) -> Vec<String> {
    walk_posts(api, variables, token, 50).await.iter().flat_map(node_ids).collect()
}

/// `post(id)` through `PostWithComments`: the post, or null.
async fn post_by_id(api: &Api, id: &str, token: Option<&str>) -> Value {
    let (status, body) = gql(api, &operation("PostWithComments"), json!({"id": id}), token).await;
    ok(status, &body)["post"].clone()
}

/// The id of a post that existed and was deleted: well formed, unknown.
async fn deleted_post_id(api: &Api, author: &User) -> String {
    let id = id_of(&create_titled(api, author, "Soon gone").await);
    let deleted = send(api, Method::DELETE, &format!("/api/v1/posts/{id}"), author.token(), None, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    id
}

async fn add_comment(api: &Api, who: &User, post_id: &str, body: &str) -> (StatusCode, Value) {
    gql(api, &operation("AddComment"), json!({"input": {"postId": post_id, "body": body}}), who.token()).await
}

fn mixed_case(text: &str) -> String {
    text.chars().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c }).collect()
}

fn assert_latest_posts(data: &Value) {
    let posts = &data["posts"];
    let found = nodes(posts);
    assert!((1..=5).contains(&found.len()), "{data}");
    for node in found {
        assert_eq!(keys(node), ["author", "commentCount", "id", "title"], "{node}");
        assert_eq!(keys(&node["author"]), ["username"], "{node}");
        assert!(node["commentCount"].as_u64().is_some(), "{node}");
    }
    assert!(posts["pageInfo"]["hasNextPage"].is_boolean(), "{data}");
    assert!(posts["pageInfo"]["endCursor"].as_str().is_some_and(|c| !c.is_empty()), "{data}");
}

#[tokio::test]
async fn the_latest_posts_operation_answers_over_post_and_get() {
    let api = Api::new();
    let alice = new_user(&api).await;
    create_titled(&api, &alice, "Latest from alice").await;
    let latest = operation("LatestPosts");

    let (status, headers, body) = gql_with(&api, &request(&latest, json!({})), None, None, None).await;
    assert_latest_posts(ok(status, &body));
    assert_media_type(&headers, "application/json");

    let (status, headers, body) = gql_get(&api, &[("query", &latest)], None, None).await;
    assert_latest_posts(ok(status, &body));
    assert_media_type(&headers, "application/json");

    let (status, body) = gql(&api, &latest, json!({}), alice.token()).await;
    assert_latest_posts(ok(status, &body));
}

#[tokio::test]
async fn get_and_post_answer_alike_with_variables_and_an_operation_name() {
    let api = Api::new();
    let alice = new_user(&api).await;
    for title in ["First over GET", "Second over GET"] {
        create_titled(&api, &alice, title).await;
    }
    let page = operation("PostsPage");
    let variables = json!({"author": alice.username, "first": 5});
    let (status, body) = gql(&api, &page, variables.clone(), None).await;
    let posted = ok(status, &body)["posts"].clone();
    let titles: Vec<&str> = nodes(&posted).into_iter().map(|n| n["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Second over GET", "First over GET"], "{posted}");
    assert_eq!(posted["pageInfo"]["hasNextPage"], false, "{posted}");

    let variables_json = variables.to_string();
    let params = [("query", page.as_str()), ("variables", variables_json.as_str()), ("operationName", "PostsPage")];
    let (status, _, body) = gql_get(&api, &params, None, None).await;
    let got = &ok(status, &body)["posts"];
    assert_eq!(nodes(got), nodes(&posted), "the same posts over GET");
    assert_eq!(got["pageInfo"]["hasNextPage"], false, "{got}");

    // `operationName` picks one of the operations in a document.
    let two = format!(
        "query Mine {{ me {{ username }} }} query Theirs {{ posts(first: 1, author: \"{}\") {{ edges {{ node {{ title }} }} }} }}",
        alice.username
    );
    let (status, _, body) =
        gql_with(&api, &json!({"query": two, "operationName": "Theirs"}), alice.token(), None, None).await;
    assert_eq!(ok(status, &body), &json!({"posts": {"edges": [{"node": {"title": "Second over GET"}}]}}));
    let (status, _, body) = gql_get(&api, &[("query", &two), ("operationName", "Mine")], alice.token(), None).await;
    assert_eq!(ok(status, &body), &json!({"me": {"username": alice.username}}));
}

#[tokio::test]
async fn a_mutation_over_get_is_405_with_allow_post_and_changes_nothing() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let create = operation("CreatePost");
    let variables = json!({"input": {"title": "Sent over GET", "body": ""}}).to_string();

    let (status, headers, body) =
        gql_get(&api, &[("query", &create), ("variables", &variables)], alice.token(), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(headers.get(header::ALLOW).and_then(|v| v.to_str().ok()), Some("POST"), "{body}");
    assert_only_errors(&body);

    // The operation is what counts: the mutation of a mixed document is
    // refused over GET, its query runs.
    let mixed = format!("{create}\nquery Peek {{ me {{ id }} }}");
    let params = [("query", mixed.as_str()), ("variables", variables.as_str()), ("operationName", "CreatePost")];
    let (status, headers, body) = gql_get(&api, &params, alice.token(), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(headers.get(header::ALLOW).and_then(|v| v.to_str().ok()), Some("POST"), "{body}");
    let (status, _, body) = gql_get(&api, &[("query", &mixed), ("operationName", "Peek")], alice.token(), None).await;
    assert_eq!(ok(status, &body)["me"]["id"], alice.id.as_str());

    let list = get(&api, &format!("/api/v1/posts?author={}", alice.username), alice.token()).await;
    assert_eq!(list.body["results"], json!([]), "nothing was created: {}", list.body);
}

#[tokio::test]
async fn bodies_that_are_not_graphql_requests_are_400_bad_request_whatever_the_accept() {
    let api = Api::new();
    let cases = [
        ("not JSON", "{\"query\": "),
        ("a bare document", "query { me { id } }"),
        ("no query", "{}"),
        ("only variables", r#"{"variables": {}}"#),
        ("a null query", r#"{"query": null}"#),
        ("a number for a query", r#"{"query": 42}"#),
        ("a list for a query", r#"{"query": ["{ me { id } }"]}"#),
        ("a list for variables", r#"{"query": "{ me { id } }", "variables": []}"#),
        ("a string for variables", r#"{"query": "{ me { id } }", "variables": "{}"}"#),
        ("a number for variables", r#"{"query": "{ me { id } }", "variables": 7}"#),
    ];
    let get_cases: [&[(&str, &str)]; 5] = [
        &[],
        &[("variables", "{}")],
        &[("operationName", "Me")],
        &[("query", "{ me { id } }"), ("variables", "not json")],
        &[("query", "{ me { id } }"), ("variables", "[1]")],
    ];
    for accept in [None, Some("application/json"), Some(GRAPHQL_RESPONSE_JSON)] {
        for (what, raw) in cases {
            let post = api.request(Method::POST, PATH).header(header::CONTENT_TYPE, "application/json").body(raw);
            let (status, _, body) = reply(decorate(post, None, accept, None)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{what}, Accept {accept:?}: {body}");
            assert_bad_request(status, &body, 400);
        }
        for params in get_cases {
            let (status, _, body) = gql_get(&api, params, None, accept).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "GET {params:?}, Accept {accept:?}: {body}");
            assert_bad_request(status, &body, 400);
        }
    }
}

#[tokio::test]
async fn a_post_in_another_content_type_is_415_and_json_with_a_charset_runs() {
    let api = Api::new();
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let post = api
            .request(Method::POST, PATH)
            .header(header::CONTENT_TYPE, content_type)
            .body(r#"{"query": "{ me { id } }"}"#);
        let (status, _, body) = reply(post).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}: {body}");
        assert_only_errors(&body);
    }
    let post = api
        .request(Method::POST, PATH)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(r#"{"query": "{ me { id } }"}"#);
    let (status, _, body) = reply(post).await;
    assert_eq!(ok(status, &body), &json!({"me": null}));
}

#[tokio::test]
async fn the_media_type_follows_accept() {
    let api = Api::new();
    let me = operation("Me");
    for (accept, media) in [
        (None, "application/json"),
        (Some("application/json"), "application/json"),
        (Some("*/*"), "application/json"),
        (Some(GRAPHQL_RESPONSE_JSON), GRAPHQL_RESPONSE_JSON),
        (Some("application/graphql-response+json, application/json;q=0.9"), GRAPHQL_RESPONSE_JSON),
    ] {
        let (status, headers, body) = gql_with(&api, &request(&me, json!({})), None, accept, None).await;
        assert_eq!(ok(status, &body), &json!({"me": null}), "Accept {accept:?}");
        assert_media_type(&headers, media);
        let (status, headers, body) = gql_get(&api, &[("query", &me)], None, accept).await;
        assert_eq!(ok(status, &body), &json!({"me": null}), "GET, Accept {accept:?}");
        assert_media_type(&headers, media);
    }
}

#[tokio::test]
async fn parse_failures_are_request_errors_200_as_json_and_400_as_graphql_response() {
    let api = Api::new();
    for document in ["{ posts { edges ", "query {", "mutation { createPost(input: { title: \"x\" ) }", "}{"] {
        for accept in ACCEPTS {
            let request_id = fresh_request_id();
            let (status, headers, body) =
                gql_with(&api, &request(document, json!({})), None, accept, Some(&request_id)).await;
            assert_request_error(status, &headers, &body, "GRAPHQL_PARSE_FAILED", accept);
            assert_eq!(aws_calls(&request_id, "dynamodb").await, 0, "{document:?}: DynamoDB calls");
        }
    }
    for accept in ACCEPTS {
        let (status, headers, body) = gql_get(&api, &[("query", "{ me { id }")], None, accept).await;
        assert_request_error(status, &headers, &body, "GRAPHQL_PARSE_FAILED", accept);
    }
}

#[tokio::test]
async fn validation_failures_are_request_errors_without_data() {
    let api = Api::new();
    let invalid = [
        ("a field that does not exist", "{ posts { edges { node { id secretNote } } } }", json!({})),
        ("a required argument missing", "{ post { id } }", json!({})),
        ("an unknown argument", "{ posts(sort: TITLE) { edges { cursor } } }", json!({})),
        ("an order that does not exist", "{ posts(orderBy: SIDEWAYS) { edges { cursor } } }", json!({})),
        ("an object without a selection", "{ me }", json!({})),
        (
            "an input without a required field",
            "mutation { createPost(input: {title: \"Valid title\"}) { id } }",
            json!({}),
        ),
        ("a nullable variable for an ID!", "query Q($id: ID) { post(id: $id) { id } }", json!({"id": "x"})),
        ("an undefined variable", "{ post(id: $id) { id } }", json!({"id": "x"})),
        ("an unused fragment", "{ me { id } } fragment Unused on User { id }", json!({})),
    ];
    for (what, document, variables) in &invalid {
        for accept in ACCEPTS {
            let request_id = fresh_request_id();
            let (status, headers, body) =
                gql_with(&api, &request(document, variables.clone()), None, accept, Some(&request_id)).await;
            assert_request_error(status, &headers, &body, "GRAPHQL_VALIDATION_FAILED", accept);
            assert!(!body.to_string().contains("INTERNAL"), "{what}: {body}");
            if accept.is_none() {
                assert_eq!(aws_calls(&request_id, "dynamodb").await, 0, "{what}: DynamoDB calls");
            }
        }
    }
}

#[tokio::test]
async fn me_is_the_caller_no_token_is_anonymous_and_a_bad_token_is_401() {
    let api = Api::new();
    let (username, password, user) = api.register_user().await;
    let tokens = api.sign_in(&username, &password).await;
    let user_id = user["id"].as_str().expect("user id").to_owned();
    let me = operation("Me");

    let (status, body) = gql(&api, &me, json!({}), None).await;
    assert_eq!(ok(status, &body), &json!({"me": null}), "anonymous");
    let (status, body) = gql(&api, &me, json!({}), tokens["access"].as_str()).await;
    assert_eq!(ok(status, &body), &json!({"me": {"id": user_id, "username": username}}));

    let key = required_setting("JWT_SIGNING_KEY");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |exp: i64| {
        json!({
            "sub": user_id, "exp": exp, "iat": exp - 300, "jti": format!("gql-{}", ulid::Ulid::new()),
            "iss": required_setting("JWT_ISSUER"), "aud": required_setting("JWT_AUDIENCE"),
            "token_type": "access", "username": username,
        })
    };
    let sign = |claims: &Value, key: &str| {
        encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(key.as_bytes())).unwrap()
    };
    // The harness can mint a good one: each rejection below is about the one thing changed.
    let (status, body) = gql(&api, &me, json!({}), Some(&sign(&claims(now + 300), &key))).await;
    assert_eq!(ok(status, &body)["me"]["id"], user_id.as_str());

    let not_valid = [
        ("garbage", "not.a.jwt".to_owned()),
        ("signed with another key", sign(&claims(now + 300), "a-completely-different-signing-key-of-32b")),
        ("expired", sign(&claims(now - 120), &key)),
        ("a refresh token", tokens["refresh"].as_str().expect("refresh token").to_owned()),
    ];
    let create = operation("CreatePost");
    let writes = json!({"input": {"title": "Never stored", "body": ""}});
    for (what, token) in &not_valid {
        for (document, variables) in [(&me, json!({})), (&create, writes.clone())] {
            for accept in ACCEPTS {
                let (status, _, body) =
                    gql_with(&api, &request(document, variables.clone()), Some(token.as_str()), accept, None).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}, Accept {accept:?}: {body}");
                assert_only_errors(&body);
                assert_eq!(error_code(&body), "UNAUTHENTICATED", "{what}: {body}");
            }
        }
        let (status, _, body) = gql_get(&api, &[("query", &me)], Some(token.as_str()), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "GET, {what}: {body}");
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "GET, {what}: {body}");
    }
    let list = get(&api, &format!("/api/v1/posts?author={username}"), None).await;
    assert_eq!(list.body["results"], json!([]), "nothing was created: {}", list.body);
}

#[tokio::test]
async fn create_post_returns_the_post_rest_reads_and_never_its_secret_note() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let secret = format!("for-my-eyes-only-{}", unique_word());
    let input = json!({"title": "Made over GraphQL", "body": "Hello from GraphQL.", "secretNote": secret});
    let (status, body) = gql(&api, &operation("CreatePost"), json!({"input": input}), alice.token()).await;
    assert!(!body.to_string().contains(&secret), "the note shown: {body}");
    let created = ok(status, &body)["createPost"].clone();
    let id = id_of(&created);
    assert_eq!(created["title"], "Made over GraphQL");
    assert_eq!(created["body"], "Hello from GraphQL.");
    assert_eq!(created["isPublic"], true, "public by default");
    assert_eq!(created["commentCount"], 0);
    assert_eq!(created["author"], json!({"id": alice.id, "username": alice.username}));
    let created_at = instant(&created["createdAt"]);
    assert_eq!(created_at.offset(), time::UtcOffset::UTC, "{created}");
    assert!((time::OffsetDateTime::now_utc() - created_at).whole_seconds().abs() < 300, "{created}");

    // REST reads the same post, without the note.
    let read = get(&api, &format!("/api/v1/posts/{id}"), None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["title"], created["title"]);
    assert_eq!(read.body["body"], created["body"]);
    assert_eq!(read.body["is_public"], true);
    assert_eq!(read.body["comment_count"], 0);
    assert_eq!(read.body["author"], created["author"]);
    assert_eq!(instant(&read.body["created_at"]), created_at);
    assert!(!read.body.to_string().contains(&secret), "{}", read.body);
    // Accepted on write: stored.
    let items = stored_post_items(&id).await;
    let post_item = items.iter().find(|i| i.get("sk") == Some(&AttributeValue::S("#POST".into()))).expect("post item");
    assert_eq!(post_item.get("secret_note"), Some(&AttributeValue::S(secret.clone())));

    // A private one on request.
    let input = json!({"title": "Kept to myself", "body": "", "isPublic": false});
    let (status, body) = gql(&api, &operation("CreatePost"), json!({"input": input}), alice.token()).await;
    assert_eq!(ok(status, &body)["createPost"]["isPublic"], false);
}

#[tokio::test]
async fn create_post_input_errors_are_bad_user_input_with_the_rest_field_map() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let create = operation("CreatePost");
    let long_body = "y".repeat(20_001);
    let cases = [
        (json!({"title": "ab", "body": ""}), vec!["title"]),
        (json!({"title": "t".repeat(201), "body": ""}), vec!["title"]),
        (json!({"title": "Fine title", "body": long_body}), vec!["body"]),
        (json!({"title": "ab", "body": long_body}), vec!["body", "title"]),
    ];
    for (input, fields) in &cases {
        let (status, body) = gql(&api, &create, json!({"input": input}), alice.token()).await;
        assert_field_error(status, &body, "createPost", "BAD_USER_INPUT");
        assert_input_errors(&body, fields);
    }
    let list = get(&api, &format!("/api/v1/posts?author={}", alice.username), alice.token()).await;
    assert_eq!(list.body["results"], json!([]), "nothing was stored: {}", list.body);

    // The limits themselves are fine.
    for input in [json!({"title": "abc", "body": "y".repeat(20_000)}), json!({"title": "t".repeat(200), "body": ""})] {
        let (status, body) = gql(&api, &create, json!({"input": input}), alice.token()).await;
        let created = &ok(status, &body)["createPost"];
        assert_eq!(created["title"], input["title"]);
        assert_eq!(created["body"], input["body"]);
    }
}

#[tokio::test]
async fn writes_without_a_token_are_unauthenticated_whatever_their_target_or_input() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let post_id = id_of(&create_titled(&api, &alice, "Open to comments").await);
    let gone = deleted_post_id(&api, &alice).await;
    let (create, add) = (operation("CreatePost"), operation("AddComment"));
    let cases = [
        ("createPost", &create, json!({"input": {"title": "Anonymous post", "body": ""}})),
        ("createPost", &create, json!({"input": {"title": "ab", "body": ""}})),
        ("addComment", &add, json!({"input": {"postId": post_id, "body": "Anonymous comment"}})),
        ("addComment", &add, json!({"input": {"postId": post_id, "body": ""}})),
        ("addComment", &add, json!({"input": {"postId": gone, "body": "To nowhere"}})),
    ];
    for (field, document, variables) in &cases {
        for accept in ACCEPTS {
            let (status, _, body) = gql_with(&api, &request(document, variables.clone()), None, accept, None).await;
            assert_field_error(status, &body, field, "UNAUTHENTICATED");
        }
    }
    let detail = get(&api, &format!("/api/v1/posts/{post_id}"), None).await;
    assert_eq!(detail.body["comment_count"], 0, "{}", detail.body);
    let list = get(&api, &format!("/api/v1/posts?author={}", alice.username), None).await;
    assert_eq!(list.body["results"].as_array().map(Vec::len), Some(1), "{}", list.body);
}

#[tokio::test]
async fn add_comment_counts_each_comment_and_checks_its_body_and_post() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let post_id = id_of(&create_titled(&api, &alice, "Comment on me").await);

    let (status, body) = add_comment(&api, &bob, &post_id, "First!").await;
    let first = ok(status, &body)["addComment"].clone();
    assert_eq!(first["body"], "First!");
    assert_eq!(first["author"], json!({"id": bob.id, "username": bob.username}));
    assert_eq!(first["post"], json!({"id": post_id, "commentCount": 1}));
    let (status, body) = add_comment(&api, &alice, &post_id, "Thanks").await;
    let second = ok(status, &body)["addComment"].clone();
    assert_eq!(second["post"]["commentCount"], 2, "{second}");

    // A body of 1 to 5,000 characters.
    let too_long = "z".repeat(5_001);
    for text in ["", too_long.as_str()] {
        let (status, body) = add_comment(&api, &bob, &post_id, text).await;
        assert_field_error(status, &body, "addComment", "BAD_USER_INPUT");
        assert_input_errors(&body, &["body"]);
    }
    let (status, body) = add_comment(&api, &bob, &post_id, &"z".repeat(5_000)).await;
    let third = ok(status, &body)["addComment"].clone();
    assert_eq!(third["post"]["commentCount"], 3, "{third}");

    // A post that is not there.
    let gone = deleted_post_id(&api, &alice).await;
    for missing in [gone.as_str(), "not-an-id"] {
        let (status, body) = add_comment(&api, &bob, missing, "Anyone?").await;
        assert_field_error(status, &body, "addComment", "NOT_FOUND");
    }

    // REST agrees: three comments, oldest first.
    let detail = get(&api, &format!("/api/v1/posts/{post_id}"), None).await;
    assert_eq!(detail.body["comment_count"], 3, "{}", detail.body);
    let ids: Vec<String> = detail.body["comments"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(ids, [id_of(&first), id_of(&second), id_of(&third)]);
}

fn assert_same_post(graphql: &Value, rest: &Value) {
    assert_eq!(graphql["id"], rest["id"], "{graphql} vs {rest}");
    assert_eq!(graphql["title"], rest["title"]);
    assert_eq!(graphql["body"], rest["body"]);
    assert_eq!(graphql["isPublic"], rest["is_public"]);
    assert_eq!(graphql["author"], rest["author"]);
    assert_eq!(graphql["commentCount"], rest["comment_count"]);
    assert_eq!(instant(&graphql["createdAt"]), instant(&rest["created_at"]), "{graphql} vs {rest}");
    assert_eq!(instant(&graphql["updatedAt"]), instant(&rest["updated_at"]), "{graphql} vs {rest}");
}

#[tokio::test]
async fn a_post_reads_the_same_over_graphql_and_rest() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let body = "Line one.\nLine two, with \"quotes\", ünïcode and ✓.";
    let post_id = id_of(&create_post(&api, &alice, json!({"title": "Compared field by field", "body": body})).await);
    for (who, text) in [(&bob, "From bob"), (&alice, "From alice"), (&bob, "Bob again")] {
        create_comment(&api, who, &post_id, text).await;
    }

    for token in [None, alice.token(), bob.token()] {
        let rest = get(&api, &format!("/api/v1/posts/{post_id}"), token).await;
        assert_eq!(rest.status, StatusCode::OK, "{}", rest.body);
        let post = post_by_id(&api, &post_id, token).await;
        assert_same_post(&post, &rest.body);
        let ours = nodes(&post["comments"]);
        let theirs = rest.body["comments"].as_array().expect("comments");
        assert_eq!(ours.len(), 3, "{post}");
        assert_eq!(ours.len(), theirs.len());
        for (ours, theirs) in ours.into_iter().zip(theirs) {
            assert_eq!(ours["id"], theirs["id"], "the same comments in the same order");
            assert_eq!(ours["body"], theirs["body"]);
            assert_eq!(ours["author"], theirs["author"]);
            assert_eq!(instant(&ours["createdAt"]), instant(&theirs["created_at"]));
        }

        // And a list item as a listed node.
        let (status, body) = gql(&api, &operation("PostsPage"), json!({"author": alice.username}), token).await;
        let listed = ok(status, &body)["posts"].clone();
        let rest_list = get(&api, &format!("/api/v1/posts?author={}", alice.username), token).await;
        assert_eq!(nodes(&listed).len(), 1, "{listed}");
        assert_same_post(nodes(&listed)[0], &rest_list.body["results"][0]);
    }
}

#[tokio::test]
async fn unknown_or_malformed_ids_read_as_null_without_an_error() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let gone = deleted_post_id(&api, &alice).await;
    let long = "x".repeat(300);
    for id in
        [gone.as_str(), "not-an-id", "", "POST#1", "../../etc/passwd", long.as_str(), "01ARZ3NDEKTSV4RRFFQ69G5FAV"]
    {
        for token in [None, alice.token()] {
            let (status, body) = gql(&api, &operation("PostWithComments"), json!({"id": id}), token).await;
            assert_eq!(ok(status, &body), &json!({"post": null}), "id {id:?}");
        }
    }
}

#[tokio::test]
async fn a_private_post_exists_only_for_its_author() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let word = unique_word();
    let input = json!({"title": format!("Diary {word}"), "body": "Dear diary.", "isPublic": false});
    let (status, body) = gql(&api, &operation("CreatePost"), json!({"input": input}), alice.token()).await;
    let private = ok(status, &body)["createPost"].clone();
    assert_eq!(private["isPublic"], false, "{private}");
    let private_id = id_of(&private);
    let public_id = id_of(&create_titled(&api, &alice, &format!("Public {word}")).await);
    let both = [public_id.clone(), private_id.clone()];

    // Its author sees it everywhere.
    let own = post_by_id(&api, &private_id, alice.token()).await;
    assert_eq!(own["id"], private_id.as_str(), "{own}");
    assert_eq!(own["isPublic"], false, "{own}");
    assert_eq!(listed(&api, json!({"author": alice.username}), alice.token()).await, both);
    assert_eq!(listed(&api, json!({"search": word}), alice.token()).await, both);

    // No one else does.
    for (who, token) in [("bob", bob.token()), ("anonymous", None)] {
        assert_eq!(post_by_id(&api, &private_id, token).await, Value::Null, "{who}");
        assert_eq!(
            listed(&api, json!({"author": alice.username}), token).await,
            std::slice::from_ref(&public_id),
            "{who}"
        );
        assert_eq!(listed(&api, json!({"search": word}), token).await, std::slice::from_ref(&public_id), "{who}");
    }

    // Commenting on it: not found for bob, fine for its author.
    let (status, body) = add_comment(&api, &bob, &private_id, "Peeking").await;
    assert_field_error(status, &body, "addComment", "NOT_FOUND");
    let (status, body) = add_comment(&api, &alice, &private_id, "Note to self").await;
    assert_eq!(ok(status, &body)["addComment"]["post"], json!({"id": private_id, "commentCount": 1}));
    let rest = get(&api, &format!("/api/v1/posts/{private_id}"), alice.token()).await;
    assert_eq!(rest.body["comment_count"], 1, "bob's attempt left nothing: {}", rest.body);
    assert_eq!(get(&api, &format!("/api/v1/posts/{private_id}"), bob.token()).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn posts_filter_by_author_in_any_letter_case_and_search_titles_and_bodies() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let word = unique_word();
    let in_title = id_of(
        &create_post(&api, &alice, json!({"title": format!("About {}", word.to_uppercase()), "body": "plain"})).await,
    );
    let in_body =
        id_of(&create_post(&api, &alice, json!({"title": "Another one", "body": format!("lorem {word} ipsum")})).await);
    let neither = id_of(&create_post(&api, &alice, json!({"title": "Unrelated", "body": "nothing here"})).await);
    let bobs = id_of(&create_post(&api, &bob, json!({"title": format!("{word}!"), "body": ""})).await);

    assert_eq!(
        listed(&api, json!({"search": mixed_case(&word)}), None).await,
        [bobs.clone(), in_body.clone(), in_title.clone()],
        "newest first, in titles and bodies, in any case"
    );
    assert_eq!(
        listed(&api, json!({"search": word, "orderBy": "TITLE"}), None).await,
        [in_title.clone(), in_body.clone(), bobs.clone()],
        "About…, Another one, w…!"
    );
    for spelling in [alice.username.to_uppercase(), mixed_case(&alice.username)] {
        assert_eq!(
            listed(&api, json!({"author": spelling}), None).await,
            [neither.clone(), in_body.clone(), in_title.clone()],
            "author {spelling}"
        );
    }
    assert_eq!(
        listed(&api, json!({"author": alice.username, "search": word.to_uppercase()}), None).await,
        [in_body.clone(), in_title.clone()]
    );

    // Nothing found: an empty connection, not an error.
    let nobody = json!({"author": format!("nobody-{}", unique_word())});
    let (status, body) = gql(&api, &operation("PostsPage"), nobody, None).await;
    assert_eq!(ok(status, &body)["posts"], json!({"edges": [], "pageInfo": {"hasNextPage": false, "endCursor": null}}));
    assert!(listed(&api, json!({"search": unique_word()}), None).await.is_empty());
}

#[tokio::test]
async fn walking_25_posts_by_10_returns_each_once_in_every_order() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let creates: Vec<_> = (0..25)
        .map(|i| {
            let api = api.clone();
            let alice = alice.clone();
            async move {
                let title = format!("Page {i:02}");
                let id = id_of(&create_titled(&api, &alice, &title).await);
                (title, id)
            }
        })
        .collect();
    let mut made = bounded(4, creates).await;
    // Ids order by creation.
    let mut oldest: Vec<String> = made.iter().map(|(_, id)| id.clone()).collect();
    oldest.sort();
    let newest: Vec<String> = oldest.iter().rev().cloned().collect();
    made.sort();
    let by_title: Vec<String> = made.into_iter().map(|(_, id)| id).collect();
    let by_title_desc: Vec<String> = by_title.iter().rev().cloned().collect();

    for (order, expected) in [
        (None, &newest),
        (Some("NEWEST"), &newest),
        (Some("OLDEST"), &oldest),
        (Some("TITLE"), &by_title),
        (Some("TITLE_DESC"), &by_title_desc),
    ] {
        let mut variables = json!({"author": alice.username, "first": 10});
        if let Some(order) = order {
            variables["orderBy"] = json!(order);
        }
        let pages = walk_posts(&api, variables, None, 5).await;
        let sizes: Vec<usize> = pages.iter().map(|page| nodes(page).len()).collect();
        assert_eq!(sizes, [10, 10, 5], "orderBy {order:?}");
        let walked: Vec<String> = pages.iter().flat_map(node_ids).collect();
        assert_eq!(&walked, expected, "orderBy {order:?}: each of the 25 once, in order");
        for page in &pages {
            let last = page["edges"].as_array().and_then(|edges| edges.last()).expect("an edge");
            assert!(last["cursor"].as_str().is_some_and(|c| !c.is_empty()), "{page}");
            assert_eq!(page["pageInfo"]["endCursor"], last["cursor"], "endCursor is the last edge's cursor: {page}");
        }
    }

    // An edge's cursor works as `after` too: the walk goes on right after it.
    let page = operation("PostsPage");
    let (status, body) = gql(&api, &page, json!({"author": alice.username, "first": 10}), None).await;
    let fifth = ok(status, &body)["posts"]["edges"][4]["cursor"].clone();
    let (status, body) = gql(&api, &page, json!({"author": alice.username, "first": 3, "after": fifth}), None).await;
    assert_eq!(node_ids(&ok(status, &body)["posts"]), newest[5..8]);
    // The default page is 20.
    let (status, body) = gql(&api, &page, json!({"author": alice.username}), None).await;
    let first_page = &ok(status, &body)["posts"];
    assert_eq!(node_ids(first_page), newest[..20]);
    assert_eq!(first_page["pageInfo"]["hasNextPage"], true);
}

#[tokio::test]
async fn walking_25_comments_by_10_returns_each_once_oldest_first() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let post_id = id_of(&create_titled(&api, &alice, "Much discussed").await);
    let creates: Vec<_> = (0..25)
        .map(|i| {
            let api = api.clone();
            let who = if i % 2 == 0 { alice.clone() } else { bob.clone() };
            let post_id = post_id.clone();
            async move { id_of(&create_comment(&api, &who, &post_id, &format!("Comment {i:02}")).await) }
        })
        .collect();
    let mut oldest_first = bounded(4, creates).await;
    oldest_first.sort();

    let query = operation("PostWithComments");
    let mut variables = json!({"id": post_id, "first": 10});
    let mut pages = Vec::new();
    loop {
        let (status, body) = gql(&api, &query, variables.clone(), None).await;
        let post = ok(status, &body)["post"].clone();
        assert_eq!(post["commentCount"], 25, "{post}");
        let comments = post["comments"].clone();
        pages.push(comments.clone());
        assert!(pages.len() <= 5, "the walk does not end");
        if comments["pageInfo"]["hasNextPage"] != true {
            break;
        }
        variables["after"] = comments["pageInfo"]["endCursor"].clone();
    }
    let sizes: Vec<usize> = pages.iter().map(|page| nodes(page).len()).collect();
    assert_eq!(sizes, [10, 10, 5]);
    let walked: Vec<String> = pages.iter().flat_map(node_ids).collect();
    assert_eq!(walked, oldest_first, "each of the 25 once, oldest first");

    // The default page is 20.
    let post = post_by_id(&api, &post_id, alice.token()).await;
    assert_eq!(node_ids(&post["comments"]), oldest_first[..20]);
    assert_eq!(post["comments"]["pageInfo"]["hasNextPage"], true);
}

/// Cursors that were altered, truncated, extended or made up.
fn bad_cursors(cursor: &str) -> Vec<(&'static str, String)> {
    assert!(cursor.len() > 8, "a cursor that short? {cursor:?}");
    let flip_from = |from: usize| -> String {
        let mut chars: Vec<char> = cursor.chars().collect();
        let at = (from..chars.len()).find(|&i| chars[i].is_ascii_alphanumeric()).expect("a letter or digit to flip");
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect()
    };
    vec![
        ("altered in the middle", flip_from(cursor.len() / 2)),
        ("altered at the start", flip_from(1)),
        ("truncated", cursor[..cursor.len() - 5].to_owned()),
        ("extended", format!("{cursor}x")),
        ("made up", "made-up".to_owned()),
        ("made up, dotted", "abc.def".to_owned()),
        ("made up JSON", URL_SAFE_NO_PAD.encode(br##"{"s":"x","d":"f","k":{"pk":"POST#1","sk":"#POST"}}"##)),
        ("not base64", "%%%not-base64%%%".to_owned()),
    ]
}

fn assert_cursor_refused(status: StatusCode, body: &Value, what: &str) {
    assert_eq!(status, StatusCode::OK, "{what}: {body}");
    assert_ne!(error_code(body), "INTERNAL_SERVER_ERROR", "{what}: {body}");
    assert_eq!(error_code(body), "BAD_USER_INPUT", "{what}: {body}");
    assert_input_errors(body, &["after"]);
}

#[tokio::test]
async fn tampered_truncated_or_made_up_cursors_are_bad_user_input_on_after() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    for title in ["One", "Two", "Three"] {
        create_titled(&api, &alice, title).await;
    }
    create_titled(&api, &bob, "Bob's").await;
    let page = operation("PostsPage");
    let by_alice = json!({"author": alice.username, "first": 1});
    let (status, body) = gql(&api, &page, by_alice.clone(), None).await;
    let cursor = ok(status, &body)["posts"]["pageInfo"]["endCursor"].as_str().expect("endCursor").to_owned();

    for (what, after) in bad_cursors(&cursor) {
        let mut variables = by_alice.clone();
        variables["after"] = json!(after);
        let (status, body) = gql(&api, &page, variables, None).await;
        assert_cursor_refused(status, &body, what);
    }
    // Bound to the listing it was made for.
    for (what, variables) in [
        ("another order", json!({"author": alice.username, "first": 1, "orderBy": "TITLE", "after": cursor})),
        ("oldest first", json!({"author": alice.username, "first": 1, "orderBy": "OLDEST", "after": cursor})),
        ("another author", json!({"author": bob.username, "first": 1, "after": cursor})),
        ("with a search", json!({"author": alice.username, "search": "o", "first": 1, "after": cursor})),
    ] {
        let (status, body) = gql(&api, &page, variables, None).await;
        assert_cursor_refused(status, &body, what);
    }

    // Comments: tampered, another post's, a posts cursor; and a comments cursor on posts.
    let thread = id_of(&create_titled(&api, &alice, "Thread one").await);
    let other = id_of(&create_titled(&api, &alice, "Thread two").await);
    for i in 0..2 {
        create_comment(&api, &alice, &thread, &format!("one {i}")).await;
        create_comment(&api, &alice, &other, &format!("two {i}")).await;
    }
    let with_comments = operation("PostWithComments");
    let (status, body) = gql(&api, &with_comments, json!({"id": thread, "first": 1}), None).await;
    let comment_cursor =
        ok(status, &body)["post"]["comments"]["pageInfo"]["endCursor"].as_str().expect("endCursor").to_owned();
    let mut comment_cases = vec![
        ("another post's comments", other.clone(), comment_cursor.clone()),
        ("a posts cursor", thread.clone(), cursor.clone()),
    ];
    comment_cases.extend(bad_cursors(&comment_cursor).into_iter().map(|(what, bad)| (what, thread.clone(), bad)));
    for (what, id, after) in comment_cases {
        let (status, body) = gql(&api, &with_comments, json!({"id": id, "first": 1, "after": after}), None).await;
        assert_cursor_refused(status, &body, what);
    }
    let (status, body) =
        gql(&api, &page, json!({"author": alice.username, "first": 1, "after": comment_cursor}), None).await;
    assert_cursor_refused(status, &body, "a comments cursor on posts");

    // The genuine ones still work, signed in or not.
    for token in [None, alice.token(), bob.token()] {
        let (status, body) =
            gql(&api, &page, json!({"author": alice.username, "first": 1, "after": cursor}), token).await;
        assert_eq!(ok(status, &body)["posts"]["edges"][0]["node"]["title"], "Two");
        let (status, body) =
            gql(&api, &with_comments, json!({"id": thread, "first": 1, "after": comment_cursor}), token).await;
        assert_eq!(ok(status, &body)["post"]["comments"]["edges"][0]["node"]["body"], "one 1");
    }
}

#[tokio::test]
async fn every_graphql_answer_carries_its_request_id_nosniff_and_one_completed_log_line() {
    let api = Api::new();
    let me = request(&operation("Me"), json!({}));
    let variables = json!({"input": {"title": "Never", "body": ""}}).to_string();
    let create = operation("CreatePost");
    let mutation_over_get = get_path(&[("query", &create), ("variables", &variables)]);
    let requests: [(&str, RequestBuilder, u16); 6] = [
        ("a query", api.request(Method::POST, PATH).json(&me), 200),
        ("a parse failure", api.request(Method::POST, PATH).json(&request("{ me {", json!({}))), 200),
        ("not JSON", api.request(Method::POST, PATH).header(header::CONTENT_TYPE, "application/json").body("{"), 400),
        ("a bad token", api.request(Method::POST, PATH).bearer_auth("not.a.jwt").json(&me), 401),
        ("a mutation over GET", api.request(Method::GET, &mutation_over_get), 405),
        (
            "plain text",
            api.request(Method::POST, PATH).header(header::CONTENT_TYPE, "text/plain").body("{ me { id } }"),
            415,
        ),
    ];
    for (what, builder, expected) in requests {
        let request_id = fresh_request_id();
        let (status, headers, body) = reply(builder.header("X-Request-Id", &request_id)).await;
        assert_eq!(status.as_u16(), expected, "{what}: {body}");
        let header_value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(header_value("x-request-id").as_deref(), Some(request_id.as_str()), "{what}");
        assert_eq!(header_value("x-content-type-options").as_deref(), Some("nosniff"), "{what}");
        let line = completed_log_line(&request_id).await;
        assert_eq!(line["msg"], "request completed", "{what}: {line}");
        assert_eq!(line["status"], expected, "{what}: {line}");
        assert_eq!(line["request_id"], request_id.as_str(), "{what}: {line}");
    }
}
