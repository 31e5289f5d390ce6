//! The `posts` function: posts and their comments, as the contract's
//! "Posts and comments" section states them — author-or-read-only, private
//! posts that exist only for their author, filters, search, ordering and
//! cursor pages.

mod comments;
mod listing;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::domain::post::{Author, Post, PostInput, WriteMode};
use shared::domain::post::{NewPost, PostView};
use shared::error::ErrorBody;
use shared::http::{ApiOptions, Authenticated, Json, MaybeAuthenticated, api_layer, json_response};
use shared::pagination::{CursorCodec, absolute_url};
use shared::store::{PostRepository, Table};
use shared::throttle::{self, Throttle};
use shared::tokens::TokenService;
use shared::{Error, Result, timefmt};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct PostsState {
    pub posts: PostRepository,
    pub tokens: Arc<TokenService>,
    pub cursors: CursorCodec,
    pub throttle: Throttle,
}

impl PostsState {
    pub fn new(table: Table, tokens: TokenService, cursors: CursorCodec, throttle: Throttle) -> Self {
        Self { posts: PostRepository::new(table), tokens: Arc::new(tokens), cursors, throttle }
    }
}

impl FromRef<PostsState> for Arc<TokenService> {
    fn from_ref(state: &PostsState) -> Self {
        state.tokens.clone()
    }
}

/// The routes and their OpenAPI operations, from the same annotations.
pub fn api() -> OpenApiRouter<PostsState> {
    // Query parameter types are not collected from the annotations.
    let components = utoipa::openapi::ComponentsBuilder::new().schema_from::<listing::PostOrdering>().build();
    OpenApiRouter::with_openapi(utoipa::openapi::OpenApiBuilder::new().components(Some(components)).build())
        .routes(routes!(listing::list_posts, create_post))
        .routes(routes!(get_post, replace_post, patch_post, delete_post))
        .routes(routes!(comments::list_comments, comments::create_comment))
        .routes(routes!(comments::get_comment, comments::patch_comment, comments::delete_comment))
}

pub fn router(state: PostsState) -> Router {
    let (throttle, tokens) = (state.throttle.clone(), state.tokens.clone());
    let (routes, _) = api().with_state(state).split_for_parts();
    api_layer(throttle::apply(routes, throttle, tokens), ApiOptions::default())
}

/// Ids are ULIDs; anything else cannot name a post or comment, and must not
/// reach DynamoDB as a key (an over-long key is a service error there).
pub(crate) fn checked_id(id: &str) -> Result<&str> {
    if (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(Error::NotFound)
    }
}

pub(crate) fn created(headers: &HeaderMap, path: &str, body: &impl serde::Serialize) -> Response {
    let mut response = json_response(StatusCode::CREATED, body);
    if let Ok(location) = HeaderValue::from_str(&absolute_url(headers, path)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Create a post (its author is the caller).
#[utoipa::path(post, path = "/api/v1/posts", tag = "posts", operation_id = "createPost",
    security(("bearer" = [])),
    request_body(content = NewPost, description = "`is_public` defaults to true."),
    responses((status = 201, description = "The post; `Location` is its URL.", body = PostView,
        headers(("Location" = String, description = "Absolute URL of the new post.")))))]
async fn create_post(
    State(state): State<PostsState>,
    Authenticated(me): Authenticated,
    headers: HeaderMap,
    Json(input): Json<PostInput>,
) -> Result<Response> {
    let changes = input.validate(WriteMode::Full)?;
    let now = timefmt::now();
    let post = Post {
        id: shared::ids::new_id_at(now),
        title: changes.title.unwrap_or_default(),
        body: changes.body.unwrap_or_default(),
        is_public: changes.is_public.unwrap_or(true),
        secret_note: changes.secret_note.flatten(),
        author: Author { id: me.user_id, username: me.username },
        comment_count: 0,
        created_at: now,
        updated_at: now,
    };
    state.posts.create(&post).await?;
    tracing::info!(post_id = %post.id, "post created");
    Ok(created(&headers, &format!("/api/v1/posts/{}", post.id), &post.view(Some(vec![]))))
}

