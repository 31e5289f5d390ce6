//! The parts of the SAM template that describe storage and messaging: the
//! table, the queues, the SNS topics and their queue subscriptions. CloudFormation's short tags (`!GetAtt X.Arn`) arrive as tagged
//! YAML values and are read as the references they are.

use serde_yaml_ng::Value;

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
    /// `ReceiptQueue` → `RECEIPT_QUEUE_NAME`.
    pub fn env_name(&self) -> String {
        name_variable(&self.logical_id)
    }
}

/// The variable that names a resource locally: `EmailEventsTopic` →
/// `EMAIL_EVENTS_TOPIC_NAME`.
pub fn name_variable(logical_id: &str) -> String {
    let mut out = String::new();
    for (i, c) in logical_id.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out + "_NAME"
}

/// An SNS topic's subscription by one of the template's queues.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionDefinition {
    pub topic: String,
    pub queue: String,
    pub raw_message_delivery: bool,
}

#[derive(Debug)]
pub struct Template {
    pub table: TableDefinition,
    pub queues: Vec<QueueDefinition>,
    /// Logical ids of the SNS topics a queue subscribes to: the ones that
    /// carry events to a function. Topics only people subscribe to (the
    /// alarms') have no local use.
    pub topics: Vec<String>,
    pub subscriptions: Vec<SubscriptionDefinition>,
}

impl Template {
    pub fn load(path: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        Self::parse(&text).map_err(|e| format!("{path}: {e}"))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let root: Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        let resources = root.get("Resources").and_then(Value::as_mapping).ok_or("no Resources")?;
        let mut table = None;
        let mut queues = Vec::new();
        let mut topics = Vec::new();
        let mut subscriptions = Vec::new();
        for (id, resource) in resources {
            let id = id.as_str().ok_or("a resource id is not a string")?;
            let properties = resource.get("Properties").cloned().unwrap_or(Value::Null);
            match resource.get("Type").and_then(Value::as_str) {
                Some("AWS::DynamoDB::Table") => {
                    if table.is_some() {
                        return Err("more than one AWS::DynamoDB::Table: the design is single-table".into());
                    }
                    table = Some(parse_table(&properties).map_err(|e| format!("{id}: {e}"))?);
                }
                Some("AWS::SQS::Queue") => queues.push(parse_queue(id, &properties)),
                Some("AWS::SNS::Topic") => topics.push(id.to_owned()),
                Some("AWS::SNS::Subscription") => {
                    if let Some(subscription) = parse_subscription(&properties) {
                        subscriptions.push(subscription);
                    }
                }
                _ => {}
            }
        }
        topics.retain(|topic| subscriptions.iter().any(|s: &SubscriptionDefinition| &s.topic == topic));
        Ok(Self { table: table.ok_or("no AWS::DynamoDB::Table")?, queues, topics, subscriptions })
    }
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

fn parse_table(properties: &Value) -> Result<TableDefinition, String> {
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

/// The logical id a `!GetAtt X.Arn` (a tagged scalar "X.Arn") or
/// `Fn::GetAtt: [X, Arn]` refers to.
fn get_att_target(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => {
            tagged.value.as_str().and_then(|s| s.split('.').next()).map(str::to_owned)
        }
        Value::Mapping(_) => value.get("Fn::GetAtt")?.as_sequence()?.first()?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The logical id a `!Ref X` or `Ref: X` refers to.
fn ref_target(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str().map(str::to_owned),
        Value::Mapping(_) => value.get("Ref")?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// An `sqs` subscription of a topic of the template; others are not ours
/// to make locally.
fn parse_subscription(properties: &Value) -> Option<SubscriptionDefinition> {
    if properties.get("Protocol").and_then(Value::as_str) != Some("sqs") {
        return None;
    }
    Some(SubscriptionDefinition {
        topic: ref_target(properties.get("TopicArn")?)?,
        queue: get_att_target(properties.get("Endpoint")?)?,
        raw_message_delivery: properties.get("RawMessageDelivery").and_then(Value::as_bool).unwrap_or(false),
    })
}

fn parse_queue(id: &str, properties: &Value) -> QueueDefinition {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_template_declares_the_single_table_and_the_receipt_queues() {
        let template = Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
        let table = &template.table;
        assert_eq!(table.key_schema, vec![("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]);
        let index_names: Vec<_> = table.indexes.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(index_names, ["gsi1", "gsi2", "gsi3", "gsi4", "gsi5", "gsi6", "gsi7", "gsi8"]);
        assert_eq!(table.ttl_attribute.as_deref(), Some("expires_at"));

        let receipts = template.queues.iter().find(|q| q.logical_id == "ReceiptQueue").unwrap();
        assert_eq!(receipts.env_name(), "RECEIPT_QUEUE_NAME");
        assert_eq!(receipts.dead_letter_target.as_deref(), Some("ReceiptDeadLetterQueue"));
        assert!(receipts.max_receive_count.unwrap() >= 5);
        let dlq = template.queues.iter().find(|q| q.logical_id == "ReceiptDeadLetterQueue").unwrap();
        assert!(dlq.message_retention_period > receipts.message_retention_period);

        assert_eq!(template.topics, ["EmailEventsTopic"]);
        assert_eq!(name_variable("EmailEventsTopic"), "EMAIL_EVENTS_TOPIC_NAME");
        assert_eq!(
            template.subscriptions,
            [SubscriptionDefinition {
                topic: "EmailEventsTopic".into(),
                queue: "EmailEventsQueue".into(),
                raw_message_delivery: false
            }]
        );
    }

    #[test]
    fn the_shared_crate_spells_the_same_keys_as_the_template() {
        use shared::store::keys;
        let template = Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
        let gsi1 = template.table.indexes.iter().find(|i| i.name == keys::GSI1).unwrap();
        assert_eq!(gsi1.key_schema[0].0, keys::GSI1_PK);
        assert_eq!(gsi1.key_schema[1].0, keys::GSI1_SK);
        let gsi2 = template.table.indexes.iter().find(|i| i.name == keys::GSI2).unwrap();
        assert_eq!(gsi2.key_schema[0].0, keys::GSI2_PK);
        assert_eq!(template.table.key_schema[0].0, keys::PK);
        assert_eq!(template.table.ttl_attribute.as_deref(), Some(keys::TTL));
    }

    #[test]
    fn long_form_get_att_is_read_too() {
        let template = Template::parse(
            "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy:\n        deadLetterTargetArn:\n          Fn::GetAtt: [D, Arn]\n        maxReceiveCount: 7\n  D:\n    Type: AWS::SQS::Queue\n",
        )
        .unwrap();
        let q = template.queues.iter().find(|q| q.logical_id == "Q").unwrap();
        assert_eq!((q.dead_letter_target.as_deref(), q.max_receive_count), (Some("D"), Some(7)));
        assert!(template.table.indexes.is_empty());
    }
}
