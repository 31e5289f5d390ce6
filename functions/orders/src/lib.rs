//! The `orders` function: the catalog and orders, as the contract's
//! "Catalog, orders and payments" section states them. Prices, names and
//! currency come from the catalog, never from the client; an order is read
//! by its owner or by the holder of its order token, and by nobody else.

mod catalog;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use domain::error::ErrorBody;
use domain::order::{Order, OrderInput, OrderStatus, OrderView};
use domain::user::normalize_email;
use domain::{Error, FieldErrors, Result};
use services::Table;
use services::catalog::CatalogService;
use services::orders::{OrderFilter, OrderService, PaymentIntents};
use services::tokens::TokenService;
use web::http::{ApiOptions, Authenticated, Json, MaybeAuthenticated, api_layer, created, json_response};
use web::order_access::OrderAccess;
use web::pagination::{CursorCodec, Page, envelope, parse_page_size, query_map, scope_of};
use web::throttle::{self, Throttle};

#[derive(Clone)]
pub struct OrdersState {
    pub orders: OrderService,
    pub catalog: CatalogService,
    pub tokens: Arc<TokenService>,
    pub cursors: CursorCodec,
    pub throttle: Throttle,
}

impl OrdersState {
    /// `intents`: where a canceled order's payment is canceled (Stripe).
    pub fn new(
        table: Table,
        intents: Arc<dyn PaymentIntents>,
        tokens: TokenService,
        cursors: CursorCodec,
        throttle: Throttle,
    ) -> Self {
        let orders = OrderService::new(table.clone()).with_payment_intents(intents);
        Self { orders, catalog: CatalogService::new(table), tokens: Arc::new(tokens), cursors, throttle }
    }
}

impl FromRef<OrdersState> for Arc<TokenService> {
    fn from_ref(state: &OrdersState) -> Self {
        state.tokens.clone()
    }
}

web::api_routes!(OrdersState;
    catalog::list_products,
    catalog::create_product,
    catalog::update_product,
    list_orders,
    create_order,
    get_order,
    cancel_order,
    refund_order,
);

pub fn router(state: OrdersState) -> Router {
    let (throttle, tokens) = (state.throttle.clone(), state.tokens.clone());
    let routes = routes().with_state(state);
    // Orders name people and what they bought: no cache may keep them.
    api_layer(throttle::apply(routes, throttle, tokens), ApiOptions { no_store: true })
}

/// Place an order: signed in, it is the caller's; as a guest, `email` is
/// required and the answer carries the `order_token` that reads it.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", operation_id = "createOrder",
    security((), ("bearer" = [])),
    request_body(content = OrderInput, description = "1–50 items of active products in one currency; quantity 1–100; \
        each product once. Prices come from the catalog."),
    responses((status = 201, description = "The order, `pending`; `Location` is its URL. A guest's carries `order_token`.",
        body = OrderView, headers(("Location" = String, description = "Absolute URL of the new order.")))))]
async fn create_order(
    State(state): State<OrdersState>,
    MaybeAuthenticated(caller): MaybeAuthenticated,
    headers: HeaderMap,
    Json(input): Json<OrderInput>,
) -> Result<Response> {
    let request = input.validate(caller.is_some())?;
    let placed = state.orders.place(caller.as_ref(), request).await?;
    let order = placed.order;
    let view = OrderView { order_token: placed.order_token, ..order.view() };
    Ok(created(&headers, &format!("/api/v1/orders/{}", order.id), &view))
}

/// An order, to its owner, the holder of its order token, or staff.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", operation_id = "getOrder",
    security(("bearer" = []), ("orderToken" = [])),
    params(
        ("id" = String, Path, description = "Order id."),
        ("X-Order-Token" = Option<String>, Header, description = "A guest order's token, from its 201."),
    ),
    responses(
        (status = 200, description = "The order, with its receipt's state.", body = OrderView),
        (status = 404, description = "No such order, or not the caller's.", body = ErrorBody),
    ))]
async fn get_order(State(state): State<OrdersState>, access: OrderAccess, Path(id): Path<String>) -> Result<Response> {
    let order = match (access.open(&id, state.orders.order(&id)).await, &access.caller) {
        // Not theirs: staff read every order; to anyone else it does not exist.
        (Err(Error::NotFound), Some(caller)) if caller.claims_staff => {
            state.orders.order_as_staff(caller, &id).await.map_err(|e| match e {
                Error::PermissionDenied => Error::NotFound,
                other => other,
            })?
        }
        (read, _) => read?,
    };
    Ok(json_response(StatusCode::OK, &order.view()))
}

/// Cancel an unpaid order: its payment can no longer be made and its stock
/// returns. Canceling it again answers the same.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders", operation_id = "cancelOrder",
    security(("bearer" = []), ("orderToken" = [])),
    params(
        ("id" = String, Path, description = "Order id."),
        ("X-Order-Token" = Option<String>, Header, description = "A guest order's token, from its 201."),
    ),
    responses(
        (status = 200, description = "The order, now `canceled`.", body = OrderView),
        (status = 404, description = "No such order, or not the caller's.", body = ErrorBody),
        (status = 409, description = "The order is paid (or refunded), or its payment went through first.", body = ErrorBody),
    ))]
