//! The catalog: `GET /products` (everyone, paged, oldest product first), and
//! `POST /products`, `PATCH /products/{id}` (staff).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use domain::catalog::{Product, ProductInput};
use domain::error::ErrorBody;
use domain::{Error, FieldErrors, Result};
use web::http::{Authenticated, Json, created, json_response};
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
    let page = state.catalog.products(direction, start.as_ref(), page_size).await?;
    Ok(envelope(&state.cursors, (&uri, &headers), &scope, page, Product::clone))
}

/// Add a product (staff).
#[utoipa::path(post, path = "/api/v1/products", tag = "orders", operation_id = "createProduct",
    security(("bearer" = [])),
    request_body = ProductInput,
    responses(
        (status = 201, description = "The product; `Location` is its URL.", body = Product),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 403, description = "Not staff.", body = ErrorBody),
    ))]
pub(crate) async fn create_product(
    State(state): State<OrdersState>,
    Authenticated(me): Authenticated,
    headers: HeaderMap,
    Json(input): Json<ProductInput>,
) -> Result<Response> {
    let product = state.catalog.create(&me, input).await?;
    Ok(created(&headers, &format!("/api/v1/products/{}", product.id), &product))
}

/// Change a product (staff): any of its fields; `stock: null` lifts the
/// limit. Orders already placed keep their prices.
#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "orders", operation_id = "updateProduct",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id.")),
    request_body = ProductInput,
    responses(
        (status = 200, description = "The product as it now is.", body = Product),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 403, description = "Not staff.", body = ErrorBody),
        (status = 404, description = "No such product.", body = ErrorBody),
    ))]
pub(crate) async fn update_product(
    State(state): State<OrdersState>,
    Authenticated(me): Authenticated,
    Path(id): Path<String>,
    Json(input): Json<ProductInput>,
) -> Result<Response> {
    let product = state.catalog.update(&me, &id, input).await?;
    Ok(json_response(StatusCode::OK, &product))
}
