//! The `graphql` function: the posts API as the contract's GraphQL schema
//! at `/graphql`, over GraphQL-over-HTTP. Each request is, in order:
//! throttled (REST's scopes), authenticated (REST's access token), resolved
//! to a document (persisted queries), parsed, checked against the limits,
//! and only then executed.

mod errors;
mod ide;
mod limits;
mod loader;
mod persisted;
mod schema;
mod wire;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use services::Table;
use services::accounts::AccountService;
use services::posts::PostService;
use services::tokens::TokenService;
use web::http::{ApiOptions, api_layer, principal_from_headers};
use web::pagination::CursorCodec;
use web::throttle::{ClientAddress, Throttle};

pub use persisted::{ALLOWLIST_JSON, sha256_hex};
pub use schema::sdl;

use crate::errors::{BAD_REQUEST, NOT_FOUND, error_object};
use crate::wire::{Answer, Media, WireRequest};

/// `GRAPHQL_IDE` and `GRAPHQL_ALLOWLIST`, `on` or `off` (the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GraphqlOptions {
    /// Introspection and the GraphiQL page.
    pub ide: bool,
    /// Only the committed operations run.
    pub allowlist: bool,
}

impl GraphqlOptions {
    pub fn from_env() -> domain::Result<Self> {
        Ok(Self {
            ide: platform::config::switch_or("GRAPHQL_IDE", false)?,
            allowlist: platform::config::switch_or("GRAPHQL_ALLOWLIST", false)?,
        })
    }
}

#[derive(Clone)]
pub struct GraphqlState {
    schema: schema::ApiSchema,
    field_types: Arc<limits::FieldTypes>,
    accounts: AccountService,
    tokens: Arc<TokenService>,
    throttle: Throttle,
    persisted: persisted::PersistedQueries,
    ide: bool,
}

impl GraphqlState {
    pub fn new(
        table: Table,
        tokens: TokenService,
        cursors: CursorCodec,
        throttle: Throttle,
        options: GraphqlOptions,
    ) -> domain::Result<Self> {
        let allowlist = if options.allowlist {
            let entries = persisted::parse_allowlist(ALLOWLIST_JSON)
                .map_err(|reason| domain::Error::Config { name: "GRAPHQL_ALLOWLIST", reason })?;
            Some(entries)
        } else {
            None
        };
        let tokens = Arc::new(tokens);
        let posts = PostService::new(table.clone(), cursors);
        let schema = schema::build(posts, options.ide);
        // From the schema just built: building a second one only to print it
        // would double this part of the cold start.
        let field_types = Arc::new(limits::FieldTypes::from_sdl(&schema.sdl()));
        Ok(Self {
            schema,
            field_types,
            accounts: AccountService::new(table.clone(), tokens.clone()),
            tokens,
            throttle,
            persisted: persisted::PersistedQueries::new(table, allowlist),
            ide: options.ide,
        })
    }
}

web::api_routes!(GraphqlState; graphql_get, graphql_post, graphiql_asset);

pub fn router(state: GraphqlState) -> Router {
    let routes = routes().with_state(state);
    api_layer(routes, ApiOptions::default())
}

/// A query over GET (a mutation is a 405), or the GraphiQL page for a
/// browser (`Accept: text/html`) where the IDE is on.
#[utoipa::path(get, path = "/graphql", tag = "graphql", operation_id = "graphqlQuery",
    security((), ("bearer" = [])),
    params(
        ("query" = Option<String>, Query, description = "The document."),
        ("variables" = Option<String>, Query, description = "JSON object."),
        ("operationName" = Option<String>, Query, description = "The operation to run."),
        ("extensions" = Option<String>, Query, description = "JSON object; `persistedQuery` as Apollo's protocol."),
    ),
    responses(
        (status = 200, description = "`{data, errors?}`; also the GraphiQL page for `Accept: text/html`.", body = wire::GraphqlResponse),
        (status = 400, description = "Not a GraphQL request; or refused before execution with `application/graphql-response+json`.", body = wire::GraphqlResponse),
        (status = 401, description = "A token that is not valid (`UNAUTHENTICATED`).", body = wire::GraphqlResponse),
        (status = 405, description = "A mutation over GET.", body = wire::GraphqlResponse),
        (status = 429, description = "Throttled (`THROTTLED`), with `Retry-After`.", body = wire::GraphqlResponse),
    ))]
async fn graphql_get(
    State(state): State<GraphqlState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = web::pagination::query_map(raw.as_deref());
    let asks_nothing = !params.contains_key("query") && !params.contains_key("extensions");
    if asks_nothing && ide::wants_page(&headers) {
        return if state.ide { ide::page() } else { not_found() };
    }
    let media = Media::negotiate(&headers);
    let answer = match WireRequest::from_params(&params) {
        Ok(request) => run(&state, media, true, &headers, &address, request).await,
        Err(message) => Answer::bad_request(StatusCode::BAD_REQUEST, &message),
    };
    answer.into_response(media)
}

