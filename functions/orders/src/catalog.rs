//! `GET /products`: the catalog, paged, oldest product first.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use domain::catalog::Product;
use domain::{Error, FieldErrors, Result};
use web::pagination::{Page, envelope, parse_page_size, query_map, scope_of};

use crate::OrdersState;

/// The catalog: every product, with `active` saying whether it can be ordered.
#[utoipa::path(get, path = "/api/v1/products", tag = "orders", operation_id = "listProducts",
    security((), ("bearer" = [])),
    params(
        ("page_size" = Option<u32>, Query, description = "1–100, default 20.", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "Opaque; from a `next` or `previous` link."),
    ),
    responses((status = 200, description = "A page of products.", body = Page<Product>)))]
pub(crate) async fn list_products(
    State(state): State<OrdersState>,
    RawQuery(raw): RawQuery,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let params = query_map(raw.as_deref());
    let mut errors = FieldErrors::new();
    let page_size = parse_page_size(params.get("page_size").map(String::as_str), &mut errors);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let scope = scope_of(&[("list", "products")]);
    let (direction, start) = state.cursors.start(params.get("cursor").map(String::as_str), &scope)?;
    let page = state.orders.products(direction, start.as_ref(), page_size).await?;
    Ok(envelope(&state.cursors, (&uri, &headers), &scope, page, Product::clone))
}
