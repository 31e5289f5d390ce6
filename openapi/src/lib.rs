//! The API's OpenAPI 3.1 document, built from the same `#[utoipa::path]`
//! annotations that build each function's router (utoipa-axum), so the
//! routers and the document are one set of routes by construction.
//!
//! Two files come out of it, both committed under `openapi/`:
//! - `openapi.json`, for clients: every operation, schema (with its
//!   constraints), security scheme and error response;
//! - `apigateway.json`, the same with API Gateway's Lambda proxy
//!   integrations added, which the SAM template's HttpApi is defined by.

use serde_json::{Map, Value, json};
use utoipa::openapi::OpenApi;

/// Each HTTP function's logical id in `infra/template.yaml` and its routes.
pub fn functions() -> Vec<(&'static str, OpenApi)> {
    vec![
        ("AuthFunction", auth::api().into_openapi()),
        ("SocialAuthFunction", social_auth::api().into_openapi()),
        ("PostsFunction", posts::api().into_openapi()),
        ("DocsFunction", docs::api().into_openapi()),
        ("OrdersFunction", orders::api().into_openapi()),
        ("CreatePaymentIntentFunction", create_payment_intent::api().into_openapi()),
        ("StripeWebhookFunction", stripe_webhook::api().into_openapi()),
        ("PortonePaymentsFunction", portone_payments::api().into_openapi()),
        ("GraphqlFunction", graphql::api().into_openapi()),
    ]
}

/// The function that answers every path no route claims (`$default`), with
/// a 404 (or a 405) in the error format.
pub const DEFAULT_ROUTE_FUNCTION: &str = "AuthFunction";

/// The client-facing document.
pub fn document() -> Value {
    let mut merged: Option<OpenApi> = None;
    for (_, doc) in functions() {
        match merged.as_mut() {
            Some(all) => all.merge(doc),
            None => merged = Some(doc),
        }
    }
    let mut doc = serde_json::to_value(merged.unwrap_or_default()).unwrap_or(Value::Null);
    doc["info"] = json!({
        "title": "Publishing & commerce API",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Users and JWT auth, posts with nested comments, orders and payments. \
            Every 4xx and 5xx body is an `ErrorBody`. Lists are cursor pages: follow `next` and `previous`.",
    });
    doc["servers"] = json!([{"url": "/", "description": "This deployment"}]);
    doc["tags"] = json!([
        {"name": "auth", "description": "Users, JWT access tokens and rotating refresh tokens."},
        {"name": "posts", "description": "Posts: author-or-read-only, private posts exist only for their author."},
        {"name": "comments", "description": "Comments on posts the caller can see."},
        {"name": "orders", "description": "The catalog and orders, priced on the server."},
        {"name": "payments", "description": "Stripe PaymentIntents for orders, and Stripe's webhook."},
        {"name": "docs", "description": "This document, and a page to read it."},
        {"name": "graphql", "description": "The posts as a GraphQL schema (`schema.graphql`), outside `/api/v1`: \
            its answers are `{data, errors}` with `extensions.code`, not `ErrorBody`."},
    ]);
    add_error_responses(&mut doc);
    doc
}

/// The document with each operation integrated with its function, in the
/// form API Gateway imports (`Fn::Sub` is resolved by CloudFormation when
/// the template includes the file).
pub fn api_gateway_document() -> Value {
    let mut doc = document();
    let owners: Vec<(String, &'static str)> = functions()
        .into_iter()
        .flat_map(|(function, api)| api.paths.paths.into_keys().map(move |path| (path, function)))
        .collect();
    // The `$default` route (unclaimed paths → a 404 in the error format) is
    // the template's own event on that function; SAM adds it here.
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(function) = owners.iter().find(|(p, _)| p == path).map(|(_, f)| *f) else { continue };
            for (method, operation) in item.as_object_mut().into_iter().flatten() {
                if is_method(method) {
                    operation["x-amazon-apigateway-integration"] = integration(function);
                }
            }
        }
    }
    doc
}

fn integration(function: &str) -> Value {
    json!({
        "type": "aws_proxy",
        "httpMethod": "POST",
        "payloadFormatVersion": "2.0",
        "uri": {"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{function}.Arn}}/invocations"
        )},
    })
}

fn is_method(name: &str) -> bool {
    matches!(name, "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace")
}

