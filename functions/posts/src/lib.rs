//! The `posts` function: posts and their comments, as the contract's
//! "Posts and comments" section states them — author-or-read-only, private
//! posts that exist only for their author, filters, search, ordering and
//! cursor pages.

mod comments;
mod listing;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::Result;
use domain::error::ErrorBody;
use domain::post::{NewPost, PostInput, PostView, WriteMode};
use services::Table;
use services::posts::PostService;
use services::tokens::TokenService;
use web::http::{ApiOptions, Authenticated, Json, MaybeAuthenticated, api_layer, created, json_response};
use web::pagination::CursorCodec;
use web::throttle::{self, Throttle};

#[derive(Clone)]
pub struct PostsState {
    pub posts: PostService,
    pub tokens: Arc<TokenService>,
    pub throttle: Throttle,
}

impl PostsState {
    pub fn new(table: Table, tokens: TokenService, cursors: CursorCodec, throttle: Throttle) -> Self {
        Self { posts: PostService::new(table, cursors), tokens: Arc::new(tokens), throttle }
    }
}

impl FromRef<PostsState> for Arc<TokenService> {
    fn from_ref(state: &PostsState) -> Self {
        state.tokens.clone()
    }
}

web::api_routes!(operations, routes: PostsState;
    listing::list_posts,
    create_post,
    get_post,
    replace_post,
    patch_post,
    delete_post,
    comments::list_comments,
    comments::create_comment,
    comments::get_comment,
    comments::patch_comment,
    comments::delete_comment,
);

/// The routes and their OpenAPI operations, for the document.
pub fn api() -> utoipa_axum::router::OpenApiRouter<PostsState> {
    // Query parameter types are not collected from the annotations.
    let components = utoipa::openapi::ComponentsBuilder::new().schema_from::<listing::PostOrdering>().build();
    utoipa_axum::router::OpenApiRouter::with_openapi(
        utoipa::openapi::OpenApiBuilder::new().components(Some(components)).build(),
    )
    .merge(operations())
}

pub fn router(state: PostsState) -> Router {
    let (throttle, tokens) = (state.throttle.clone(), state.tokens.clone());
    let routes = routes().with_state(state);
    api_layer(throttle::apply(routes, throttle, tokens), ApiOptions::default())
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
    let post = state.posts.create(&me, input).await?;
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
    let (post, comments) = state.posts.visible_detail(&id, viewer.as_ref()).await?;
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
    let (updated, comments) = state.posts.update(&me, &id, input, mode).await?;
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
    state.posts.delete(&me, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
