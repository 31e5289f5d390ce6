//! `GET /posts`: the posts the caller may see, filtered, searched, ordered
//! and paged by cursor.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use shared::domain::post::PostView;
use shared::domain::post::{PostFilter, PostOrder};
use shared::domain::user::username_key;
use shared::http::{MaybeAuthenticated, json_response};
use shared::pagination::{Direction, Page, PageLinks, parse_page_size, scope_of};
use shared::store::paging::{ListPage, PositionKey};
use shared::{FieldErrors, Result};

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

/// Query parameters by name; a repeated one keeps its last value.
pub(crate) fn query_map(raw: Option<&str>) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// The cursor's direction and position, checked against `scope`.
pub(crate) fn start_of(
    state: &PostsState,
    raw: Option<&String>,
    scope: &str,
) -> Result<(Direction, Option<PositionKey>)> {
    // An empty `cursor=` is no cursor (the first page).
    match raw.filter(|text| !text.is_empty()) {
        None => Ok((Direction::Forward, None)),
        Some(text) => {
            let cursor = state.cursors.decode(text, scope)?;
            Ok((cursor.direction, Some(cursor.key)))
        }
    }
}

/// The page envelope with absolute `next` / `previous` links.
pub(crate) fn envelope<T, V: serde::Serialize>(
    state: &PostsState,
    uri: &Uri,
    headers: &HeaderMap,
    scope: &str,
    page: ListPage<T>,
    view: impl Fn(&T) -> V,
) -> Response {
    let links = PageLinks::from_request(uri, headers);
    let link = |direction, key: Option<PositionKey>| {
        key.map(|key| links.with_cursor(&state.cursors.encode(scope, direction, key)))
    };
    let body = Page {
        next: link(Direction::Forward, page.next),
        previous: link(Direction::Backward, page.previous),
        results: page.results.iter().map(view).collect(),
    };
    json_response(StatusCode::OK, &body)
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
        return Err(shared::Error::Validation(errors));
    }
    let filter = PostFilter {
        author: params.get("author").filter(|a| !a.is_empty()).map(|a| username_key(a)),
        is_public,
        search: params.get("search").map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()),
        order,
    };
    let scope = scope_of(&[
        ("list", "posts"),
        ("ordering", order.as_str()),
        ("author", filter.author.as_deref().unwrap_or_default()),
        ("is_public", is_public.map(|p| if p { "true" } else { "false" }).unwrap_or_default()),
        ("search", filter.search.as_deref().unwrap_or_default()),
    ]);
    let (direction, start) = start_of(&state, params.get("cursor"), &scope)?;
    let page = state.posts.list(&filter, viewer.as_ref(), direction, start.as_ref(), page_size).await?;
    Ok(envelope(&state, &uri, &headers, &scope, page, |post| post.view(None)))
}
