//! Comments: listed under their post (oldest first), written by anyone
//! signed in who can see the post, changed or removed by their author only.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use domain::error::ErrorBody;
use domain::post::{Comment, CommentInput};
use domain::{FieldErrors, Result};
use services::posts::PageRequest;
use web::http::{Authenticated, Json, MaybeAuthenticated, created, json_response};
use web::pagination::{Page, envelope, parse_page_size, query_map};

use crate::PostsState;

/// A post's comments, oldest first.
#[utoipa::path(get, path = "/api/v1/posts/{id}/comments", tag = "comments", operation_id = "listComments",
    security((), ("bearer" = [])),
    params(
        ("id" = String, Path, description = "Post id."),
        ("page_size" = Option<u32>, Query, description = "1–100, default 20.", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "Opaque; from a `next` or `previous` link.",
            pattern = r"^([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?$"),
    ),
    responses(
        (status = 200, description = "A page of comments.", body = Page<Comment>),
        (status = 404, description = "No such post for the caller.", body = ErrorBody),
    ))]
pub(crate) async fn list_comments(
    State(state): State<PostsState>,
    MaybeAuthenticated(viewer): MaybeAuthenticated,
    Path(post_id): Path<String>,
    RawQuery(raw): RawQuery,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let params = query_map(raw.as_deref());
    let mut errors = FieldErrors::new();
    let page_size = parse_page_size(params.get("page_size").map(String::as_str), &mut errors);
    errors.into_result(())?;
    let page = PageRequest { cursor: params.get("cursor").map(String::as_str), size: page_size };
    let listed = state.posts.list_comments(viewer.as_ref(), &post_id, page).await?;
    Ok(envelope(state.posts.cursors(), (&uri, &headers), &listed.scope, listed.page, Comment::clone))
}

/// Comment on a post the caller can see.
#[utoipa::path(post, path = "/api/v1/posts/{id}/comments", tag = "comments", operation_id = "createComment",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Post id.")),
    request_body = CommentInput,
    responses(
        (status = 201, description = "The comment; `Location` is its URL.", body = Comment,
            headers(("Location" = String, description = "Absolute URL of the new comment."))),
        (status = 404, description = "No such post for the caller.", body = ErrorBody),
    ))]
pub(crate) async fn create_comment(
    State(state): State<PostsState>,
    Authenticated(me): Authenticated,
    Path(post_id): Path<String>,
    headers: HeaderMap,
    Json(input): Json<CommentInput>,
) -> Result<Response> {
    let comment = state.posts.add_comment(&me, &post_id, input).await?;
    Ok(created(&headers, &format!("/api/v1/comments/{}", comment.id), &comment))
}

/// A comment.
#[utoipa::path(get, path = "/api/v1/comments/{id}", tag = "comments", operation_id = "getComment",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Comment id.")),
    responses(
        (status = 200, description = "The comment.", body = Comment),
        (status = 404, description = "No such comment for the caller.", body = ErrorBody),
    ))]
pub(crate) async fn get_comment(
    State(state): State<PostsState>,
    MaybeAuthenticated(viewer): MaybeAuthenticated,
    Path(id): Path<String>,
) -> Result<Response> {
    let comment = state.posts.visible_comment(&id, viewer.as_ref()).await?;
    Ok(json_response(StatusCode::OK, &comment))
}

/// Change a comment (its author only).
#[utoipa::path(patch, path = "/api/v1/comments/{id}", tag = "comments", operation_id = "updateComment",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Comment id.")),
    request_body = CommentInput,
    responses(
        (status = 200, description = "The comment.", body = Comment),
        (status = 403, description = "Not the author.", body = ErrorBody),
        (status = 404, description = "No such comment for the caller.", body = ErrorBody),
    ))]
pub(crate) async fn patch_comment(
    State(state): State<PostsState>,
    Authenticated(me): Authenticated,
    Path(id): Path<String>,
    Json(input): Json<CommentInput>,
) -> Result<Response> {
    let updated = state.posts.update_comment(&me, &id, input).await?;
    Ok(json_response(StatusCode::OK, &updated))
}

/// Delete a comment (its author only).
#[utoipa::path(delete, path = "/api/v1/comments/{id}", tag = "comments", operation_id = "deleteComment",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Comment id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "Not the author.", body = ErrorBody),
        (status = 404, description = "No such comment for the caller.", body = ErrorBody),
    ))]
pub(crate) async fn delete_comment(
    State(state): State<PostsState>,
    Authenticated(me): Authenticated,
    Path(id): Path<String>,
) -> Result<Response> {
    state.posts.delete_comment(&me, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