async fn cancel_order(
    State(state): State<OrdersState>,
    access: OrderAccess,
    Path(id): Path<String>,
) -> Result<Response> {
    let order = access.open(&id, state.orders.head(&id)).await?;
    platform::telemetry::record_correlation_id(&order.correlation_id);
    let canceled = state.orders.cancel(&order).await?;
    Ok(json_response(StatusCode::OK, &canceled.view()))
}

/// `POST /orders/{id}/refund` as sent.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct RefundInput {
    /// In the currency's minor unit; all that is left by default.
    #[schema(minimum = 1, example = 500)]
    pub amount: Option<i64>,
}

/// What a refund request answers: asked of the provider, in effect when the
/// provider confirms it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RefundView {
    pub order_id: String,
    pub amount: i64,
    /// `requested`.
    #[schema(example = "requested")]
    pub status: String,
}

/// Refund a paid order, whole or in part (staff). The provider that was
/// paid is asked; the order's `refunded_amount` moves when it confirms.
#[utoipa::path(post, path = "/api/v1/orders/{id}/refund", tag = "orders", operation_id = "refundOrder",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id.")),
    request_body = RefundInput,
    responses(
        (status = 202, description = "Asked of the provider.", body = RefundView),
        (status = 400, description = "More than is left to refund.", body = ErrorBody),
        (status = 401, description = "Not signed in.", body = ErrorBody),
        (status = 403, description = "Not staff.", body = ErrorBody),
        (status = 404, description = "No such order.", body = ErrorBody),
        (status = 409, description = "The order is not paid.", body = ErrorBody),
    ))]
async fn refund_order(
    State(state): State<OrdersState>,
    Authenticated(me): Authenticated,
    Path(id): Path<String>,
    Json(input): Json<RefundInput>,
) -> Result<Response> {
    let requested = state.orders.request_refund(&me, &id, input.amount).await?;
    let view = RefundView { order_id: requested.order_id, amount: requested.amount, status: requested.status.into() };
    Ok(json_response(StatusCode::ACCEPTED, &view))
}

/// The caller's orders, newest first; for staff, every order, filtered by
/// `status` and `email`.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", operation_id = "listOrders",
    security(("bearer" = [])),
    params(
        ("page_size" = Option<u32>, Query, description = "1–100, default 20.", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "Opaque; from a `next` or `previous` link."),
        ("status" = Option<OrderStatus>, Query, description = "Staff only: orders in this status."),
        ("email" = Option<String>, Query, description = "Staff only: orders placed with this email."),
    ),
    responses(
        (status = 200, description = "A page of orders, each with its items.", body = Page<OrderView>),
        (status = 403, description = "`status` or `email` from someone who is not staff.", body = ErrorBody),
    ))]
async fn list_orders(
    State(state): State<OrdersState>,
    Authenticated(me): Authenticated,
    RawQuery(raw): RawQuery,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let params = query_map(raw.as_deref());
    let mut errors = FieldErrors::new();
    let page_size = parse_page_size(params.get("page_size").map(String::as_str), &mut errors);
    let status = params.get("status").filter(|s| !s.is_empty()).and_then(|text| {
        let status = OrderStatus::parse(text);
        if status.is_none() {
            errors.add("status", format!("Select a valid choice. {text} is not one of the available choices."));
        }
        status
    });
    let email = params.get("email").map(|e| e.trim()).filter(|e| !e.is_empty()).map(normalize_email);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let cursor = params.get("cursor").map(String::as_str);
    if me.claims_staff {
        let filter = OrderFilter { status, email };
        let scope = scope_of(&[
            ("list", "all-orders"),
            ("status", filter.status.map(OrderStatus::as_str).unwrap_or_default()),
            ("email", filter.email.as_deref().unwrap_or_default()),
        ]);
        let (direction, start) = state.cursors.start(cursor, &scope)?;
        let page = state.orders.list_all_as_staff(&me, &filter, direction, start.as_ref(), page_size).await?;
        return Ok(envelope(&state.cursors, (&uri, &headers), &scope, page, Order::view));
    }
    if status.is_some() || email.is_some() {
        return Err(Error::PermissionDenied);
    }
    let scope = scope_of(&[("list", "orders"), ("user", &me.user_id)]);
    let (direction, start) = state.cursors.start(cursor, &scope)?;
    let page = state.orders.list_for_user(&me.user_id, direction, start.as_ref(), page_size).await?;
    Ok(envelope(&state.cursors, (&uri, &headers), &scope, page, Order::view))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_router_and_its_document_have_the_same_routes() {
        let document = super::api().into_openapi();
        let mut paths: Vec<&str> = document.paths.paths.keys().map(String::as_str).collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            [
                "/api/v1/orders",
                "/api/v1/orders/{id}",
                "/api/v1/orders/{id}/cancel",
                "/api/v1/orders/{id}/refund",
                "/api/v1/products",
                "/api/v1/products/{id}"
            ]
        );
    }
}
