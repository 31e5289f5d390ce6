//! `infra/template.yaml` as the local tools read it, parsed in one place:
//! the local gateway (functions, routes, SQS sources, CORS), the bootstrap
//! (table, queues, topics), the bench and the tests. Only what a local
//! stack can use is read; the rest (alarms, IAM, the dashboard) is
//! CloudFormation's alone.

mod cors;
mod functions;
mod storage;
mod yaml;

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

pub use cors::{CorsConfig, StringList};
pub use functions::{
    DEFAULT_MEMORY_MB, DEFAULT_SQS_BATCH_SIZE, DEFAULT_TIMEOUT_SECS, FunctionDef, HttpRouteDef, QueueRef, RouteSpec,
    ScheduleSource, SqsEventSource, parse_rate, validate_path,
};
pub use storage::{IndexDefinition, QueueDefinition, SubscriptionDefinition, TableDefinition};

use crate::functions::{env_variables, parse_function};
use crate::yaml::{number, plain_str};

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read the template {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("template {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A parsed template. Functions and CORS are read at once (every reader
/// needs them); storage when asked, since only the bootstrap does.
#[derive(Debug, Clone)]
pub struct Template {
    /// In the template's order.
    pub functions: Vec<FunctionDef>,
    pub cors: Option<CorsConfig>,
    resources: serde_yaml_ng::Mapping,
}

/// What the template stores and queues in.
#[derive(Debug, Clone, PartialEq)]
pub struct Storage {
    pub table: TableDefinition,
    pub queues: Vec<QueueDefinition>,
    /// Logical ids of the SNS topics a queue subscribes to: the ones that
    /// carry events to a function. Topics only people subscribe to (the
    /// alarms') have no local use.
    pub topics: Vec<String>,
    pub subscriptions: Vec<SubscriptionDefinition>,
}

impl Template {
    pub fn load(path: impl AsRef<Path>) -> Result<Template, TemplateError> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|source| TemplateError::Read { path: path.to_path_buf(), source })?;
        Template::parse(&text).map_err(|message| TemplateError::Invalid { path: path.to_path_buf(), message })
    }

    /// Parses template text. The error is a message; `load` adds the path.
    pub fn parse(text: &str) -> Result<Template, String> {
        let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
        let globals = doc.get("Globals").and_then(|g| g.get("Function"));
        let g_timeout = globals
            .and_then(|g| g.get("Timeout"))
            .map(|v| number(v, "Globals.Function.Timeout"))
            .transpose()?
            .flatten();
        let g_memory = globals
            .and_then(|g| g.get("MemorySize"))
            .map(|v| number(v, "Globals.Function.MemorySize"))
            .transpose()?
            .flatten();
        let g_vars = globals.and_then(env_variables);

        let resources = match doc.get("Resources") {
            Some(Value::Mapping(m)) => m.clone(),
            Some(_) => return Err("Resources is not a mapping".into()),
            None => return Err("no Resources".into()),
        };
        let mut functions = Vec::new();
        for (key, resource) in &resources {
            let Some(logical_id) = plain_str(key) else { continue };
            if resource.get("Type").and_then(plain_str) != Some("AWS::Serverless::Function") {
                continue;
            }
            functions.push(parse_function(logical_id, resource, g_timeout, g_memory, g_vars)?);
        }
        let cors = cors::parse_cors(&resources);
        Ok(Template { functions, cors, resources })
    }

    pub fn function(&self, logical_id: &str) -> Option<&FunctionDef> {
        self.functions.iter().find(|f| f.logical_id == logical_id)
    }

    /// The single table, the queues, and the topics with their queue
    /// subscriptions. A template without exactly one table is an error.
    pub fn storage(&self) -> Result<Storage, String> {
        let mut table = None;
        let mut queues = Vec::new();
        let mut topics = Vec::new();
        let mut subscriptions = Vec::new();
        for (id, resource) in &self.resources {
            let id = id.as_str().ok_or("a resource id is not a string")?;
            let properties = resource.get("Properties").cloned().unwrap_or(Value::Null);
            match resource.get("Type").and_then(Value::as_str) {
                Some("AWS::DynamoDB::Table") => {
                    if table.is_some() {
                        return Err("more than one AWS::DynamoDB::Table: the design is single-table".into());
                    }
                    table = Some(storage::parse_table(&properties).map_err(|e| format!("{id}: {e}"))?);
                }
                Some("AWS::SQS::Queue") => queues.push(storage::parse_queue(id, &properties)),
                Some("AWS::SNS::Topic") => topics.push(id.to_owned()),
                Some("AWS::SNS::Subscription") => {
                    if let Some(subscription) = storage::parse_subscription(&properties) {
                        subscriptions.push(subscription);
                    }
                }
                _ => {}
            }
        }
        topics.retain(|topic| subscriptions.iter().any(|s| &s.topic == topic));
        Ok(Storage { table: table.ok_or("no AWS::DynamoDB::Table")?, queues, topics, subscriptions })
    }
}

