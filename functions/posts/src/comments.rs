//! Comments: listed under their post (oldest first), written by anyone
//! signed in who can see the post, changed or removed by their author only.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use shared::domain::post::{Author, Comment, CommentInput};
use shared::error::ErrorBody;
use shared::http::{Authenticated, Json, MaybeAuthenticated, json_response};
use shared::pagination::{Page, parse_page_size, scope_of};
use shared::tokens::Principal;
use shared::{Error, FieldErrors, Result, timefmt};

use crate::listing::{envelope, query_map, start_of};
use crate::{PostsState, checked_id, created};

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
    let post_id = checked_id(&post_id)?;
    let params = query_map(raw.as_deref());
    let mut errors = FieldErrors::new();
    let page_size = parse_page_size(params.get("page_size").map(String::as_str), &mut errors);
    errors.into_result(())?;
    let scope = scope_of(&[("list", "comments"), ("post", post_id)]);
    let (direction, start) = start_of(&state, params.get("cursor"), &scope)?;
    let (post, page) = state.posts.list_comments(post_id, direction, start.as_ref(), page_size).await?;
    let viewer_id = viewer.as_ref().map(|v| v.user_id.as_str());
    if !post.is_some_and(|p| p.is_visible_to(viewer_id)) {
        return Err(Error::NotFound);
    }
    Ok(envelope(&state, &uri, &headers, &scope, page, Comment::clone))
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
    let post_id = checked_id(&post_id)?;
    let body = input.validate()?;
    let now = timefmt::now();
    let comment = Comment {
        id: shared::ids::new_id_at(now),
        post_id: post_id.to_owned(),
        author: Author { id: me.user_id, username: me.username },
        body,
        created_at: now,
        updated_at: now,
    };
    if !state.posts.add_comment(&comment).await? {
        return Err(Error::NotFound);
    }
    Ok(created(&headers, &format!("/api/v1/comments/{}", comment.id), &comment))
}

/// The comment if `viewer` may see its post.
async fn visible_comment(state: &PostsState, id: &str, viewer: Option<&str>) -> Result<Comment> {
    let (comment, post) = state.posts.find_comment(checked_id(id)?).await?.ok_or(Error::NotFound)?;
    if !post.is_visible_to(viewer) {
        return Err(Error::NotFound);
    }
    Ok(comment)
}

/// The comment if `me` may see it and wrote it.
async fn own_comment(state: &PostsState, id: &str, me: &Principal) -> Result<Comment> {
    let comment = visible_comment(state, id, Some(&me.user_id)).await?;
    if comment.author.id != me.user_id {
        return Err(Error::PermissionDenied);
    }
    Ok(comment)
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
    let comment = visible_comment(&state, &id, viewer.as_ref().map(|v| v.user_id.as_str())).await?;
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
    let comment = own_comment(&state, &id, &me).await?;
    let body = input.validate()?;
    let updated = state.posts.update_comment(&comment, &body).await?.ok_or(Error::NotFound)?;
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
    let comment = own_comment(&state, &id, &me).await?;
    if !state.posts.delete_comment(&comment).await? {
        return Err(Error::NotFound);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
