//! The contract's "Posts and comments" section, single posts: create, read,
//! PUT, PATCH, DELETE; author-or-read-only; private posts; `secret_note`
//! write-only; per-field validation; `Location`; anonymous writes; the
//! DynamoDB round trips of a detail and a create.

use aws_sdk_dynamodb::types::AttributeValue;
use e2e_tests::posts::{
    Answer, create_comment, create_post, create_titled, get, id_of, keys, new_user, send, stored_post_items,
    unique_word,
};
use e2e_tests::{Api, assert_error, aws_calls, fresh_request_id};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const POST_KEYS: [&str; 9] =
    ["author", "body", "comment_count", "comments", "created_at", "id", "is_public", "title", "updated_at"];

fn time_of(value: &Value, field: &str) -> OffsetDateTime {
    let text = value[field].as_str().unwrap_or_else(|| panic!("no {field} in {value}"));
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("{field} {text:?} is not RFC 3339: {e}"))
}

fn assert_utc(value: &Value, field: &str) {
    let text = value[field].as_str().unwrap();
    assert!(text.ends_with('Z') || text.ends_with("+00:00"), "{field} {text:?} is not UTC");
    assert_eq!(time_of(value, field).offset(), time::UtcOffset::UTC);
}

fn assert_no_secret(value: &Value, secret: &str) {
    let text = value.to_string();
    assert!(!text.contains("secret_note"), "secret_note shown: {text}");
    assert!(!text.contains(secret), "the note's text shown: {text}");
}

#[tokio::test]
async fn create_answers_201_with_location_and_the_post_never_showing_its_secret_note() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let secret = format!("for-my-eyes-only-{}", unique_word());
    let request_id = fresh_request_id();
    let answer = send(
        &api,
        Method::POST,
        "/api/v1/posts",
        alice.token(),
        Some(&json!({"title": "  A first post  ", "body": "Hello, world.", "secret_note": secret})),
        Some(&request_id),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let created = answer.body.clone();
    assert_eq!(keys(&created), POST_KEYS, "{created}");
    let id = id_of(&created);
    assert!(!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)), "{id}");
    assert_eq!(created["title"], "A first post", "titles are trimmed as DRF's CharField does");
    assert_eq!(created["body"], "Hello, world.");
    assert_eq!(created["is_public"], true, "public by default");
    assert_eq!(created["author"], json!({"id": alice.id, "username": alice.username}));
    assert_eq!(created["comments"], json!([]));
    assert_eq!(created["comment_count"], 0);
    assert_utc(&created, "created_at");
    assert_utc(&created, "updated_at");
    assert_no_secret(&created, &secret);

    // One PutItem, nothing else.
    assert_eq!(aws_calls(&request_id, "dynamodb").await, 1, "create post: DynamoDB calls");

    // Location is absolute, on the API's own base, and names the new post.
    let location = answer.location.expect("Location on 201");
    assert_eq!(location, format!("{}/api/v1/posts/{id}", api.base));
    let read = get(&api, &location, None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body, created, "GET of Location is the post just created");
    assert_no_secret(&read.body, &secret);
    let own = get(&api, &location, alice.token()).await;
    assert_no_secret(&own.body, &secret);
    let list = get(&api, &format!("/api/v1/posts?author={}", alice.username), alice.token()).await;
    assert_eq!(list.body["results"].as_array().unwrap().len(), 1, "{}", list.body);
    assert_no_secret(&list.body, &secret);

    // Accepted on write: it is stored.
    let items = stored_post_items(&id).await;
    let post_item = items.iter().find(|i| i.get("sk") == Some(&AttributeValue::S("#POST".into()))).expect("post item");
    assert_eq!(post_item.get("secret_note"), Some(&AttributeValue::S(secret.clone())));
}

