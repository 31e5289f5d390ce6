//! The contract's "Posts and comments" section, comments: create (one
//! DynamoDB call, counted in the same transaction), read, PATCH/DELETE by
//! their author only, paged lists oldest first, the first 100 in a post's
//! detail, and the invisibility of a private post's comments.

use e2e_tests::posts::{
    bounded, create_comment, create_post, create_titled, get, id_of, keys, new_user, post, query_param, result_ids,
    send, stored_post_items, walk, walk_ids,
};
use e2e_tests::{Api, assert_error, aws_calls, fresh_request_id};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const COMMENT_KEYS: [&str; 6] = ["author", "body", "created_at", "id", "post_id", "updated_at"];

#[tokio::test]
async fn a_comment_is_created_in_one_call_then_read_changed_and_deleted_by_its_author_only() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let post_body = create_titled(&api, &alice, "Comment lifecycle").await;
    let post_id = id_of(&post_body);

    let request_id = fresh_request_id();
    let created = send(
        &api,
        Method::POST,
        &format!("/api/v1/posts/{post_id}/comments"),
        bob.token(),
        Some(&json!({"body": "Nice post!"})),
        Some(&request_id),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(aws_calls(&request_id, "dynamodb").await, 1, "create comment: DynamoDB calls");
    let comment = created.body.clone();
    assert_eq!(keys(&comment), COMMENT_KEYS, "{comment}");
    assert_eq!(comment["post_id"], post_id.as_str());
    assert_eq!(comment["body"], "Nice post!");
    assert_eq!(comment["author"], json!({"id": bob.id, "username": bob.username}));
    assert_eq!(comment["created_at"], comment["updated_at"]);
    let id = id_of(&comment);
    let location = created.location.expect("Location on 201");
    assert_eq!(location, format!("{}/api/v1/comments/{id}", api.base));

    // Anyone may read it, at its Location.
    for token in [None, alice.token(), bob.token()] {
        let read = get(&api, &location, token).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
        assert_eq!(read.body, comment);
    }
    assert_eq!(get(&api, &format!("/api/v1/posts/{post_id}"), None).await.body["comment_count"], 1);

    // Its author only may change or delete it, even the post's author may not.
    let path = format!("/api/v1/comments/{id}");
    for (method, body) in [(Method::PATCH, Some(json!({"body": "Alice edits"}))), (Method::DELETE, None)] {
        let answer = send(&api, method, &path, alice.token(), body.as_ref(), None).await;
        assert_error(answer.status, &answer.body, 403, "permission_denied");
    }
    let patched =
        send(&api, Method::PATCH, &path, bob.token(), Some(&json!({"body": "Nice post, really."})), None).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(keys(&patched.body), COMMENT_KEYS);
    assert_eq!(patched.body["body"], "Nice post, really.");
    assert_eq!(patched.body["created_at"], comment["created_at"]);
    assert_ne!(patched.body["updated_at"], comment["updated_at"]);
    assert_eq!(get(&api, &path, None).await.body, patched.body);
    let detail = get(&api, &format!("/api/v1/posts/{post_id}"), None).await;
    assert_eq!(detail.body["comments"], json!([patched.body.clone()]));
    assert_eq!(detail.body["comment_count"], 1, "an edit is not a new comment");

    // PATCH validates the body as create does.
    for input in [json!({"body": ""}), json!({"body": "   "}), json!({}), json!({"body": null})] {
        let answer = send(&api, Method::PATCH, &path, bob.token(), Some(&input), None).await;
        assert_error(answer.status, &answer.body, 400, "validation_error");
        assert!(answer.body["errors"]["body"].is_array(), "{input} → {}", answer.body);
    }

    let deleted = send(&api, Method::DELETE, &path, bob.token(), None, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let gone = get(&api, &path, None).await;
    assert_error(gone.status, &gone.body, 404, "not_found");
    let again = send(&api, Method::DELETE, &path, bob.token(), None, None).await;
    assert_error(again.status, &again.body, 404, "not_found");
    let detail = get(&api, &format!("/api/v1/posts/{post_id}"), None).await;
    assert_eq!(detail.body["comment_count"], 0, "{}", detail.body);
    assert_eq!(detail.body["comments"], json!([]));
}

#[tokio::test]
async fn comment_bodies_are_validated_per_field() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let post_id = id_of(&create_titled(&api, &alice, "Comment validation").await);
    let path = format!("/api/v1/posts/{post_id}/comments");
    for (input, message) in [
        (json!({}), "This field is required."),
        (json!({"body": null}), "This field may not be null."),
        (json!({"body": ""}), "This field may not be blank."),
        (json!({"body": " \n "}), "This field may not be blank."),
        (json!({"body": "c".repeat(5_001)}), "Ensure this field has no more than 5000 characters."),
    ] {
        let answer = post(&api, &path, alice.token(), &input).await;
        assert_error(answer.status, &answer.body, 400, "validation_error");
        assert_eq!(answer.body["errors"]["body"], json!([message]), "{}", answer.body);
    }
    let typed = post(&api, &path, alice.token(), &json!({"body": 5})).await;
    assert_error(typed.status, &typed.body, 400, "validation_error");
    assert!(typed.body["errors"]["body"].is_array(), "{}", typed.body);

    let longest = create_comment(&api, &alice, &post_id, &"ç".repeat(5_000)).await;
    assert_eq!(longest["body"].as_str().unwrap().chars().count(), 5_000);
    create_comment(&api, &alice, &post_id, "x").await;
    assert_eq!(
        get(&api, &format!("/api/v1/posts/{post_id}"), None).await.body["comment_count"],
        2,
        "only valid ones count"
    );

    // A comment on a post that does not exist.
    let missing =
        post(&api, &format!("/api/v1/posts/{}/comments", ulid::Ulid::new()), alice.token(), &json!({"body": "hi"}))
            .await;
    assert_error(missing.status, &missing.body, 404, "not_found");
}