/// A post with its oldest comments (up to 100; `comment_count` is the total).
#[utoipa::path(get, path = "/api/v1/posts/{id}", tag = "posts", operation_id = "getPost",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Post id.")),
    responses(
        (status = 200, description = "The post.", body = PostView),
        (status = 404, description = "No such post, or a private post of someone else.", body = ErrorBody),
    ))]
async fn get_post(
    State(state): State<PostsState>,
    MaybeAuthenticated(viewer): MaybeAuthenticated,
    Path(id): Path<String>,
) -> Result<Response> {
    let viewer_id = viewer.as_ref().map(|v| v.user_id.as_str());
    let (post, comments) = state.posts.detail(checked_id(&id)?).await?.ok_or(Error::NotFound)?;
    if !post.is_visible_to(viewer_id) {
        return Err(Error::NotFound);
    }
    Ok(json_response(StatusCode::OK, &post.view(Some(comments))))
}

/// Replace a post (its author only).
#[utoipa::path(put, path = "/api/v1/posts/{id}", tag = "posts", operation_id = "replacePost",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Post id.")),
    request_body(content = NewPost, description = "The whole post; `is_public` defaults to true."),
    responses(
        (status = 200, description = "The post.", body = PostView),
        (status = 403, description = "Not the author.", body = ErrorBody),
        (status = 404, description = "No such post for the caller.", body = ErrorBody),
    ))]
async fn replace_post(
    state: State<PostsState>,
    me: Authenticated,
    id: Path<String>,
    Json(input): Json<PostInput>,
) -> Result<Response> {
    update_post(state, me, id, input, WriteMode::Full).await
}

/// Change some fields of a post (its author only).
#[utoipa::path(patch, path = "/api/v1/posts/{id}", tag = "posts", operation_id = "updatePost",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Post id.")),
    request_body(content = PostInput, description = "Any subset of the fields."),
    responses(
        (status = 200, description = "The post.", body = PostView),
        (status = 403, description = "Not the author.", body = ErrorBody),
        (status = 404, description = "No such post for the caller.", body = ErrorBody),
    ))]
async fn patch_post(
    state: State<PostsState>,
    me: Authenticated,
    id: Path<String>,
    Json(input): Json<PostInput>,
) -> Result<Response> {
    update_post(state, me, id, input, WriteMode::Partial).await
}

async fn update_post(
    State(state): State<PostsState>,
    Authenticated(me): Authenticated,
    Path(id): Path<String>,
    input: PostInput,
    mode: WriteMode,
) -> Result<Response> {
    let id = checked_id(&id)?;
    let (post, comments) = state.posts.detail(id).await?.ok_or(Error::NotFound)?;
    if !post.is_visible_to(Some(&me.user_id)) {
        return Err(Error::NotFound);
    }
    if post.author.id != me.user_id {
        return Err(Error::PermissionDenied);
    }
    let changes = input.validate(mode)?;
    let updated = state.posts.update(&post, &changes).await?.ok_or(Error::NotFound)?;
    Ok(json_response(StatusCode::OK, &updated.view(Some(comments))))
}

/// Delete a post and its comments (its author only).
#[utoipa::path(delete, path = "/api/v1/posts/{id}", tag = "posts", operation_id = "deletePost",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Post id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "Not the author.", body = ErrorBody),
        (status = 404, description = "No such post for the caller.", body = ErrorBody),
    ))]
async fn delete_post(
    State(state): State<PostsState>,
    Authenticated(me): Authenticated,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = checked_id(&id)?;
    let (post, deleting) = state.posts.get_for_delete(id).await?.ok_or(Error::NotFound)?;
    let is_author = post.author.id == me.user_id;
    if deleting && !is_author || !post.is_visible_to(Some(&me.user_id)) {
        return Err(Error::NotFound);
    }
    if !is_author {
        return Err(Error::PermissionDenied);
    }
    state.posts.delete(id, &me.user_id).await?;
    tracing::info!(post_id = %id, "post deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