/// The contract's error responses, written once here and referenced by
/// every operation they can happen to.
fn add_error_responses(doc: &mut Value) {
    let error = |description: &str, example: Value| {
        json!({
            "description": description,
            "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorBody"},
                "example": example,
            }},
        })
    };
    let sample = |code: &str, message: &str| json!({"code": code, "message": message, "errors": null});
    let responses = json!({
        "BadRequest": error("`validation_error` (fields named in `errors`) or `bad_request` (not JSON).",
            json!({"code": "validation_error", "message": "Invalid input.",
                   "errors": {"title": ["Ensure this field has at least 3 characters."]}})),
        "Unauthorized": error("`not_authenticated` (no credentials) or `token_not_valid`.",
            sample("not_authenticated", "Authentication credentials were not provided.")),
        "TokenNotValid": error("A token was sent and is not valid: `token_not_valid`.",
            sample("token_not_valid", "Given token not valid for any token type.")),
        "NotFound": error("`not_found`.", sample("not_found", "Not found.")),
        "PayloadTooLarge": error("`payload_too_large`: over 64 KiB.", sample("payload_too_large", "Request body is too large.")),
        "UnsupportedMediaType": error("`unsupported_media_type`: writes take `application/json`.",
            sample("unsupported_media_type", "Unsupported media type \"text/plain\" in request.")),
        "Throttled": {
            "description": "`throttled`; `Retry-After` says when to come back.",
            "headers": {"Retry-After": {"description": "Seconds.", "schema": {"type": "integer", "minimum": 1}}},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"},
                "example": sample("throttled", "Request was throttled. Expected available in 17 seconds.")}},
        },
        "InternalError": error("`internal_error`, never with detail.", sample("internal_error", "A server error occurred.")),
        "ServiceUnavailable": {
            "description": "`service_unavailable`: a dependency is down; `Retry-After` says when to retry.",
            "headers": {"Retry-After": {"description": "Seconds.", "schema": {"type": "integer", "minimum": 1}}},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"},
                "example": sample("service_unavailable", "Service temporarily unavailable, try again later.")}},
        },
    });
    let components = doc["components"].as_object_mut().map(std::mem::take).unwrap_or_default();
    let mut components = Value::Object(components);
    components["responses"] = responses;
    components["securitySchemes"] = json!({
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "An access token from `POST /api/v1/auth/token` (HS256, 5 minutes)."},
        "orderToken": {"type": "apiKey", "in": "header", "name": "X-Order-Token",
                       "description": "A guest order's secret, from the 201 that created it; reads that order only."},
        "stripeSignature": {"type": "apiKey", "in": "header", "name": "Stripe-Signature",
                            "description": "Stripe's `t=…,v1=…` HMAC-SHA256 signature of the raw body with the endpoint secret."},
    });
    doc["components"] = components;

    let schemas = doc["components"]["schemas"].clone();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for item in paths.values_mut() {
        for (method, operation) in item.as_object_mut().into_iter().flatten() {
            if !is_method(method) {
                continue;
            }
            // A PATCH without a body changes nothing, as in DRF, where
            // no field of it is required.
            if method == "patch" {
                let schema = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .and_then(|r| r.rsplit('/').next())
                    .map(|name| schemas[name].clone());
                let nothing_required = schema.is_some_and(|s| s["required"].as_array().is_none_or(Vec::is_empty));
                if let (Some(body), true) = (operation.get_mut("requestBody"), nothing_required) {
                    body["required"] = Value::Bool(false);
                }
            }
            let has_body = operation.get("requestBody").is_some();
            let params: Vec<String> = operation["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter_map(|p| p["in"].as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let security = operation.get("security").and_then(Value::as_array).cloned().unwrap_or_default();
            let uses = |scheme: &str| security.iter().any(|s| s.get(scheme).is_some());
            let anonymous_allowed = security.iter().any(|s| s.as_object().is_some_and(Map::is_empty));
            // Stripe's webhook: refused with a 400, never throttled.
            let webhook = uses("stripeSignature");
            let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { continue };
            let mut add = |status: &str, name: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
            };
            if has_body || params.iter().any(|p| p == "query") {
                add("400", "BadRequest");
            }
            // Only an operation that reads a bearer token can answer 401.
            if uses("bearer") {
                add("401", if anonymous_allowed { "TokenNotValid" } else { "Unauthorized" });
            }
            if params.iter().any(|p| p == "path") {
                add("404", "NotFound");
            }
            if has_body {
                add("413", "PayloadTooLarge");
                add("415", "UnsupportedMediaType");
            }
            if !webhook {
                add("429", "Throttled");
            }
            add("500", "InternalError");
            add("503", "ServiceUnavailable");
        }
    }
}

/// The committed files, as the generator writes them.
pub fn rendered() -> [(&'static str, String); 4] {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    [
        ("openapi.json", pretty(&document())),
        ("apigateway.json", pretty(&api_gateway_document())),
        ("schema.graphql", graphql::sdl()),
        ("graphql-allowlist.json", pretty(&graphql_allowlist())),
    ]
}

/// Where the operations the project's own clients and tests send live, one
/// per `.graphql` file.
pub const OPERATIONS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/operations");

/// The GraphQL allowlist: each operation's SHA-256 (of its trimmed text,
/// which is what clients send) → the operation.
pub fn graphql_allowlist() -> Value {
    let mut files: Vec<_> = std::fs::read_dir(OPERATIONS_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    let entries: Map<String, Value> = files
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.trim().to_owned())
        .map(|document| (graphql::sha256_hex(&document), Value::String(document)))
        .collect();
    Value::Object(entries)
}