#[tokio::test]
async fn twenty_concurrent_comments_are_all_counted() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let post_id = id_of(&create_titled(&api, &alice, "Popular post").await);

    let creates: Vec<_> = (0..20)
        .map(|i| {
            let api = api.clone();
            let who = if i % 2 == 0 { alice.clone() } else { bob.clone() };
            let post_id = post_id.clone();
            async move {
                let answer = post(
                    &api,
                    &format!("/api/v1/posts/{post_id}/comments"),
                    who.token(),
                    &json!({"body": format!("#{i}")}),
                )
                .await;
                (answer.status, answer.body)
            }
        })
        .collect();
    let results = bounded(20, creates).await;
    for (status, body) in &results {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }
    let mut created_ids: Vec<String> = results.iter().map(|(_, body)| id_of(body)).collect();
    created_ids.sort();

    let detail = get(&api, &format!("/api/v1/posts/{post_id}"), None).await;
    assert_eq!(detail.body["comment_count"], 20, "no lost update: {}", detail.body["comment_count"]);
    let embedded: Vec<String> = detail.body["comments"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(embedded, created_ids, "all 20, oldest (smallest id) first");

    let listed = get(&api, &format!("/api/v1/posts?author={}", alice.username), None).await;
    assert_eq!(listed.body["results"][0]["comment_count"], 20);
    assert!(listed.body["results"][0].get("comments").is_none(), "lists carry no comments: {}", listed.body);

    // Deleting uncounts.
    for (_, body) in results.iter().take(6) {
        let who = if body["author"]["id"] == alice.id.as_str() { &alice } else { &bob };
        let answer =
            send(&api, Method::DELETE, &format!("/api/v1/comments/{}", id_of(body)), who.token(), None, None).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);
    }
    assert_eq!(get(&api, &format!("/api/v1/posts/{post_id}"), None).await.body["comment_count"], 14);
}