#[tokio::test]
async fn a_detail_is_one_dynamodb_query_with_the_comments_oldest_first() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let post = create_titled(&api, &alice, "Detail in one round trip").await;
    let id = id_of(&post);
    let mut comment_ids = Vec::new();
    for (who, text) in [(&bob, "first"), (&alice, "second"), (&bob, "third")] {
        comment_ids.push(id_of(&create_comment(&api, who, &id, text).await));
    }

    for token in [None, alice.token(), bob.token()] {
        let request_id = fresh_request_id();
        let answer = send(&api, Method::GET, &format!("/api/v1/posts/{id}"), token, None, Some(&request_id)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(keys(&answer.body), POST_KEYS);
        assert_eq!(answer.body["comment_count"], 3);
        let comments = answer.body["comments"].as_array().unwrap();
        let ids: Vec<String> = comments.iter().map(id_of).collect();
        assert_eq!(ids, comment_ids, "oldest first");
        let bodies: Vec<&str> = comments.iter().map(|c| c["body"].as_str().unwrap()).collect();
        assert_eq!(bodies, ["first", "second", "third"]);
        assert_eq!(comments[0]["author"], json!({"id": bob.id, "username": bob.username}));
        assert_eq!(comments[0]["post_id"], id.as_str());
        for pair in comments.windows(2) {
            assert!(time_of(&pair[0], "created_at") <= time_of(&pair[1], "created_at"), "{pair:?}");
        }
        assert_eq!(aws_calls(&request_id, "dynamodb").await, 1, "post detail: DynamoDB calls");
    }
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let missing = ulid::Ulid::new().to_string();
    for path in [
        format!("/api/v1/posts/{missing}"),
        format!("/api/v1/posts/{missing}/comments"),
        format!("/api/v1/comments/{missing}"),
        "/api/v1/posts/not%20an%20id".to_owned(),
        format!("/api/v1/posts/{}", "A".repeat(300)),
    ] {
        for token in [None, alice.token()] {
            let answer = get(&api, &path, token).await;
            assert_error(answer.status, &answer.body, 404, "not_found");
        }
    }
    for method in [Method::PUT, Method::PATCH, Method::DELETE] {
        let answer = send(
            &api,
            method.clone(),
            &format!("/api/v1/posts/{missing}"),
            alice.token(),
            Some(&json!({"title": "Valid"})),
            None,
        )
        .await;
        assert_error(answer.status, &answer.body, 404, "not_found");
    }
}

#[tokio::test]
async fn validation_errors_name_every_bad_field_in_drf_words() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let check = |input: Value, expected: Value| {
        let api = api.clone();
        let alice = alice.clone();
        async move {
            let answer = send(&api, Method::POST, "/api/v1/posts", alice.token(), Some(&input), None).await;
            assert_error(answer.status, &answer.body, 400, "validation_error");
            for (field, messages) in expected.as_object().unwrap() {
                assert_eq!(&answer.body["errors"][field], messages, "{input} → {}", answer.body);
            }
            answer.body
        }
    };
    let required = json!(["This field is required."]);
    let both = check(json!({}), json!({"title": required, "body": required})).await;
    assert_eq!(keys(&both["errors"]), ["body", "title"], "{both}");
    check(json!({"body": "x"}), json!({"title": required})).await;
    check(json!({"title": "Has a title"}), json!({"body": required})).await;
    check(json!({"title": "ab", "body": ""}), json!({"title": ["Ensure this field has at least 3 characters."]})).await;
    check(json!({"title": "   ", "body": ""}), json!({"title": ["This field may not be blank."]})).await;
    check(
        json!({"title": "t".repeat(201), "body": ""}),
        json!({"title": ["Ensure this field has no more than 200 characters."]}),
    )
    .await;
    check(
        json!({"title": "Long body", "body": "b".repeat(20_001)}),
        json!({"body": ["Ensure this field has no more than 20000 characters."]}),
    )
    .await;
    check(json!({"title": null, "body": ""}), json!({"title": ["This field may not be null."]})).await;
    check(
        json!({"title": "Typed", "body": "", "is_public": "yes"}),
        json!({"is_public": ["Must be a valid boolean."]}),
    )
    .await;
    let typed = check(json!({"title": 42, "body": ""}), json!({})).await;
    assert!(typed["errors"]["title"].is_array(), "{typed}");
    let shape = check(json!(["not", "an", "object"]), json!({})).await;
    assert!(shape["errors"]["non_field_errors"].is_array(), "{shape}");

    // The limits are in characters, inclusive.
    let edge = create_post(&api, &alice, json!({"title": "é".repeat(200), "body": "ü".repeat(20_000)})).await;
    assert_eq!(edge["title"].as_str().unwrap().chars().count(), 200);
    create_post(&api, &alice, json!({"title": "abc", "body": ""})).await;

    // Nothing invalid was stored: only the two good posts are listed.
    let list = get(&api, &format!("/api/v1/posts?author={}", alice.username), alice.token()).await;
    assert_eq!(list.body["results"].as_array().unwrap().len(), 2, "{}", list.body);

    // Not JSON at all is a bad_request; another content type a 415.
    let raw = api
        .request(Method::POST, "/api/v1/posts")
        .bearer_auth(&alice.access)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = e2e_tests::status_and_json(raw).await;
    assert_error(status, &body, 400, "bad_request");
    let form = api
        .request(Method::POST, "/api/v1/posts")
        .bearer_auth(&alice.access)
        .header("content-type", "text/plain")
        .body("title=abc")
        .send()
        .await
        .unwrap();
    let (status, body) = e2e_tests::status_and_json(form).await;
    assert_error(status, &body, 415, "unsupported_media_type");
}

