//! The template's storage and messaging: the table, the queues, the SNS
//! topics and their queue subscriptions, as `local-bootstrap` makes them.

use serde_yaml_ng::Value;

use crate::yaml::{get_att_target, ref_target};

#[derive(Debug, Clone, PartialEq)]
pub struct TableDefinition {
    /// (attribute name, type `S` / `N` / `B`)
    pub attributes: Vec<(String, String)>,
    /// (attribute name, `HASH` / `RANGE`)
    pub key_schema: Vec<(String, String)>,
    pub indexes: Vec<IndexDefinition>,
    pub ttl_attribute: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexDefinition {
    pub name: String,
    pub key_schema: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueDefinition {
    pub logical_id: String,
    pub visibility_timeout: Option<u64>,
    pub message_retention_period: Option<u64>,
    pub max_receive_count: Option<u64>,
    /// Logical id of the dead-letter queue this queue redrives to.
    pub dead_letter_target: Option<String>,
}

impl QueueDefinition {
    /// `MailQueue` → `MAIL_QUEUE_NAME`.
    pub fn env_name(&self) -> String {
        crate::name_variable(&self.logical_id)
    }
}

/// An SNS topic's subscription by one of the template's queues.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionDefinition {
    pub topic: String,
    pub queue: String,
    pub raw_message_delivery: bool,
}

fn string_at(value: &Value, key: &str) -> Result<String, String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| format!("missing {key}"))
}

fn key_schema(value: &Value) -> Result<Vec<(String, String)>, String> {
    value
        .get("KeySchema")
        .and_then(Value::as_sequence)
        .ok_or("missing KeySchema")?
        .iter()
        .map(|element| Ok((string_at(element, "AttributeName")?, string_at(element, "KeyType")?)))
        .collect()
}

pub(crate) fn parse_table(properties: &Value) -> Result<TableDefinition, String> {
    let attributes = properties
        .get("AttributeDefinitions")
        .and_then(Value::as_sequence)
        .ok_or("missing AttributeDefinitions")?
        .iter()
        .map(|a| Ok((string_at(a, "AttributeName")?, string_at(a, "AttributeType")?)))
        .collect::<Result<_, String>>()?;
    let indexes = properties
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .map(|seq| {
            seq.iter()
                .map(|index| {
                    Ok(IndexDefinition { name: string_at(index, "IndexName")?, key_schema: key_schema(index)? })
                })
                .collect::<Result<Vec<_>, String>>()
        })
        .transpose()?
        .unwrap_or_default();
    let ttl = properties.get("TimeToLiveSpecification");
    let ttl_attribute = ttl
        .filter(|spec| spec.get("Enabled").and_then(Value::as_bool).unwrap_or(false))
        .and_then(|spec| spec.get("AttributeName").and_then(Value::as_str))
        .map(str::to_owned);
    Ok(TableDefinition { attributes, key_schema: key_schema(properties)?, indexes, ttl_attribute })
}

/// An `sqs` subscription of a topic of the template; others are not ours
/// to make locally.
pub(crate) fn parse_subscription(properties: &Value) -> Option<SubscriptionDefinition> {
    if properties.get("Protocol").and_then(Value::as_str) != Some("sqs") {
        return None;
    }
    Some(SubscriptionDefinition {
        topic: ref_target(properties.get("TopicArn")?)?,
        queue: get_att_target(properties.get("Endpoint")?)?,
        raw_message_delivery: properties.get("RawMessageDelivery").and_then(Value::as_bool).unwrap_or(false),
    })
}

pub(crate) fn parse_queue(id: &str, properties: &Value) -> QueueDefinition {
    let number = |v: Option<&Value>| v.and_then(Value::as_u64);
    let redrive = properties.get("RedrivePolicy");
    let target = redrive.and_then(|r| r.get("deadLetterTargetArn")).and_then(get_att_target);
    QueueDefinition {
        logical_id: id.to_owned(),
        visibility_timeout: number(properties.get("VisibilityTimeout")),
        message_retention_period: number(properties.get("MessageRetentionPeriod")),
        max_receive_count: number(redrive.and_then(|r| r.get("maxReceiveCount"))),
        dead_letter_target: target,
    }
}