#[tokio::test]
async fn a_detail_embeds_the_first_100_comments_and_the_list_pages_through_all_of_them() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let post_id = id_of(&create_titled(&api, &alice, "A long thread").await);
    // One after another, so `all` is in creation order: this test is about
    // paging, not about concurrency (see `twenty_concurrent_comments_are_all_counted`).
    let mut all = Vec::new();
    for i in 0..105 {
        let who = if i % 3 == 0 { &bob } else { &alice };
        all.push(id_of(&create_comment(&api, who, &post_id, &format!("reply {i}")).await));
    }
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(sorted, all, "ids sort by creation");
    let stored = stored_post_items(&post_id).await;
    assert_eq!(stored.len(), 106, "the post and its 105 comments are stored");

    let request_id = fresh_request_id();
    let detail = send(&api, Method::GET, &format!("/api/v1/posts/{post_id}"), None, None, Some(&request_id)).await;
    assert_eq!(detail.body["comment_count"], 105);
    let embedded: Vec<String> = detail.body["comments"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(embedded, all[..100], "the oldest 100, oldest first");
    assert_eq!(aws_calls(&request_id, "dynamodb").await, 1, "a detail with 100 comments is still one Query");

    // Default page size is 20; links are absolute and walk every comment once, oldest first.
    let first = get(&api, &format!("/api/v1/posts/{post_id}/comments"), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(keys(&first.body), ["next", "previous", "results"]);
    assert_eq!(result_ids(&first.body), all[..20]);
    assert_eq!(first.body["previous"], Value::Null);
    assert!(
        first.body["next"].as_str().unwrap().starts_with(&format!("{}/api/v1/posts/{post_id}/comments?", api.base))
    );
    assert_eq!(keys(&first.body["results"][0]), COMMENT_KEYS);

    let pages = walk(&api, &format!("/api/v1/posts/{post_id}/comments?page_size=40"), None, 10).await;
    assert_eq!(pages.iter().map(|p| p["results"].as_array().unwrap().len()).collect::<Vec<_>>(), [40, 40, 25]);
    assert_eq!(pages.last().unwrap()["next"], Value::Null);
    let walked: Vec<String> = pages.iter().flat_map(result_ids).collect();
    assert_eq!(walked, all);

    // And back: the previous of the last page is the middle one, whose previous is the first.
    let middle = get(&api, pages[2]["previous"].as_str().expect("previous on the last page"), None).await;
    assert_eq!(result_ids(&middle.body), result_ids(&pages[1]));
    let start = get(&api, middle.body["previous"].as_str().expect("previous on the middle page"), None).await;
    assert_eq!(result_ids(&start.body), result_ids(&pages[0]));
    assert_eq!(start.body["previous"], Value::Null, "{}", start.body);

    // Signed in, the same.
    assert_eq!(walk_ids(&api, &format!("/api/v1/posts/{post_id}/comments?page_size=100"), bob.token(), 5).await, all);
}

#[tokio::test]
async fn comment_list_parameters_and_cursors_are_checked() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let first_post = id_of(&create_titled(&api, &alice, "Thread one").await);
    let second_post = id_of(&create_titled(&api, &alice, "Thread two").await);
    for i in 0..3 {
        create_comment(&api, &alice, &first_post, &format!("one {i}")).await;
        create_comment(&api, &alice, &second_post, &format!("two {i}")).await;
    }
    for size in ["0", "101", "many", "-1"] {
        let answer = get(&api, &format!("/api/v1/posts/{first_post}/comments?page_size={size}"), None).await;
        assert_error(answer.status, &answer.body, 400, "validation_error");
        assert!(answer.body["errors"]["page_size"].is_array(), "{}", answer.body);
    }
    let page = get(&api, &format!("/api/v1/posts/{first_post}/comments?page_size=1"), None).await;
    let next = page.body["next"].as_str().unwrap().to_owned();
    let cursor = query_param(&next, "cursor").unwrap();

    // A cursor is bound to its post and to comments.
    let elsewhere = get(&api, &format!("/api/v1/posts/{second_post}/comments?page_size=1&cursor={cursor}"), None).await;
    assert_error(elsewhere.status, &elsewhere.body, 400, "validation_error");
    assert_eq!(elsewhere.body["errors"]["cursor"], json!(["Invalid cursor."]), "{}", elsewhere.body);
    let on_posts =
        get(&api, &format!("/api/v1/posts?author={}&page_size=1&cursor={cursor}", alice.username), None).await;
    assert_error(on_posts.status, &on_posts.body, 400, "validation_error");
    assert!(on_posts.body["errors"]["cursor"].is_array(), "{}", on_posts.body);
    for bad in ["made-up", "abc.def", &cursor[..cursor.len() - 4]] {
        let answer = get(&api, &format!("/api/v1/posts/{first_post}/comments?cursor={bad}"), None).await;
        assert_error(answer.status, &answer.body, 400, "validation_error");
        assert!(answer.body["errors"]["cursor"].is_array(), "{}", answer.body);
    }
    // The genuine one works.
    let second = get(&api, &next, None).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body["results"][0]["body"], "one 1");
}

#[tokio::test]
async fn a_private_posts_comments_are_as_invisible_as_the_post() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let post_body = create_post(&api, &alice, json!({"title": "Open for now", "body": ""})).await;
    let post_id = id_of(&post_body);
    let bobs = id_of(&create_comment(&api, &bob, &post_id, "bob was here").await);
    let alices = id_of(&create_comment(&api, &alice, &post_id, "alice replies").await);

    let closed = send(
        &api,
        Method::PATCH,
        &format!("/api/v1/posts/{post_id}"),
        alice.token(),
        Some(&json!({"is_public": false})),
        None,
    )
    .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);

    // Bob cannot see, change or delete even his own comment now; nor can anyone but alice see hers.
    for id in [&bobs, &alices] {
        let path = format!("/api/v1/comments/{id}");
        for token in [None, bob.token()] {
            let answer = get(&api, &path, token).await;
            assert_error(answer.status, &answer.body, 404, "not_found");
        }
        for (method, body) in [(Method::PATCH, Some(json!({"body": "edit"}))), (Method::DELETE, None)] {
            let answer = send(&api, method, &path, bob.token(), body.as_ref(), None).await;
            assert_error(answer.status, &answer.body, 404, "not_found");
        }
        assert_eq!(get(&api, &path, alice.token()).await.status, StatusCode::OK);
    }
    for token in [None, bob.token()] {
        let answer = get(&api, &format!("/api/v1/posts/{post_id}/comments"), token).await;
        assert_error(answer.status, &answer.body, 404, "not_found");
        let answer =
            post(&api, &format!("/api/v1/posts/{post_id}/comments"), bob.token(), &json!({"body": "more"})).await;
        assert_error(answer.status, &answer.body, 404, "not_found");
    }
    let list = get(&api, &format!("/api/v1/posts/{post_id}/comments"), alice.token()).await;
    assert_eq!(result_ids(&list.body), [bobs.clone(), alices.clone()]);
    // Alice may still comment on her private post.
    create_comment(&api, &alice, &post_id, "just us").await;
    let detail = get(&api, &format!("/api/v1/posts/{post_id}"), alice.token()).await;
    assert_eq!(detail.body["comment_count"], 3);
    assert_eq!(detail.body["comments"][0]["body"], "bob was here", "unchanged by bob's refused edit");
}
