//! JSON in: a body parsed into a request type, with serde's complaints
//! turned into the contract's field errors.

use serde::de::DeserializeOwned;

use crate::{Error, FieldErrors};

/// Not JSON at all is a 400 `bad_request`; JSON of the wrong shape is a
/// 400 `validation_error` naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Error::BadRequest(format!("JSON parse error - {e}")))?;
    if !value.is_object() {
        return Err(Error::Validation(FieldErrors::single(
            FieldErrors::NON_FIELD,
            format!("Invalid data. Expected a dictionary, but got {}.", json_kind(&value)),
        )));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = dotted_path(e.path());
        let inner = e.into_inner().to_string();
        let (field, message) = describe_shape_error(&path, &inner);
        Error::Validation(FieldErrors::single(field, message))
    })
}

/// `items.0.quantity`, the contract's spelling of a nested field.
fn dotted_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let parts: Vec<String> = path
        .iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect();
    if parts.is_empty() { ".".to_owned() } else { parts.join(".") }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "str",
        serde_json::Value::Array(_) => "list",
        serde_json::Value::Object(_) => "dict",
    }
}

/// Turns serde's wording into DRF's, and a missing field's parent path into
/// the field's own path.
fn describe_shape_error(path: &str, message: &str) -> (String, String) {
    let parent = if path == "." { String::new() } else { path.to_owned() };
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let field = if parent.is_empty() { name.to_owned() } else { format!("{parent}.{name}") };
        return (field, "This field is required.".into());
    }
    let field = if parent.is_empty() { FieldErrors::NON_FIELD.to_owned() } else { parent };
    let friendly = if message.starts_with("invalid type: null") {
        "This field may not be null."
    } else if message.contains("expected a string") {
        "Not a valid string."
    } else if message.contains("expected a boolean") {
        "Must be a valid boolean."
    } else if message.contains("expected u") || message.contains("expected i") || message.contains("integer") {
        "A valid integer is required."
    } else if message.contains("expected a sequence") {
        "Expected a list of items."
    } else if message.contains("expected struct") || message.contains("expected a map") {
        "Invalid data. Expected a dictionary."
    } else {
        return (field, message.to_owned());
    };
    (field, friendly.to_owned())
}