#[tokio::test]
async fn the_body_is_required_but_may_be_empty() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let post = create_post(&api, &alice, json!({"title": "Empty body", "body": ""})).await;
    assert_eq!(post["body"], "");
    let read = get(&api, &format!("/api/v1/posts/{}", id_of(&post)), None).await;
    assert_eq!(read.body["body"], "");
}

#[tokio::test]
async fn anonymous_writes_are_401_whether_the_target_exists_or_not_and_before_validation() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let post = create_titled(&api, &alice, "Anonymous writes bounce").await;
    let id = id_of(&post);
    let comment = create_comment(&api, &alice, &id, "a comment").await;
    let comment_id = id_of(&comment);
    let missing = ulid::Ulid::new().to_string();

    let valid_post = json!({"title": "Valid title", "body": "ok"});
    let invalid_post = json!({"title": "x", "is_public": "maybe"});
    let valid_comment = json!({"body": "hi"});
    let invalid_comment = json!({"body": ""});
    let mut cases: Vec<(Method, String, Value)> = vec![
        (Method::POST, "/api/v1/posts".into(), valid_post.clone()),
        (Method::POST, "/api/v1/posts".into(), invalid_post.clone()),
        (Method::POST, "/api/v1/posts".into(), json!({})),
    ];
    for target in [&id, &missing, &"bad id!".to_owned()] {
        let target = target.replace(' ', "%20");
        for body in [&valid_post, &invalid_post] {
            cases.push((Method::PUT, format!("/api/v1/posts/{target}"), body.clone()));
            cases.push((Method::PATCH, format!("/api/v1/posts/{target}"), body.clone()));
        }
        cases.push((Method::DELETE, format!("/api/v1/posts/{target}"), Value::Null));
        for body in [&valid_comment, &invalid_comment] {
            cases.push((Method::POST, format!("/api/v1/posts/{target}/comments"), body.clone()));
        }
    }
    for target in [&comment_id, &missing] {
        for body in [&valid_comment, &invalid_comment] {
            cases.push((Method::PATCH, format!("/api/v1/comments/{target}"), body.clone()));
        }
        cases.push((Method::DELETE, format!("/api/v1/comments/{target}"), Value::Null));
    }
    for (method, path, body) in cases {
        let body = (!body.is_null()).then_some(body);
        let answer = send(&api, method.clone(), &path, None, body.as_ref(), None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path} {body:?} → {}", answer.body);
        assert_error(answer.status, &answer.body, 401, "not_authenticated");
    }

    // Auth comes before the media type too.
    let plain = api
        .request(Method::POST, "/api/v1/posts")
        .header("content-type", "text/plain")
        .body("title=x")
        .send()
        .await
        .unwrap();
    let (status, body) = e2e_tests::status_and_json(plain).await;
    assert_error(status, &body, 401, "not_authenticated");

    // A token that is present but not valid is never taken as anonymous.
    for method in [Method::GET, Method::PATCH] {
        let answer =
            send(&api, method, &format!("/api/v1/posts/{id}"), Some("not.a.jwt"), Some(&json!({})), None).await;
        assert_error(answer.status, &answer.body, 401, "token_not_valid");
    }

    // Nothing changed.
    let read = get(&api, &format!("/api/v1/posts/{id}"), None).await;
    assert_eq!(read.body["title"], "Anonymous writes bounce");
    assert_eq!(read.body["comment_count"], 1);
    assert_eq!(read.body["comments"][0]["body"], "a comment");
}

