//! `GET /posts`: the posts the caller may see, filtered, searched, ordered
//! and paged by cursor.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use domain::post::PostView;
use domain::post::{PostFilter, PostOrder};
use domain::{FieldErrors, Result};
use services::posts::PageRequest;
use web::http::MaybeAuthenticated;
use web::pagination::{Page, envelope, parse_page_size, query_map};

use crate::PostsState;

/// `ordering`'s values, for the document (the handler parses them with
/// [`PostOrder::parse`]).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum PostOrdering {
    #[schema(rename = "created_at")]
    Oldest,
    #[schema(rename = "-created_at")]
    Newest,
    #[schema(rename = "title")]
    Title,
    #[schema(rename = "-title")]
    TitleDesc,
}

/// The posts the caller may see.
#[utoipa::path(get, path = "/api/v1/posts", tag = "posts", operation_id = "listPosts",
    security((), ("bearer" = [])),
    params(
        ("author" = Option<String>, Query, description = "Username, any letter case; an unknown one gives an empty page."),
        ("is_public" = Option<bool>, Query, description = "`true` or `false`."),
        ("search" = Option<String>, Query, description = "Case-insensitive text in title or body."),
        ("ordering" = Option<PostOrdering>, Query, description = "Default `-created_at`."),
        ("page_size" = Option<u32>, Query, description = "1–100, default 20.", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "Opaque; from a `next` or `previous` link.",
            pattern = r"^([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?$"),
    ),
    responses((status = 200, description = "A page of posts, without their comments.", body = Page<PostView>)))]
pub(crate) async fn list_posts(
    State(state): State<PostsState>,
    MaybeAuthenticated(viewer): MaybeAuthenticated,
    RawQuery(raw): RawQuery,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let params = query_map(raw.as_deref());
    let mut errors = FieldErrors::new();
    let order = match params.get("ordering").map(String::as_str) {
        None | Some("") => PostOrder::Newest,
        Some(raw) => PostOrder::parse(raw).unwrap_or_else(|| {
            errors.add(
                "ordering",
                format!("Select a valid choice. {raw:?} is not one of created_at, -created_at, title, -title."),
            );
            PostOrder::Newest
        }),
    };
    let is_public = match params.get("is_public").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            errors.add("is_public", "Must be true or false.");
            None
        }
    };
    let page_size = parse_page_size(params.get("page_size").map(String::as_str), &mut errors);
    if !errors.is_empty() {
        return Err(domain::Error::Validation(errors));
    }
    let filter = PostFilter::new(
        params.get("author").map(String::as_str),
        is_public,
        params.get("search").map(String::as_str),
        order,
    );
    let page = PageRequest { cursor: params.get("cursor").map(String::as_str), size: page_size };
    let listed = state.posts.list(viewer.as_ref(), &filter, page).await?;
    Ok(envelope(state.posts.cursors(), (&uri, &headers), &listed.scope, listed.page, |post| post.view(None)))
}
