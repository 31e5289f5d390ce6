//! GraphiQL, served by this function with every asset it needs (vendored
//! from npm under `assets/`, see its README): no CDN at run time, and a
//! Content-Security-Policy that allows nothing else.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What the page needs: its own scripts and styles, fonts and images the
/// stylesheet inlines as `data:`, inline styles GraphiQL sets at run time,
/// and requests to this endpoint.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset { name: $name, content_type: $content_type, body: include_bytes!(concat!("../assets/", $name)) }
    };
}

const ASSETS: &[Asset] = &[
    asset!("graphiql.min.css", "text/css; charset=utf-8"),
    asset!("graphiql-page.css", "text/css; charset=utf-8"),
    asset!("react.production.min.js", "text/javascript; charset=utf-8"),
    asset!("react-dom.production.min.js", "text/javascript; charset=utf-8"),
    asset!("graphiql.min.js", "text/javascript; charset=utf-8"),
    asset!("graphiql-init.js", "text/javascript; charset=utf-8"),
];

const PAGE: &[u8] = include_bytes!("../assets/index.html");

/// A browser navigating here, rather than a GraphQL client.
pub fn wants_page(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|part| part.trim().starts_with("text/html")))
}

pub fn page() -> Response {
    let mut response = (StatusCode::OK, PAGE).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub fn asset(name: &str) -> Option<Response> {
    let asset = ASSETS.iter().find(|asset| asset.name == name)?;
    let mut response = (StatusCode::OK, asset.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    // Pinned versions: a change ships as a new deployment of the function.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_assets_this_function_serves() {
        let page = std::str::from_utf8(PAGE).unwrap();
        let referenced: Vec<&str> = page.split('"').filter_map(|part| part.strip_prefix("/graphql/assets/")).collect();
        assert_eq!(referenced.len(), ASSETS.len(), "{referenced:?}");
        for name in referenced {
            assert!(asset(name).is_some(), "{name} is referenced but not served");
        }
        assert!(!page.contains("http://") && !page.contains("https://"));
    }

    #[test]
    fn browsers_get_the_page_and_clients_do_not() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"));
        assert!(wants_page(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/graphql-response+json"));
        assert!(!wants_page(&headers));
    }
}
