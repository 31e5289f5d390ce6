//! Query parameters and the cursor page envelope, shared by the catalog and
//! the order list.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use shared::Result;
use shared::http::json_response;
use shared::pagination::{CursorCodec, Direction, Page, PageLinks};
use shared::store::paging::{ListPage, PositionKey};

/// Query parameters by name; a repeated one keeps its last value.
pub(crate) fn query_map(raw: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// The cursor's direction and position, checked against `scope`.
pub(crate) fn start_of(
    cursors: &CursorCodec,
    raw: Option<&String>,
    scope: &str,
) -> Result<(Direction, Option<PositionKey>)> {
    match raw {
        None => Ok((Direction::Forward, None)),
        Some(text) => {
            let cursor = cursors.decode(text, scope)?;
            Ok((cursor.direction, Some(cursor.key)))
        }
    }
}

/// The page envelope with absolute `next` / `previous` links.
pub(crate) fn envelope<T, V: serde::Serialize>(
    cursors: &CursorCodec,
    uri: &Uri,
    headers: &HeaderMap,
    scope: &str,
    page: ListPage<T>,
    view: impl Fn(&T) -> V,
) -> Response {
    let links = PageLinks::from_request(uri, headers);
    let link =
        |direction, key: Option<PositionKey>| key.map(|key| links.with_cursor(&cursors.encode(scope, direction, key)));
    let body = Page {
        next: link(Direction::Forward, page.next),
        previous: link(Direction::Backward, page.previous),
        results: page.results.iter().map(view).collect(),
    };
    json_response(StatusCode::OK, &body)
}
