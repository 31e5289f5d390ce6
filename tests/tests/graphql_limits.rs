//! The contract's GraphQL limits and round trips on the shared stack: depth
//! (the introspection fields exempt), complexity and `first`, each checked
//! before any resolver runs, so a refused document makes no DynamoDB call;
//! the 64 KiB body limit; and the batching user loader's bounds, read from
//! the `request completed` log line, with twenty distinct authors and
//! twenty distinct commenters.
//!
//! The table is shared with suites running at the same time: every test
//! isolates itself with fresh users or unique search words.

use std::collections::{HashMap, HashSet};

use e2e_tests::graphql::{
    ACCEPTS, PATH, assert_bad_request, assert_input_errors, assert_request_error, decorate, gql, gql_get, gql_with,
    instant, nodes, ok, operation, reply, request,
};
use e2e_tests::posts::{User, bounded, create_comment, create_post, create_titled, get, id_of, new_user, unique_word};
use e2e_tests::{Api, aws_calls, fresh_request_id};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

/// Sends a document that must be refused before execution, under both
/// media types; checks the code and that no DynamoDB call was made.
/// Returns the last answer.
async fn assert_refused(api: &Api, document: &str, variables: Value, code: &str) -> Value {
    let mut last = Value::Null;
    for accept in ACCEPTS {
        let request_id = fresh_request_id();
        let (status, headers, body) =
            gql_with(api, &request(document, variables.clone()), None, accept, Some(&request_id)).await;
        assert_request_error(status, &headers, &body, code, accept);
        assert_eq!(aws_calls(&request_id, "dynamodb").await, 0, "a refused document made DynamoDB calls: {document}");
        last = body;
    }
    last
}

/// Depth 9: post 1, comments 2, edges 3, node 4, post 5, comments 6,
/// edges 7, node 8, id 9. (`first: 1` keeps it far under the complexity
/// limit, so depth is the only limit it breaks.)
const NINE_DEEP: &str = "query Nine($id: ID!) { post(id: $id) { comments(first: 1) { edges { node { post { \
                         comments(first: 1) { edges { node { id } } } } } } } } }";

/// Depth 9 again, through a fragment spread and an inline fragment.
const NINE_DEEP_IN_FRAGMENTS: &str = "query Nested($id: ID!) { post(id: $id) { ...Thread } } \
     fragment Thread on Post { comments(first: 1) { edges { node { post { ... on Post { \
     comments(first: 1) { edges { node { ...Leaf } } } } } } } } } \
     fragment Leaf on Comment { id }";

/// Depth 9 from `posts`: posts, edges, node, comments, edges, node, post, author, username.
const NINE_DEEP_FROM_POSTS: &str = "{ posts(first: 1) { edges { node { comments(first: 1) { edges { node { post { \
                                    author { username } } } } } } } } }";

/// Depth 8: post, comments, edges, node, post, comments, edges, cursor.
const EIGHT_DEEP: &str = "query Eight($id: ID!) { post(id: $id) { comments(first: 1) { edges { node { post { \
                          comments(first: 1) { edges { cursor } } } } } } } }";

/// Depth 8 from `posts`: posts, edges, node, comments, edges, node, author, username.
const EIGHT_DEEP_FROM_POSTS: &str = "query EightToo($author: String) { posts(first: 1, author: $author) { edges { \
                                     node { comments(first: 1) { edges { node { author { username } } } } } } } }";

#[tokio::test]
async fn a_query_nine_deep_is_refused_before_any_dynamodb_call() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let post_id = id_of(&create_titled(&api, &alice, "A deep thread").await);
    create_comment(&api, &alice, &post_id, "A comment").await;

    for document in [NINE_DEEP, NINE_DEEP_IN_FRAGMENTS] {
        assert_refused(&api, document, json!({"id": post_id}), "QUERY_TOO_DEEP").await;
    }
    assert_refused(&api, NINE_DEEP_FROM_POSTS, json!({}), "QUERY_TOO_DEEP").await;
    // Over GET and signed in, the same.
    for accept in ACCEPTS {
        let (status, headers, body) = gql_get(&api, &[("query", NINE_DEEP_FROM_POSTS)], alice.token(), accept).await;
        assert_request_error(status, &headers, &body, "QUERY_TOO_DEEP", accept);
    }
}