/// A logical id or parameter name as an environment variable's:
/// `CorsAllowedOrigins` → `CORS_ALLOWED_ORIGINS`.
pub fn env_name(logical_id: &str) -> String {
    let mut out = String::with_capacity(logical_id.len() + 4);
    for (i, c) in logical_id.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The variable that names a resource locally: `MailQueue` →
/// `MAIL_QUEUE_NAME` (the bootstrap makes it under that name, and the
/// functions are told it there).
pub fn name_variable(logical_id: &str) -> String {
    env_name(logical_id) + "_NAME"
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECT_TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");

    #[test]
    fn the_projects_template_declares_the_single_table_and_the_receipt_queues() {
        let storage = Template::load(PROJECT_TEMPLATE).unwrap().storage().unwrap();
        let table = &storage.table;
        assert_eq!(table.key_schema, vec![("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]);
        let index_names: Vec<_> = table.indexes.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(index_names, ["gsi1", "gsi2", "gsi3", "gsi4", "gsi5", "gsi6", "gsi7", "gsi8"]);
        assert_eq!(table.ttl_attribute.as_deref(), Some("expires_at"));

        let receipts = storage.queues.iter().find(|q| q.logical_id == "MailQueue").unwrap();
        assert_eq!(receipts.env_name(), "MAIL_QUEUE_NAME");
        assert_eq!(receipts.dead_letter_target.as_deref(), Some("MailDeadLetterQueue"));
        assert!(receipts.max_receive_count.unwrap() >= 5);
        let dlq = storage.queues.iter().find(|q| q.logical_id == "MailDeadLetterQueue").unwrap();
        assert!(dlq.message_retention_period > receipts.message_retention_period);

        // The alarm topic has no queue: it is not made locally.
        assert_eq!(storage.topics, ["EmailEventsTopic"]);
        assert_eq!(
            storage.subscriptions,
            [SubscriptionDefinition {
                topic: "EmailEventsTopic".into(),
                queue: "EmailEventsQueue".into(),
                raw_message_delivery: false
            }]
        );
    }

    #[test]
    fn the_projects_template_has_its_functions_and_cors() {
        let template = Template::load(PROJECT_TEMPLATE).unwrap();
        assert_eq!(template.functions.len(), 12);
        assert_eq!(template.function("AuthFunction").unwrap().binary, "auth");
        let sweep = &template.function("OrderSweeperFunction").unwrap().schedules;
        assert_eq!(sweep.len(), 1);
        assert_eq!(sweep[0].every, std::time::Duration::from_secs(60));
        let cors = template.cors.unwrap();
        assert_eq!(cors.allow_origins, StringList::Parameter("CorsAllowedOrigins".into()));
        let env = |name: &str| (name == "CORS_ALLOWED_ORIGINS").then(|| "http://a.example, http://b.example".into());
        assert_eq!(cors.allow_origins.resolve(&env), ["http://a.example", "http://b.example"]);
        assert!(cors.allow_credentials);
    }

    #[test]
    fn long_form_get_att_is_read_too() {
        let storage = Template::parse(
            "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy:\n        deadLetterTargetArn:\n          Fn::GetAtt: [D, Arn]\n        maxReceiveCount: 7\n  D:\n    Type: AWS::SQS::Queue\n",
        )
        .unwrap()
        .storage()
        .unwrap();
        let q = storage.queues.iter().find(|q| q.logical_id == "Q").unwrap();
        assert_eq!((q.dead_letter_target.as_deref(), q.max_receive_count), (Some("D"), Some(7)));
        assert!(storage.table.indexes.is_empty());
    }

    #[test]
    fn names_of_variables() {
        assert_eq!(env_name("CorsAllowedOrigins"), "CORS_ALLOWED_ORIGINS");
        assert_eq!(name_variable("EmailEventsTopic"), "EMAIL_EVENTS_TOPIC_NAME");
        assert_eq!(name_variable("MailDeadLetterQueue"), "MAIL_DEAD_LETTER_QUEUE_NAME");
    }
}