#[tokio::test]
async fn only_the_author_may_change_or_delete_a_post() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let post = create_post(&api, &alice, json!({"title": "Alice's words", "body": "Mine."})).await;
    let path = format!("/api/v1/posts/{}", id_of(&post));

    let attempts: [(Method, Option<Value>); 5] = [
        (Method::PUT, Some(json!({"title": "Bob was here", "body": "Now mine."}))),
        (Method::PATCH, Some(json!({"title": "Bob was here"}))),
        (Method::PATCH, Some(json!({"is_public": false}))),
        // Authorisation before validation of the body: still 403.
        (Method::PATCH, Some(json!({"title": ""}))),
        (Method::DELETE, None),
    ];
    for (method, body) in attempts {
        let answer = send(&api, method.clone(), &path, bob.token(), body.as_ref(), None).await;
        assert_error(answer.status, &answer.body, 403, "permission_denied");
    }
    let read = get(&api, &path, None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, post, "unchanged by the refused writes");
}

#[tokio::test]
async fn put_replaces_and_patch_changes_only_what_is_sent() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let (note1, note2) = (format!("note-{}", unique_word()), format!("note-{}", unique_word()));
    let created =
        create_post(&api, &alice, json!({"title": "Original", "body": "Original body", "secret_note": note1})).await;
    let id = id_of(&created);
    let path = format!("/api/v1/posts/{id}");
    create_comment(&api, &alice, &id, "still here").await;

    // PATCH one field.
    let patched = send(&api, Method::PATCH, &path, alice.token(), Some(&json!({"title": "Patched title"})), None).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(keys(&patched.body), POST_KEYS);
    assert_eq!(patched.body["title"], "Patched title");
    assert_eq!(patched.body["body"], "Original body");
    assert_eq!(patched.body["is_public"], true);
    assert_eq!(patched.body["comment_count"], 1);
    assert_eq!(patched.body["comments"][0]["body"], "still here");
    assert_eq!(patched.body["created_at"], created["created_at"]);
    assert!(time_of(&patched.body, "updated_at") > time_of(&created, "updated_at"), "{}", patched.body);
    assert_no_secret(&patched.body, &note1);

    // PATCH with an empty object changes nothing but is fine.
    let empty = send(&api, Method::PATCH, &path, alice.token(), Some(&json!({})), None).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert_eq!(empty.body["title"], "Patched title");

    // PATCH refuses nulls and bad values per field.
    for (input, field) in [
        (json!({"title": null}), "title"),
        (json!({"title": "no"}), "title"),
        (json!({"body": null}), "body"),
        (json!({"is_public": null}), "is_public"),
        (json!({"is_public": "false"}), "is_public"),
    ] {
        let answer = send(&api, Method::PATCH, &path, alice.token(), Some(&input), None).await;
        assert_error(answer.status, &answer.body, 400, "validation_error");
        assert!(answer.body["errors"][field].is_array(), "{input} → {}", answer.body);
    }

    // PUT needs every required field.
    let partial_put =
        send(&api, Method::PUT, &path, alice.token(), Some(&json!({"title": "Only a title"})), None).await;
    assert_error(partial_put.status, &partial_put.body, 400, "validation_error");
    assert_eq!(partial_put.body["errors"]["body"], json!(["This field is required."]));

    let put = send(
        &api,
        Method::PUT,
        &path,
        alice.token(),
        Some(&json!({"title": "Replaced", "body": "Replaced body", "is_public": true, "secret_note": note2})),
        None,
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!((put.body["title"].as_str(), put.body["body"].as_str()), (Some("Replaced"), Some("Replaced body")));
    assert_eq!(put.body["created_at"], created["created_at"]);
    assert_eq!(put.body["author"], created["author"]);
    assert_no_secret(&put.body, &note2);

    let read = get(&api, &path, None).await;
    assert_eq!(read.body["title"], "Replaced");
    assert_eq!(read.body["comment_count"], 1);
    assert_eq!(read.body["updated_at"], put.body["updated_at"]);

    // The stored note follows the writes.
    let items = stored_post_items(&id).await;
    let post_item = items.iter().find(|i| i.get("sk") == Some(&AttributeValue::S("#POST".into()))).unwrap();
    assert_eq!(post_item.get("secret_note"), Some(&AttributeValue::S(note2.clone())));
}