#[tokio::test]
async fn a_query_eight_deep_runs() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let post_id = id_of(&create_titled(&api, &alice, "Eight levels").await);
    create_comment(&api, &bob, &post_id, "Down here").await;

    let (status, body) = gql(&api, EIGHT_DEEP, json!({"id": post_id}), None).await;
    let inner = &ok(status, &body)["post"]["comments"]["edges"][0]["node"]["post"]["comments"]["edges"][0];
    assert!(inner["cursor"].as_str().is_some_and(|c| !c.is_empty()), "{body}");

    let (status, body) = gql(&api, EIGHT_DEEP_FROM_POSTS, json!({"author": alice.username}), bob.token()).await;
    let comment = &ok(status, &body)["posts"]["edges"][0]["node"]["comments"]["edges"][0]["node"];
    assert_eq!(comment["author"]["username"], bob.username.as_str(), "{body}");
}

/// graphql-js's `getIntrospectionQuery()`, as GraphiQL sends it: its
/// `ofType` chain is far deeper than 8.
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives {
      name
      description
      locations
      args { ...InputValue }
    }
  }
}

fragment FullType on __Type {
  kind
  name
  description
  fields(includeDeprecated: true) {
    name
    description
    args { ...InputValue }
    type { ...TypeRef }
    isDeprecated
    deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) {
    name
    description
    isDeprecated
    deprecationReason
  }
  possibleTypes { ...TypeRef }
}

fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
}

fragment TypeRef on __Type {
  kind
  name
  ofType {
    kind
    name
    ofType {
      kind
      name
      ofType {
        kind
        name
        ofType {
          kind
          name
          ofType {
            kind
            name
            ofType {
              kind
              name
              ofType {
                kind
                name
              }
            }
          }
        }
      }
    }
  }
}
"#;

fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|items| items.iter().find(|item| item["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

/// The sorted names in a type's `fields`, `inputFields` or `enumValues`.
fn names_in(types: &Value, type_name: &str, list: &str) -> Vec<String> {
    let found = named(types, type_name);
    let items = found[list].as_array().unwrap_or_else(|| panic!("{type_name} has no {list}: {found}"));
    let mut names: Vec<String> = items.iter().map(|item| item["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_full_introspection_query_is_exempt_from_the_depth_limit_and_shows_the_contracts_schema() {
    let api = Api::new();
    let (status, body) = gql(&api, INTROSPECTION, json!({}), None).await;
    let schema = &ok(status, &body)["__schema"];
    assert_eq!(schema["queryType"]["name"], "Query");
    assert_eq!(schema["mutationType"]["name"], "Mutation");
    assert_eq!(schema["subscriptionType"], Value::Null);

    // Exactly the contract's SDL, plus `User.dateJoined` and `User.isStaff`.
    let types = &schema["types"];
    let expected: [(&str, &str, &[&str]); 13] = [
        ("Query", "fields", &["me", "post", "posts"]),
        ("Mutation", "fields", &["addComment", "createPost"]),
        (
            "Post",
            "fields",
            &["author", "body", "commentCount", "comments", "createdAt", "id", "isPublic", "title", "updatedAt"],
        ),
        ("Comment", "fields", &["author", "body", "createdAt", "id", "post", "updatedAt"]),
        ("User", "fields", &["dateJoined", "emailVerified", "id", "isStaff", "username"]),
        ("PostConnection", "fields", &["edges", "pageInfo"]),
        ("PostEdge", "fields", &["cursor", "node"]),
        ("CommentConnection", "fields", &["edges", "pageInfo"]),
        ("CommentEdge", "fields", &["cursor", "node"]),
        ("PageInfo", "fields", &["endCursor", "hasNextPage"]),
        ("PostOrder", "enumValues", &["NEWEST", "OLDEST", "TITLE", "TITLE_DESC"]),
        ("CreatePostInput", "inputFields", &["body", "isPublic", "secretNote", "title"]),
        ("AddCommentInput", "inputFields", &["body", "postId"]),
    ];
    for (type_name, list, names) in expected {
        assert_eq!(names_in(types, type_name, list), names, "{type_name}.{list}");
    }
    assert_eq!(named(types, "DateTime")["kind"], "SCALAR");
    let date_joined = &named(&named(types, "User")["fields"], "dateJoined")["type"];
    assert_eq!(date_joined["kind"], "NON_NULL", "{date_joined}");
    assert_eq!(date_joined["ofType"]["name"], "DateTime", "{date_joined}");
    let posts_args = &named(&named(types, "Query")["fields"], "posts")["args"];
    assert_eq!(named(posts_args, "first")["defaultValue"], "20", "{posts_args}");
    assert_eq!(named(posts_args, "orderBy")["defaultValue"], "NEWEST", "{posts_args}");
    let comments_args = &named(&named(types, "Post")["fields"], "comments")["args"];
    assert_eq!(named(comments_args, "first")["defaultValue"], "20", "{comments_args}");

    // `__type`, nested as deep as GraphiQL nests it.
    let deep_type = "{ __type(name: \"User\") { fields { name type { kind ofType { kind ofType { kind ofType { \
                     kind ofType { kind ofType { kind ofType { kind ofType { name } } } } } } } } } } }";
    let (status, body) = gql(&api, deep_type, json!({}), None).await;
    let user_fields = ok(status, &body)["__type"]["fields"].as_array().unwrap_or_else(|| panic!("{body}"));
    let mut names: Vec<&str> = user_fields.iter().map(|field| field["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["dateJoined", "emailVerified", "id", "isStaff", "username"], "{body}");
}

#[tokio::test]
async fn a_query_costing_over_1000_is_refused_before_any_dynamodb_call() {
    let api = Api::new();
    // 1 + 100 × (1 + 1 + (1 + 100 × 3)) = 30,301.
    let nested = "{ posts(first: 100) { edges { node { comments(first: 100) { edges { node { id } } } } } } }";
    assert_refused(&api, nested, json!({}), "QUERY_TOO_COMPLEX").await;
    // The same, `first` given through a variable.
    let by_variable =
        "query Wide($n: Int) { posts(first: $n) { edges { node { comments(first: $n) { edges { node { id } } } } } } }";
    assert_refused(&api, by_variable, json!({"n": 100}), "QUERY_TOO_COMPLEX").await;
    // Defaults count as 20: 1 + 20 × (1 + 1 + (1 + 20 × 8)) = 3,261.
    let defaults =
        "{ posts { edges { node { comments { edges { node { id body createdAt author { id username } } } } } } } }";
    assert_refused(&api, defaults, json!({}), "QUERY_TOO_COMPLEX").await;
    // Aliases add up: 4 × (1 + 100 × 3) = 1,204.
    let aliased = "{ a: posts(first: 100) { edges { node { id } } } b: posts(first: 100) { edges { node { id } } } \
                   c: posts(first: 100) { edges { node { id } } } d: posts(first: 100) { edges { node { id } } } }";
    assert_refused(&api, aliased, json!({}), "QUERY_TOO_COMPLEX").await;

    // With 5 instead of 100: 1 + 5 × (1 + 1 + (1 + 5 × 3)) = 91, which runs.
    let (status, body) = gql(&api, by_variable, json!({"n": 5}), None).await;
    assert!(nodes(&ok(status, &body)["posts"]).len() <= 5, "{body}");
}

/// 904 (`a`, its `pageInfo` counted once) + 96 (`b`) = 1,000.
const AT_THE_LIMIT: &str = "query AtTheLimit($nobody: String) {
  a: posts(first: 100, author: $nobody) {
    edges { node { id title body isPublic commentCount createdAt updatedAt } }
    pageInfo { hasNextPage endCursor }
  }
  b: posts(first: 19, author: $nobody) { edges { node { id title body } } }
}";

/// 904 + 97 = 1,001.
const ONE_OVER: &str = "query OneOver($nobody: String) {
  a: posts(first: 100, author: $nobody) {
    edges { node { id title body isPublic commentCount createdAt updatedAt } }
    pageInfo { hasNextPage endCursor }
  }
  b: posts(first: 16, author: $nobody) { edges { node { id title body isPublic } } }
}";

#[tokio::test]
async fn queries_costing_up_to_1000_run_with_page_info_counted_once() {
    let api = Api::new();
    // 1 + 100 × (1 + 1 + 2) = 401.
    let (status, body) = gql(&api, "{ posts(first: 100) { edges { node { id title } } } }", json!({}), None).await;
    assert!(nodes(&ok(status, &body)["posts"]).len() <= 100, "{body}");

    let nobody = json!({"nobody": format!("nobody-{}", unique_word())});
    let (status, body) = gql(&api, AT_THE_LIMIT, nobody.clone(), None).await;
    assert_eq!(
        ok(status, &body),
        &json!({"a": {"edges": [], "pageInfo": {"hasNextPage": false, "endCursor": null}}, "b": {"edges": []}})
    );
    assert_refused(&api, ONE_OVER, nobody, "QUERY_TOO_COMPLEX").await;
}

#[tokio::test]
async fn first_outside_1_to_100_is_bad_user_input_before_any_dynamodb_call() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let post_id = id_of(&create_titled(&api, &alice, "Paged comments").await);
    create_comment(&api, &alice, &post_id, "The only one").await;
    let through_variable = "query Page($n: Int) { posts(first: $n) { edges { cursor } } }";
    let with_comments = operation("PostWithComments");

    for n in [0, 101, -1] {
        let literal = format!("{{ posts(first: {n}) {{ edges {{ cursor }} }} }}");
        let on_comments =
            format!("query Thread($id: ID!) {{ post(id: $id) {{ comments(first: {n}) {{ edges {{ cursor }} }} }} }}");
        for (document, variables) in [
            (literal.as_str(), json!({})),
            (through_variable, json!({"n": n})),
            (on_comments.as_str(), json!({"id": post_id})),
            (with_comments.as_str(), json!({"id": post_id, "first": n})),
        ] {
            let body = assert_refused(&api, document, variables, "BAD_USER_INPUT").await;
            assert_input_errors(&body, &["first"]);
        }
    }

    // The ends of the range run.
    let by_alice = "query Page($n: Int, $author: String) { posts(first: $n, author: $author) { edges { cursor } } }";
    for n in [1, 100] {
        let (status, body) = gql(&api, by_alice, json!({"n": n, "author": alice.username}), None).await;
        assert_eq!(nodes(&ok(status, &body)["posts"]).len(), 1, "first: {n}");
        let (status, body) = gql(&api, &with_comments, json!({"id": post_id, "first": n}), None).await;
        assert_eq!(nodes(&ok(status, &body)["post"]["comments"]).len(), 1, "first: {n}");
    }
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_and_one_of_exactly_64_kib_runs() {
    let api = Api::new();
    // `{"query": "{ me { id } }   …   "}`, padded with spaces to `size` bytes.
    let sized = |size: usize| -> String {
        let (head, tail) = (r#"{"query": "{ me { id } }"#, r#""}"#);
        let body = format!("{head}{}{tail}", " ".repeat(size - head.len() - tail.len()));
        assert_eq!(body.len(), size);
        body
    };
    for accept in ACCEPTS {
        let send = |size: usize| {
            let post =
                api.request(Method::POST, PATH).header(header::CONTENT_TYPE, "application/json").body(sized(size));
            reply(decorate(post, None, accept, None))
        };
        let (status, _, body) = send(64 * 1024).await;
        assert_eq!(ok(status, &body), &json!({"me": null}), "Accept {accept:?}");
        for size in [64 * 1024 + 1, 256 * 1024] {
            let (status, _, body) = send(size).await;
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{size} bytes, Accept {accept:?}: {body}");
            assert_bad_request(status, &body, 413);
        }
    }
}

/// A fresh signed-in user and their `date_joined` as REST shows it.
async fn user_with_date_joined(api: &Api) -> (User, Value) {
    let user = new_user(api).await;
    let me = get(api, "/api/v1/auth/me", user.token()).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let joined = me.body["date_joined"].clone();
    (user, joined)
}

/// Twenty fresh users (registration hashes passwords: four at a time).
async fn twenty_users(api: &Api) -> Vec<(User, Value)> {
    let registrations: Vec<_> = (0..20)
        .map(|_| {
            let api = api.clone();
            async move { user_with_date_joined(&api).await }
        })
        .collect();
    let users = bounded(4, registrations).await;
    assert_eq!(users.iter().map(|(user, _)| &user.username).collect::<HashSet<_>>().len(), 20);
    users
}

#[tokio::test]
async fn twenty_posts_by_twenty_authors_take_at_most_two_dynamodb_calls() {
    let api = Api::new();
    let word = unique_word();
    let authors = twenty_users(&api).await;
    // One older match first: the page of 20 is then full once the 20 newest
    // are read. (Search is a filter read on within a budget of calls; with
    // exactly 20 matches the page would read on through the shared table to
    // learn there is no 21st.)
    create_post(&api, &authors[0].0, json!({"title": format!("Older {word}"), "body": ""})).await;
    let creates: Vec<_> = authors
        .iter()
        .enumerate()
        .map(|(i, (author, _))| {
            let api = api.clone();
            let author = author.clone();
            let title = format!("Post {i:02} {word}");
            async move { create_post(&api, &author, json!({"title": title, "body": ""})).await }
        })
        .collect();
    bounded(4, creates).await;
    let expected: HashMap<String, &(User, Value)> =
        authors.iter().enumerate().map(|(i, author)| (format!("Post {i:02} {word}"), author)).collect();

    for name in ["PostsWithAuthors", "PostsWithAuthorsJoined"] {
        let request_id = fresh_request_id();
        let (status, _, body) =
            gql_with(&api, &request(&operation(name), json!({"search": word})), None, None, Some(&request_id)).await;
        let found = nodes(&ok(status, &body)["posts"]);
        assert_eq!(found.len(), 20, "{name}: {body}");
        let mut titles = HashSet::new();
        for node in found {
            let title = node["title"].as_str().expect("title");
            let (author, joined) = expected.get(title).unwrap_or_else(|| panic!("{name}: not one of the 20: {node}"));
            assert_eq!(node["author"]["username"], author.username.as_str(), "{name}: {node}");
            if name == "PostsWithAuthorsJoined" {
                assert_eq!(instant(&node["author"]["dateJoined"]), instant(joined), "{name}: {node}");
            }
            titles.insert(title.to_owned());
        }
        assert_eq!(titles.len(), 20, "{name}: each of the 20 once");
        let calls = aws_calls(&request_id, "dynamodb").await;
        assert!(calls <= 2, "{name}: {calls} DynamoDB calls for 20 posts by 20 authors");
    }

    // The contract's example as it stands: whoever the newest authors are.
    for name in ["PostsWithAuthors", "PostsWithAuthorsJoined"] {
        let request_id = fresh_request_id();
        let (status, _, body) =
            gql_with(&api, &request(&operation(name), json!({})), None, None, Some(&request_id)).await;
        let found = nodes(&ok(status, &body)["posts"]);
        assert_eq!(found.len(), 20, "{name}: {body}");
        for node in found {
            assert!(node["author"]["username"].as_str().is_some_and(|u| !u.is_empty()), "{name}: {node}");
        }
        let calls = aws_calls(&request_id, "dynamodb").await;
        assert!(calls <= 2, "{name} without filters: {calls} DynamoDB calls");
    }
}

#[tokio::test]
async fn a_post_with_twenty_commenters_takes_at_most_three_dynamodb_calls() {
    let api = Api::new();
    let (author, author_joined) = user_with_date_joined(&api).await;
    let post_id = id_of(&create_titled(&api, &author, "Twenty voices").await);
    let commenters = twenty_users(&api).await;
    let comments: Vec<_> = commenters
        .iter()
        .map(|(user, _)| {
            let api = api.clone();
            let user = user.clone();
            let post_id = post_id.clone();
            async move { create_comment(&api, &user, &post_id, &format!("I am {}", user.username)).await }
        })
        .collect();
    bounded(4, comments).await;
    let joined: HashMap<&str, &Value> = commenters.iter().map(|(user, at)| (user.username.as_str(), at)).collect();

    // REST's detail: the comments oldest first, with their authors.
    let rest = get(&api, &format!("/api/v1/posts/{post_id}"), None).await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.body);
    let rest_authors: Vec<&str> =
        rest.body["comments"].as_array().unwrap().iter().map(|c| c["author"]["username"].as_str().unwrap()).collect();
    assert_eq!(rest_authors.iter().collect::<HashSet<_>>().len(), 20, "{}", rest.body);

    for name in ["PostDetail", "PostDetailJoined"] {
        let request_id = fresh_request_id();
        let (status, _, body) =
            gql_with(&api, &request(&operation(name), json!({"id": post_id})), None, None, Some(&request_id)).await;
        let post = &ok(status, &body)["post"];
        assert_eq!(post["author"]["username"], author.username.as_str(), "{name}: {body}");
        let found = nodes(&post["comments"]);
        let authors: Vec<&str> = found.iter().map(|node| node["author"]["username"].as_str().unwrap()).collect();
        assert_eq!(authors, rest_authors, "{name}: each comment's author, oldest first");
        if name == "PostDetailJoined" {
            assert_eq!(instant(&post["author"]["dateJoined"]), instant(&author_joined), "{name}: {body}");
            for node in &found {
                let username = node["author"]["username"].as_str().unwrap();
                assert_eq!(instant(&node["author"]["dateJoined"]), instant(joined[username]), "{name}: {node}");
            }
        }
        let calls = aws_calls(&request_id, "dynamodb").await;
        assert!(calls <= 3, "{name}: {calls} DynamoDB calls for a post with 20 commenters");
    }
}
