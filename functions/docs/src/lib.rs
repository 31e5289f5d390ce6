//! The `docs` function: `GET /api/v1/openapi.json` (the committed document,
//! generated from the code) and a Swagger UI page at `GET /api/v1/docs`
//! whose assets are compiled into the binary, so it works with no CDN.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use domain::Error;
use domain::error::ErrorBody;
use web::http::{ApiOptions, api_layer};

/// The document as committed (`make openapi` writes it from the code; a
/// test fails when the two differ).
pub const OPENAPI_JSON: &str = include_str!("../../../openapi/openapi.json");

const ASSETS: &[(&str, &str, &[u8])] = &[
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8", include_bytes!("../assets/swagger-ui-bundle.js")),
    ("swagger-ui.css", "text/css; charset=utf-8", include_bytes!("../assets/swagger-ui.css")),
    ("docs.js", "text/javascript; charset=utf-8", include_bytes!("../assets/docs.js")),
];

const PAGE: &str = include_str!("../assets/docs.html");

web::api_routes!((); openapi_document, docs_page, docs_asset);

/// `PUBLIC_DOCS`: whether this stage shows its API description to anyone
/// who asks. `on` (the default, and the local stack's) or `off`, which the
/// template sets for production: the document and the page then answer 404
/// like any unknown path, so a probe learns nothing from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocsOptions {
    pub public: bool,
}

impl Default for DocsOptions {
    fn default() -> Self {
        Self { public: true }
    }
}

impl DocsOptions {
    pub fn from_env() -> domain::Result<Self> {
        Ok(Self { public: platform::config::switch_or("PUBLIC_DOCS", true)? })
    }
}

pub fn router(options: DocsOptions) -> Router {
    let routes = if options.public { routes() } else { Router::new() };
    api_layer(routes, ApiOptions::default())
}

fn with_type(body: impl IntoResponse, content_type: &'static str, cache: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "docs", operation_id = "openapiDocument",
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json")))]
async fn openapi_document() -> Response {
    with_type(OPENAPI_JSON, "application/json; charset=utf-8", "public, max-age=300")
}

/// Interactive documentation (Swagger UI).
#[utoipa::path(get, path = "/api/v1/docs", tag = "docs", operation_id = "docsPage",
    responses((status = 200, description = "An HTML page.", content_type = "text/html")))]
async fn docs_page() -> Response {
    with_type(PAGE, "text/html; charset=utf-8", "public, max-age=300")
}

/// A file the docs page loads.
#[utoipa::path(get, path = "/api/v1/docs/{asset}", tag = "docs", operation_id = "docsAsset",
    params(("asset" = String, Path, description = "`swagger-ui-bundle.js`, `swagger-ui.css` or `docs.js`.")),
    responses(
        (status = 200, description = "The file."),
        (status = 404, description = "No such file.", body = ErrorBody),
    ))]
async fn docs_asset(Path(asset): Path<String>) -> Result<Response, Error> {
    let (_, content_type, bytes) = ASSETS.iter().find(|(name, _, _)| *name == asset).ok_or(Error::NotFound)?;
    Ok(with_type(*bytes, content_type, "public, max-age=86400"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_assets_this_function_serves() {
        for line in PAGE.lines().filter(|l| l.contains("/api/v1/docs/")) {
            assert!(ASSETS.iter().any(|(name, _, _)| line.contains(&format!("/api/v1/docs/{name}"))), "{line}");
        }
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"), "no CDN");
    }

    async fn status_of(router: Router, path: &str) -> (axum::http::StatusCode, serde_json::Value) {
        use tower::ServiceExt;
        let request = axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }

    const DOCS_PATHS: [&str; 3] = ["/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/docs.js"];

    #[tokio::test]
    async fn public_docs_serve_the_document_page_and_assets() {
        for path in DOCS_PATHS {
            let (status, _) = status_of(router(DocsOptions { public: true }), path).await;
            assert_eq!(status, 200, "{path}");
        }
    }

    #[tokio::test]
    async fn closed_docs_are_404_in_the_error_format() {
        for path in DOCS_PATHS {
            let (status, body) = status_of(router(DocsOptions { public: false }), path).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(body["code"], "not_found", "{path}: {body}");
        }
    }

    #[test]
    fn the_embedded_document_is_json() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        assert!(doc["paths"]["/api/v1/posts"].is_object());
    }
}
