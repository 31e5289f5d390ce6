//! Cursor pages: `{"next", "previous", "results"}` with absolute links that
//! carry an opaque cursor (made and checked by `services::cursors`), and the
//! page size a request asks for.

use std::collections::{BTreeMap, HashMap};

use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use serde::Serialize;

use crate::http::json_response;
use domain::FieldErrors;
use domain::page::ListPage;

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// Which way a page reads; the store's, carried in cursors.
pub use services::cursors::{CursorCodec, Direction, scope_of};

/// The page envelope every list endpoint answers with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// Absolute URL of the next page, carrying an opaque `cursor`.
    #[schema(format = "uri")]
    pub next: Option<String>,
    #[schema(format = "uri")]
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// Query parameters by name; a repeated one keeps its last value.
pub fn query_map(raw: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// The page envelope, with absolute `next` / `previous` links carrying
/// cursors of `scope`, as the response to a list request.
pub fn envelope<T, V: Serialize>(
    cursors: &CursorCodec,
    request: (&Uri, &HeaderMap),
    scope: &str,
    page: ListPage<T>,
    view: impl Fn(&T) -> V,
) -> Response {
    let links = PageLinks::from_request(request.0, request.1);
    let link = |direction, key: Option<BTreeMap<String, String>>| {
        key.map(|key| links.with_cursor(&cursors.encode(scope, direction, key)))
    };
    let body = Page {
        next: link(Direction::Forward, page.next),
        previous: link(Direction::Backward, page.previous),
        results: page.results.iter().map(view).collect(),
    };
    json_response(StatusCode::OK, &body)
}

/// Absolute links back to the same listing with another cursor, built from
/// the request's scheme and host, keeping every other query parameter.
#[derive(Debug, Clone)]
pub struct PageLinks {
    base: String,
    query: Vec<(String, String)>,
}

impl PageLinks {
    pub fn from_request(uri: &Uri, headers: &HeaderMap) -> Self {
        let base = absolute_url(headers, uri.path());
        let query = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .filter(|(name, _)| name != "cursor")
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        Self { base, query }
    }

    pub fn with_cursor(&self, cursor: &str) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.query {
            query.append_pair(name, value);
        }
        query.append_pair("cursor", cursor);
        format!("{}?{}", self.base, query.finish())
    }
}

/// `scheme://host/path` as the client addressed us: API Gateway (and the
/// local gateway) say the scheme in `X-Forwarded-Proto`.
pub fn absolute_url(headers: &HeaderMap, path: &str) -> String {
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|v| *v == "http" || *v == "https")
        .unwrap_or("https");
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b)))
        .unwrap_or("localhost");
    format!("{scheme}://{host}{path}")
}

/// A page's size as asked for (REST's `page_size`, GraphQL's `first`), if
/// it is one a listing serves: 1–100.
pub fn checked_page_size(n: i64) -> Option<usize> {
    usize::try_from(n).ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
}

/// What a client is told about a size [`checked_page_size`] refuses.
pub fn page_size_range_message() -> String {
    format!("Ensure this value is between 1 and {MAX_PAGE_SIZE}.")
}

/// `page_size`: 1–100, default 20.
pub fn parse_page_size(raw: Option<&str>, errors: &mut FieldErrors) -> usize {
    match raw {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if let Some(n) = i64::try_from(n).ok().and_then(checked_page_size) => n,
            Ok(_) => {
                errors.add("page_size", page_size_range_message());
                DEFAULT_PAGE_SIZE
            }
            Err(_) => {
                errors.add("page_size", "A valid integer is required.");
                DEFAULT_PAGE_SIZE
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_are_1_to_100() {
        assert_eq!(checked_page_size(1), Some(1));
        assert_eq!(checked_page_size(100), Some(100));
        for refused in [0, 101, -1, i64::MIN] {
            assert_eq!(checked_page_size(refused), None, "{refused}");
        }
        assert!(page_size_range_message().contains("between 1 and 100"));
    }

    #[test]
    fn links_keep_the_query_and_replace_the_cursor() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "api.example.com".parse().unwrap());
        headers.insert("x-forwarded-proto", "http".parse().unwrap());
        let uri: Uri = "/api/v1/posts?search=rust+%26+go&cursor=old&page_size=5".parse().unwrap();
        let link = PageLinks::from_request(&uri, &headers).with_cursor("new.cur");
        assert_eq!(link, "http://api.example.com/api/v1/posts?search=rust+%26+go&page_size=5&cursor=new.cur");
    }

    #[test]
    fn page_sizes() {
        let mut errors = FieldErrors::new();
        assert_eq!(parse_page_size(None, &mut errors), 20);
        assert_eq!(parse_page_size(Some("100"), &mut errors), 100);
        assert!(errors.is_empty());
        parse_page_size(Some("0"), &mut errors);
        parse_page_size(Some("101"), &mut errors);
        parse_page_size(Some("ten"), &mut errors);
        assert_eq!(errors.get("page_size").unwrap().len(), 3);
    }
}