#[tokio::test]
async fn a_private_post_exists_only_for_its_author() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let word = unique_word();
    let private =
        create_post(&api, &alice, json!({"title": format!("Diary {word}"), "body": "secret", "is_public": false}))
            .await;
    assert_eq!(private["is_public"], false);
    let id = id_of(&private);
    let path = format!("/api/v1/posts/{id}");
    create_comment(&api, &alice, &id, "note to self").await;

    // The author sees it.
    let own = get(&api, &path, alice.token()).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(own.body["comment_count"], 1);
    assert_eq!(get(&api, &format!("{path}/comments"), alice.token()).await.status, StatusCode::OK);

    // For anyone else every route on it is a 404, never a 403.
    for token in [None, bob.token()] {
        for sub in ["", "/comments"] {
            let answer = get(&api, &format!("{path}{sub}"), token).await;
            assert_error(answer.status, &answer.body, 404, "not_found");
        }
    }
    for (method, sub, body) in [
        (Method::PUT, "", Some(json!({"title": "Bob's now", "body": ""}))),
        (Method::PATCH, "", Some(json!({"title": "Bob's now"}))),
        (Method::PATCH, "", Some(json!({"title": ""}))),
        (Method::DELETE, "", None),
        (Method::POST, "/comments", Some(json!({"body": "peeking"}))),
    ] {
        let answer = send(&api, method.clone(), &format!("{path}{sub}"), bob.token(), body.as_ref(), None).await;
        assert_error(answer.status, &answer.body, 404, "not_found");
    }

    // ...and it is in no one else's list.
    let author_list = format!("/api/v1/posts?author={}", alice.username);
    let mine = get(&api, &author_list, alice.token()).await;
    assert_eq!(e2e_tests::posts::result_ids(&mine.body), std::slice::from_ref(&id));
    for token in [None, bob.token()] {
        let theirs = get(&api, &author_list, token).await;
        assert_eq!(theirs.status, StatusCode::OK);
        assert!(theirs.body["results"].as_array().unwrap().is_empty(), "{}", theirs.body);
        let searched = e2e_tests::posts::walk_ids(&api, &format!("/api/v1/posts?search={word}"), token, 20).await;
        assert!(searched.is_empty(), "{searched:?}");
    }
    let found = e2e_tests::posts::walk_ids(&api, &format!("/api/v1/posts?search={word}"), alice.token(), 20).await;
    assert_eq!(found, std::slice::from_ref(&id));

    // Unchanged, with no stray comment from bob.
    let after = get(&api, &path, alice.token()).await;
    assert_eq!(after.body, own.body);

    // Made public, it exists for everyone; private again, it is gone again.
    let public = send(&api, Method::PATCH, &path, alice.token(), Some(&json!({"is_public": true})), None).await;
    assert_eq!(public.body["is_public"], true, "{}", public.body);
    assert_eq!(get(&api, &path, None).await.status, StatusCode::OK);
    assert_eq!(get(&api, &path, bob.token()).await.status, StatusCode::OK);
    let private_again = send(&api, Method::PATCH, &path, alice.token(), Some(&json!({"is_public": false})), None).await;
    assert_eq!(private_again.status, StatusCode::OK);
    assert_eq!(get(&api, &path, bob.token()).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn delete_removes_the_post_and_every_comment_of_it() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let post = create_titled(&api, &alice, "Soon gone").await;
    let id = id_of(&post);
    let mut comment_ids = Vec::new();
    for i in 0..5 {
        let who = if i % 2 == 0 { &bob } else { &alice };
        comment_ids.push(id_of(&create_comment(&api, who, &id, &format!("comment {i}")).await));
    }
    let before = stored_post_items(&id).await;
    assert_eq!(before.len(), 6, "the post and its 5 comments are one item collection");

    let deleted: Answer = send(&api, Method::DELETE, &format!("/api/v1/posts/{id}"), alice.token(), None, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(deleted.body, Value::Null, "a 204 has no body");

    for token in [None, alice.token(), bob.token()] {
        for path in [format!("/api/v1/posts/{id}"), format!("/api/v1/posts/{id}/comments")] {
            let answer = get(&api, &path, token).await;
            assert_error(answer.status, &answer.body, 404, "not_found");
        }
        for comment_id in &comment_ids {
            let answer = get(&api, &format!("/api/v1/comments/{comment_id}"), token).await;
            assert_error(answer.status, &answer.body, 404, "not_found");
        }
    }
    let again = send(&api, Method::DELETE, &format!("/api/v1/posts/{id}"), alice.token(), None, None).await;
    assert_error(again.status, &again.body, 404, "not_found");
    let comment_after = send(
        &api,
        Method::POST,
        &format!("/api/v1/posts/{id}/comments"),
        bob.token(),
        Some(&json!({"body": "too late"})),
        None,
    )
    .await;
    assert_error(comment_after.status, &comment_after.body, 404, "not_found");

    let list = get(&api, &format!("/api/v1/posts?author={}", alice.username), alice.token()).await;
    assert!(list.body["results"].as_array().unwrap().is_empty(), "{}", list.body);

    // In DynamoDB: nothing left under POST#<id>, no COMMENT# item in particular.
    let left = stored_post_items(&id).await;
    let comments_left: Vec<_> = left
        .iter()
        .filter(|i| matches!(i.get("sk"), Some(AttributeValue::S(sk)) if sk.starts_with("COMMENT#")))
        .collect();
    assert!(comments_left.is_empty(), "comments left behind: {comments_left:?}");
    assert!(left.is_empty(), "items left behind: {left:?}");
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let id = id_of(&create_titled(&api, &alice, "Methods").await);
    for (method, path, allowed) in [
        (Method::POST, format!("/api/v1/posts/{id}"), vec!["GET", "PUT", "PATCH", "DELETE"]),
        (Method::DELETE, "/api/v1/posts".to_owned(), vec!["GET", "POST"]),
        (Method::PUT, format!("/api/v1/posts/{id}/comments"), vec!["GET", "POST"]),
    ] {
        let response =
            api.request(method.clone(), &path).bearer_auth(&alice.access).json(&json!({})).send().await.unwrap();
        let allow = response.headers().get("allow").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let (status, body) = e2e_tests::status_and_json(response).await;
        assert_error(status, &body, 405, "method_not_allowed");
        for verb in allowed {
            assert!(allow.contains(verb), "{method} {path}: Allow {allow:?} lacks {verb}");
        }
    }
}
