//! The posts routes in process: the router `main` serves, on the in-memory
//! post store, with a throttle counted in memory. What needs the wire (the
//! gateway, DynamoDB's own answers) is the end-to-end suites'.

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use posts::{PostsState, router};
use serde_json::json;
use services::cursors::CursorCodec;
use services::posts::PostService;
use services::posts::memory::MemoryPostStore;
use web::testing::{access_token, call, throttle, tokens};

fn app(rates: &str) -> (Router, String, String) {
    let tokens = tokens();
    let (ann, bob) = (access_token(&tokens, "ann"), access_token(&tokens, "bob"));
    let posts = PostService::with_store(Arc::new(MemoryPostStore::default()), CursorCodec::derive_from(b"cursors"));
    (router(PostsState { posts, tokens, throttle: throttle(rates) }), ann, bob)
}

#[tokio::test]
async fn a_post_is_created_read_changed_and_deleted_by_its_author() {
    let (app, ann, bob) = app("off");
    let created =
        call(&app, Method::POST, "/api/v1/posts", Some(&ann), Some(json!({"title": "Hello", "body": "b"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/posts/{id}");
    let read = call(&app, Method::GET, &path, None, None).await;
    assert_eq!((read.status, &read.body["title"]), (StatusCode::OK, &json!("Hello")));
    let by_bob = call(&app, Method::PATCH, &path, Some(&bob), Some(json!({"title": "Mine"}))).await;
    assert_eq!((by_bob.status, &by_bob.body["code"]), (StatusCode::FORBIDDEN, &json!("permission_denied")));
    let patched = call(&app, Method::PATCH, &path, Some(&ann), Some(json!({"title": "Hello again"}))).await;
    assert_eq!((patched.status, &patched.body["title"]), (StatusCode::OK, &json!("Hello again")));
    assert_eq!(call(&app, Method::DELETE, &path, Some(&ann), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(call(&app, Method::GET, &path, None, None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_private_post_is_a_404_to_everyone_but_its_author() {
    let (app, ann, bob) = app("off");
    let body = json!({"title": "Diary", "body": "", "is_public": false});
    let created = call(&app, Method::POST, "/api/v1/posts", Some(&ann), Some(body)).await;
    let path = format!("/api/v1/posts/{}", created.body["id"].as_str().unwrap());
    assert_eq!(call(&app, Method::GET, &path, Some(&ann), None).await.status, StatusCode::OK);
    for token in [Some(bob.as_str()), None] {
        let answer = call(&app, Method::GET, &path, token, None).await;
        assert_eq!((answer.status, &answer.body["code"]), (StatusCode::NOT_FOUND, &json!("not_found")));
    }
    let listed = call(&app, Method::GET, "/api/v1/posts", Some(&bob), None).await;
    assert_eq!(listed.body["results"], json!([]));
}

#[tokio::test]
async fn bad_input_is_a_400_in_the_error_format_and_writing_needs_a_token() {
    let (app, ann, _) = app("off");
    let anonymous = call(&app, Method::POST, "/api/v1/posts", None, Some(json!({"title": "Hello"}))).await;
    assert_eq!((anonymous.status, &anonymous.body["code"]), (StatusCode::UNAUTHORIZED, &json!("not_authenticated")));
    let short = call(&app, Method::POST, "/api/v1/posts", Some(&ann), Some(json!({"title": "Hi"}))).await;
    assert_eq!((short.status, &short.body["code"]), (StatusCode::BAD_REQUEST, &json!("validation_error")));
    assert!(short.body["errors"]["title"].is_array(), "{:?}", short.body);
    let ordering = call(&app, Method::GET, "/api/v1/posts?ordering=sideways", None, None).await;
    assert_eq!(ordering.status, StatusCode::BAD_REQUEST);
    let cursor = call(&app, Method::GET, "/api/v1/posts?cursor=forged", None, None).await;
    assert_eq!(cursor.status, StatusCode::BAD_REQUEST);
    assert_eq!(call(&app, Method::GET, "/api/v1/posts/..%2Fx", None, None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pages_link_on_and_comments_follow_their_post() {
    let (app, ann, bob) = app("off");
    for title in ["First", "Second", "Third"] {
        call(&app, Method::POST, "/api/v1/posts", Some(&ann), Some(json!({"title": title, "body": ""}))).await;
    }
    let first = call(&app, Method::GET, "/api/v1/posts?page_size=2", None, None).await;
    let titles = |page: &serde_json::Value| -> Vec<String> {
        page["results"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(titles(&first.body), ["Third", "Second"]);
    let next = first.body["next"].as_str().expect("a next link");
    let next = &next[next.find("/api/v1/").unwrap()..];
    let second = call(&app, Method::GET, next, None, None).await;
    assert_eq!(titles(&second.body), ["First"]);
    let post_id = second.body["results"][0]["id"].as_str().unwrap().to_owned();
    let comments = format!("/api/v1/posts/{post_id}/comments");
    let added = call(&app, Method::POST, &comments, Some(&bob), Some(json!({"body": "Nice"}))).await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    let listed = call(&app, Method::GET, &comments, None, None).await;
    assert_eq!(listed.body["results"][0]["body"], json!("Nice"));
    let detail = call(&app, Method::GET, &format!("/api/v1/posts/{post_id}"), None, None).await;
    assert_eq!(detail.body["comment_count"], json!(1));
}

#[tokio::test]
async fn the_anonymous_burst_is_throttled_with_retry_after() {
    let (app, _, _) = app("anon=100/day,anon_burst=2/min");
    for _ in 0..2 {
        assert_eq!(call(&app, Method::GET, "/api/v1/posts", None, None).await.status, StatusCode::OK);
    }
    let third = call(&app, Method::GET, "/api/v1/posts", None, None).await;
    assert_eq!((third.status, &third.body["code"]), (StatusCode::TOO_MANY_REQUESTS, &json!("throttled")));
    assert!(third.headers.contains_key("retry-after"));
}