/// A query or mutation, `{query, variables?, operationName?, extensions?}`.
#[utoipa::path(post, path = "/graphql", tag = "graphql", operation_id = "graphqlExecute",
    security((), ("bearer" = [])),
    request_body(content = wire::GraphqlRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "`{data, errors?}`.", body = wire::GraphqlResponse),
        (status = 400, description = "Not a GraphQL request; or refused before execution with `application/graphql-response+json`.", body = wire::GraphqlResponse),
        (status = 401, description = "A token that is not valid (`UNAUTHENTICATED`).", body = wire::GraphqlResponse),
        (status = 413, description = "A body over 64 KiB.", body = wire::GraphqlResponse),
        (status = 415, description = "Not `application/json`.", body = wire::GraphqlResponse),
        (status = 429, description = "Throttled (`THROTTLED`), with `Retry-After`.", body = wire::GraphqlResponse),
    ))]
async fn graphql_post(
    State(state): State<GraphqlState>,
    ClientAddress(address): ClientAddress,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let media = Media::negotiate(&headers);
    let answer = match WireRequest::from_post(request).await {
        Ok(request) => run(&state, media, false, &headers, &address, request).await,
        Err(answer) => answer,
    };
    answer.into_response(media)
}

/// GraphiQL's scripts and styles (where the IDE is on).
#[utoipa::path(get, path = "/graphql/assets/{name}", tag = "graphql", operation_id = "graphiqlAsset",
    params(("name" = String, Path, description = "Asset file name.")),
    responses(
        (status = 200, description = "The asset.", content_type = "text/javascript"),
        (status = 404, description = "No such asset, or the IDE is off.", body = wire::GraphqlResponse),
    ))]
async fn graphiql_asset(State(state): State<GraphqlState>, Path(name): Path<String>) -> Response {
    match state.ide.then(|| ide::asset(&name)).flatten() {
        Some(response) => response,
        None => not_found(),
    }
}

fn not_found() -> Response {
    Answer::new(StatusCode::NOT_FOUND, vec![error_object(NOT_FOUND, "Not found.", None)]).into_response(Media::Json)
}

/// One GraphQL request, from the caller to the answer.
async fn run(
    state: &GraphqlState,
    media: Media,
    over_get: bool,
    headers: &HeaderMap,
    address: &str,
    request: WireRequest,
) -> Answer {
    // Throttled by REST's scopes; a token that is not valid counts as
    // anonymous here, and is refused just after.
    let caller = principal_from_headers(headers, &state.tokens);
    let counted = state.throttle.count_caller(caller.as_ref().ok().and_then(Option::as_ref), address);
    if let Err(error) = counted.verdict {
        return Answer::from_error(&error);
    }
    let viewer = match caller {
        Ok(viewer) => viewer,
        Err(error) => return Answer::from_error(&error),
    };
    let resolved = match state.persisted.resolve(request.query, request.persisted).await {
        Ok(Ok(resolved)) => resolved,
        Ok(Err(refused)) if refused.code == BAD_REQUEST => {
            return Answer::bad_request(StatusCode::BAD_REQUEST, &refused.message);
        }
        Ok(Err(refused)) => return Answer::request_error(media, refused.code, &refused.message, None),
        Err(error) => return Answer::from_error(&error),
    };
    let document = match async_graphql::parser::parse_query(&*resolved.document) {
        Ok(document) => document,
        Err(error) => return Answer::request_error(media, errors::PARSE_FAILED, &error.to_string(), None),
    };
    let operation = match limits::select_operation(&document, request.operation_name.as_deref()) {
        Ok(operation) => operation,
        Err(message) => return Answer::request_error(media, errors::VALIDATION_FAILED, &message, None),
    };
    use async_graphql::parser::types::OperationType;
    let root = match operation.ty {
        OperationType::Query => "Query",
        OperationType::Mutation if over_get => return Answer::mutation_over_get(),
        OperationType::Mutation => "Mutation",
        OperationType::Subscription => "Subscription",
    };
    let checked = limits::check(&document, operation, &request.variables, &state.field_types, root, state.ide);
    if let Err(refusal) = checked {
        return Answer::refused(media, &refusal);
    }

    // The count's due write: beside a query (a read answers after its own
    // round trips only), before a mutation (over a limit, nothing changes).
    let beside = match counted.flush {
        Some(flush) if operation.ty == OperationType::Query => Some(flush),
        Some(flush) => match flush.run().await {
            Ok(()) => None,
            Err(error) => return Answer::from_error(&error),
        },
        None => None,
    };
    let mut execution = async_graphql::Request::new(resolved.document.to_string())
        .variables(async_graphql::Variables::from_json(serde_json::Value::Object(request.variables)))
        .data(schema::Viewer(viewer))
        .data(loader::per_request(state.accounts.clone()));
    if let Some(name) = request.operation_name {
        execution = execution.operation_name(name);
    }
    execution.set_parsed_query(document);
    let response = match beside {
        Some(flush) => match flush.beside(state.schema.execute(execution)).await {
            Ok(response) => response,
            Err(error) => return Answer::from_error(&error),
        },
        None => state.schema.execute(execution).await,
    };
    let answer = Answer::from_execution(media, response);
    if let (Some(hash), true) = (resolved.register, answer.executed) {
        // A failed registration costs the client a resend, not this answer.
        if let Err(error) = state.persisted.register(&hash, resolved.document).await {
            tracing::warn!(error = %error, "persisted query not registered");
        }
    }
    answer
}
