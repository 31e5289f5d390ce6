//! The HTTP API's `CorsConfiguration`, as API Gateway applies it. A list
//! may be written out or be a `!Ref` to a parameter, whose value a local
//! tool reads from the environment variable of the parameter's name
//! ([`crate::env_name`]: `CorsAllowedOrigins` → `CORS_ALLOWED_ORIGINS`),
//! comma-separated.

use serde_yaml_ng::Value;

use crate::yaml::ref_target;

/// A list of strings in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StringList {
    Literal(Vec<String>),
    /// `!Ref Parameter`: known only where the stack runs.
    Parameter(String),
}

impl StringList {
    /// The values, a parameter's read from the environment through `env`.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
        match self {
            Self::Literal(values) => values.clone(),
            Self::Parameter(name) => env(&crate::env_name(name))
                .map(|list| list.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
        }
    }

    fn read(value: Option<&Value>) -> Self {
        match value {
            Some(Value::Sequence(items)) => {
                Self::Literal(items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            }
            Some(Value::String(one)) => Self::Literal(vec![one.clone()]),
            Some(other) => match ref_target(other) {
                Some(parameter) => Self::Parameter(parameter),
                None => Self::Literal(Vec::new()),
            },
            None => Self::Literal(Vec::new()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    pub allow_origins: StringList,
    pub allow_credentials: bool,
    pub allow_methods: StringList,
    pub allow_headers: StringList,
    pub expose_headers: StringList,
    pub max_age: Option<u64>,
}

/// The first `AWS::Serverless::HttpApi`'s CORS block, if it has one.
pub(crate) fn parse_cors(resources: &serde_yaml_ng::Mapping) -> Option<CorsConfig> {
    let config = resources
        .values()
        .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::HttpApi"))
        .find_map(|r| r.get("Properties")?.get("CorsConfiguration"))?;
    Some(CorsConfig {
        allow_origins: StringList::read(config.get("AllowOrigins")),
        allow_credentials: config.get("AllowCredentials").and_then(Value::as_bool).unwrap_or(false),
        allow_methods: StringList::read(config.get("AllowMethods")),
        allow_headers: StringList::read(config.get("AllowHeaders")),
        expose_headers: StringList::read(config.get("ExposeHeaders")),
        max_age: config.get("MaxAge").and_then(Value::as_u64),
    })
}
