//! The GraphQL route in process, on an unreachable table: what is answered
//! or refused without a read (the schema itself, bad documents, the limits,
//! persisted queries not yet known to this instance are asked of the table).

use axum::Router;
use axum::http::{Method, StatusCode};
use graphql::{GraphqlOptions, GraphqlState, router};
use serde_json::json;
use services::cursors::CursorCodec;
use web::testing::{call, throttle, token_service, unreachable_table};

fn app(options: GraphqlOptions) -> Router {
    let cursors = CursorCodec::derive_from(b"cursors");
    router(GraphqlState::new(unreachable_table(), token_service(), cursors, throttle("off"), options).unwrap())
}

fn open() -> GraphqlOptions {
    GraphqlOptions { ide: false, allowlist: false }
}

#[tokio::test]
async fn a_query_that_needs_no_data_is_answered() {
    let answer = call(&app(open()), Method::POST, "/graphql", None, Some(json!({"query": "{ __typename }"}))).await;
    assert_eq!((answer.status, &answer.body["data"]), (StatusCode::OK, &json!({"__typename": "Query"})));
}

#[tokio::test]
async fn a_document_that_does_not_parse_or_validate_is_an_error_not_a_read() {
    let app = app(open());
    let syntax = call(&app, Method::POST, "/graphql", None, Some(json!({"query": "{ posts("}))).await;
    assert!(syntax.body["errors"].as_array().is_some_and(|e| !e.is_empty()), "{:?}", syntax.body);
    assert!(syntax.body["data"].is_null());
    let unknown = call(&app, Method::POST, "/graphql", None, Some(json!({"query": "{ nothingHere }"}))).await;
    assert!(unknown.body["errors"].as_array().is_some_and(|e| !e.is_empty()), "{:?}", unknown.body);
    let no_query = call(&app, Method::POST, "/graphql", None, Some(json!({}))).await;
    assert!(no_query.body["errors"].as_array().is_some_and(|e| !e.is_empty()), "{:?}", no_query.body);
}

#[tokio::test]
async fn introspection_is_off_without_the_ide_and_the_allowlist_refuses_other_documents() {
    let introspection = json!({"query": "{ __schema { types { name } } }"});
    let closed = call(&app(open()), Method::POST, "/graphql", None, Some(introspection.clone())).await;
    assert!(closed.body["errors"].as_array().is_some_and(|e| !e.is_empty()), "{:?}", closed.body);
    let listed = GraphqlOptions { ide: false, allowlist: true };
    let refused = call(&app(listed), Method::POST, "/graphql", None, Some(json!({"query": "{ __typename }"}))).await;
    let code = &refused.body["errors"][0]["extensions"]["code"];
    assert_eq!(code, &json!("PERSISTED_QUERY_NOT_ALLOWED"), "{:?}", refused.body);
}
