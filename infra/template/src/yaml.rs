//! Reading CloudFormation YAML by hand. Its short tags (`!Ref`, `!Sub`,
//! `!GetAtt`) are not plain YAML, so no serde struct would accept the
//! template: it is parsed into a `serde_yaml_ng::Value`, where tags arrive
//! as `Value::Tagged`. `Value::as_str` and friends look *through* tags, so
//! these helpers match on the variants wherever a plain value is required.

use serde_yaml_ng::Value;

/// A string that is not behind a tag.
pub(crate) fn plain_str(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// An untagged scalar as an environment variable value (YAML `PORT: 8080` is
/// a number, but means the string "8080").
pub(crate) fn plain_scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A non-negative integer, also accepted as a numeric string. A tagged value
/// (`!Ref TimeoutParam`) gives `None`, i.e. "use the default".
pub(crate) fn number(v: &Value, what: &str) -> Result<Option<u64>, String> {
    match v {
        Value::Number(n) => n.as_u64().map(Some).ok_or_else(|| format!("{what}: {n} is not a non-negative integer")),
        Value::String(s) => {
            s.trim().parse().map(Some).map_err(|_| format!("{what}: {s:?} is not a non-negative integer"))
        }
        Value::Tagged(_) => Ok(None),
        _ => Err(format!("{what}: not a number")),
    }
}

/// The logical id a `!GetAtt X.Arn` (a tagged scalar "X.Arn") or
/// `Fn::GetAtt: [X, Arn]` refers to.
pub(crate) fn get_att_target(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => {
            tagged.value.as_str().and_then(|s| s.split('.').next()).map(str::to_owned)
        }
        Value::Mapping(_) => value.get("Fn::GetAtt")?.as_sequence()?.first()?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The logical id a `!Ref X` or `Ref: X` refers to.
pub(crate) fn ref_target(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str().map(str::to_owned),
        Value::Mapping(_) => value.get("Ref")?.as_str().map(str::to_owned),
        _ => None,
    }
}
