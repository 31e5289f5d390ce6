//! The contract's error codes (`extensions.code`), for resolvers and for
//! the answers given before execution, and the one JSON shape both take.

use std::borrow::Borrow;

use async_graphql::ErrorExtensions;
use domain::FieldErrors;
use serde_json::{Value, json};

pub const BAD_REQUEST: &str = "BAD_REQUEST";
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const FORBIDDEN: &str = "FORBIDDEN";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
pub const QUERY_TOO_DEEP: &str = "QUERY_TOO_DEEP";
pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
pub const PERSISTED_QUERY_NOT_ALLOWED: &str = "PERSISTED_QUERY_NOT_ALLOWED";
pub const THROTTLED: &str = "THROTTLED";
pub const INTERNAL: &str = "INTERNAL_SERVER_ERROR";

pub const INTERNAL_MESSAGE: &str = "Internal server error.";

/// REST's field names in GraphQL's spelling: `secret_note` is `secretNote`,
/// a cursor is `after`, a page size `first`; dotted paths stay dotted.
pub fn graphql_field_name(rest: &str) -> String {
    match rest {
        "cursor" => return "after".to_owned(),
        "page_size" => return "first".to_owned(),
        _ => {}
    }
    rest.split('.')
        .map(|segment| {
            let mut out = String::with_capacity(segment.len());
            let mut upper = false;
            for c in segment.chars() {
                match (c, upper) {
                    ('_', _) => upper = !out.is_empty(),
                    (c, true) => {
                        out.extend(c.to_uppercase());
                        upper = false;
                    }
                    (c, false) => out.push(c),
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The REST field map in GraphQL's names.
pub fn field_map(errors: &FieldErrors) -> Value {
    let map: serde_json::Map<String, Value> =
        errors.iter().map(|(field, messages)| (graphql_field_name(field), json!(messages))).collect();
    Value::Object(map)
}

/// (code, message, field map) for a domain error as a GraphQL client sees
/// it. The message and the field map are REST's ([`domain::Error::body`]);
/// only the code is GraphQL's, and an internal error keeps GraphQL's own
/// generic message.
pub fn classify(error: &domain::Error) -> (&'static str, String, Option<Value>) {
    use domain::Error as E;
    let code = match error {
        E::Validation(_) | E::Conflict { .. } | E::BadRequest(_) => BAD_USER_INPUT,
        E::NotAuthenticated(_) | E::TokenNotValid => UNAUTHENTICATED,
        E::PermissionDenied => FORBIDDEN,
        E::NotFound => NOT_FOUND,
        E::Throttled { .. } => THROTTLED,
        E::MethodNotAllowed(_) | E::PayloadTooLarge | E::UnsupportedMediaType(_) => BAD_REQUEST,
        E::ServiceUnavailable { .. } => INTERNAL,
        E::Config { .. } | E::Internal(_) => return (INTERNAL, INTERNAL_MESSAGE.to_owned(), None),
    };
    let body = error.body();
    (code, body.message, body.errors.as_ref().map(field_map))
}

/// A resolver's error: the contract's code, and the field map for input.
/// Internal detail goes to the log, never to the client.
pub fn resolver_error<E: Borrow<domain::Error>>(error: E) -> async_graphql::Error {
    let error = error.borrow();
    let (code, message, fields) = classify(error);
    if code == INTERNAL {
        tracing::error!(error = %error, "resolver failed");
    }
    async_graphql::Error::new(message).extend_with(|_, extensions| {
        extensions.set("code", code);
        if let Some(fields) = &fields
            && let Ok(value) = async_graphql::Value::from_json(fields.clone())
        {
            extensions.set("errors", value);
        }
    })
}

/// A `BAD_USER_INPUT` about one argument.
pub fn field_error(field: &str, message: &str) -> async_graphql::Error {
    resolver_error(domain::Error::Validation(FieldErrors::single(field, message)))
}

/// One error object as the response's `errors` lists it, for answers made
/// without executing anything.
pub fn error_object(code: &str, message: &str, fields: Option<Value>) -> Value {
    let mut extensions = json!({ "code": code });
    if let Some(fields) = fields {
        extensions["errors"] = fields;
    }
    json!({ "message": message, "extensions": extensions })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_field_names_in_graphql_spelling() {
        assert_eq!(graphql_field_name("title"), "title");
        assert_eq!(graphql_field_name("secret_note"), "secretNote");
        assert_eq!(graphql_field_name("is_public"), "isPublic");
        assert_eq!(graphql_field_name("items.0.product_id"), "items.0.productId");
        assert_eq!(graphql_field_name("cursor"), "after");
        assert_eq!(graphql_field_name("page_size"), "first");
        assert_eq!(graphql_field_name("_private"), "private");
    }

    #[test]
    fn internal_detail_never_reaches_the_message() {
        let (code, message, _) = classify(&domain::Error::internal("table xyz throttled at 10.0.0.1"));
        assert_eq!((code, message.as_str()), (INTERNAL, INTERNAL_MESSAGE));
    }

    #[test]
    fn validation_errors_carry_the_field_map() {
        let error = domain::Error::Validation(FieldErrors::single("secret_note", "Too long."));
        let (code, _, fields) = classify(&error);
        assert_eq!(code, BAD_USER_INPUT);
        assert_eq!(fields.unwrap(), json!({"secretNote": ["Too long."]}));
    }
}
