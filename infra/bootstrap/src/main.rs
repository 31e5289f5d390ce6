//! `local-bootstrap`: creates in the local AWS (DynamoDB Local and moto) what the SAM template
//! declares — the table with its indexes and TTL, the queues with their
//! dead-letter redrive — and the SES sender identity. It reads the
//! definitions from `infra/template.yaml` so local and deployed resources
//! cannot drift, and it is idempotent: run it as often as you like.
//!
//! Local names come from the environment: the table from `TABLE_NAME`, each
//! queue `FooQueue` from `FOO_QUEUE_NAME`.

use std::process::ExitCode;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, Projection, ProjectionType,
    TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use sam_template::{QueueDefinition, TableDefinition, Template};

#[derive(Debug, thiserror::Error)]
enum BootstrapError {
    #[error("{0}")]
    Template(String),
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    #[error("{service} {operation}: {detail}")]
    Aws { service: &'static str, operation: &'static str, detail: String },
}

fn aws_error<E: std::error::Error + 'static>(service: &'static str, operation: &'static str, e: E) -> BootstrapError {
    BootstrapError::Aws { service, operation, detail: aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string() }
}

fn env(name: &str) -> Result<String, BootstrapError> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or_else(|| BootstrapError::MissingEnv(name.to_owned()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local-bootstrap: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BootstrapError> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "infra/template.yaml".to_owned());
    let template = Template::load(&path)
        .map_err(|e| e.to_string())
        .and_then(|template| template.storage().map_err(|e| format!("{path}: {e}")))
        .map_err(BootstrapError::Template)?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;

    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    ensure_table(&dynamodb, &env("TABLE_NAME")?, &template.table).await?;

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    // Dead-letter queues first: a source queue's redrive names its DLQ's ARN.
    let mut queues = template.queues.clone();
    queues.sort_by_key(|q| q.dead_letter_target.is_some());
    let mut arns = std::collections::HashMap::new();
    for queue in &queues {
        let name = env(&queue.env_name())?;
        let dead_letter_arn = match &queue.dead_letter_target {
            Some(target) => Some(arns.get(target).cloned().ok_or_else(|| {
                BootstrapError::Template(format!("queue {} redrives to unknown queue {target}", queue.logical_id))
            })?),
            None => None,
        };
        let arn = ensure_queue(&sqs, &name, queue, dead_letter_arn).await?;
        arns.insert(queue.logical_id.clone(), arn);
    }

    let sns = aws_sdk_sns::Client::new(&sdk);
    let mut topic_arns = std::collections::HashMap::new();
    for topic in &template.topics {
        let arn = ensure_topic(&sns, &env(&sam_template::name_variable(topic))?).await?;
        topic_arns.insert(topic.clone(), arn);
    }
    for subscription in &template.subscriptions {
        let (Some(topic_arn), Some(queue_arn)) = (topic_arns.get(&subscription.topic), arns.get(&subscription.queue))
        else {
            return Err(BootstrapError::Template(format!(
                "subscription of {} by {}: no such topic or queue",
                subscription.topic, subscription.queue
            )));
        };
        ensure_subscription(&sns, topic_arn, queue_arn, subscription.raw_message_delivery).await?;
    }

    let ses = aws_sdk_sesv2::Client::new(&sdk);
    ensure_sender(&ses, &env("SES_FROM_ADDRESS")?).await?;
    Ok(())
}

/// Creates the topic (SNS answers an existing one's ARN); returns its ARN.
async fn ensure_topic(client: &aws_sdk_sns::Client, name: &str) -> Result<String, BootstrapError> {
    let created = client.create_topic().name(name).send().await.map_err(|e| aws_error("sns", "CreateTopic", e))?;
    let arn = created.topic_arn().unwrap_or_default().to_owned();
    println!("topic {name}: {arn}");
    Ok(arn)
}

/// Subscribes the queue to the topic unless it already is.
async fn ensure_subscription(
    client: &aws_sdk_sns::Client,
    topic_arn: &str,
    queue_arn: &str,
    raw_message_delivery: bool,
) -> Result<(), BootstrapError> {
    let existing = client
        .list_subscriptions_by_topic()
        .topic_arn(topic_arn)
        .send()
        .await
        .map_err(|e| aws_error("sns", "ListSubscriptionsByTopic", e))?;
    if existing.subscriptions().iter().any(|s| s.endpoint() == Some(queue_arn)) {
        println!("subscription {topic_arn} -> {queue_arn}: exists");
        return Ok(());
    }
    client
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", raw_message_delivery.to_string())
        .send()
        .await
        .map_err(|e| aws_error("sns", "Subscribe", e))?;
    println!("subscription {topic_arn} -> {queue_arn}: created");
    Ok(())
}

async fn ensure_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    table: &TableDefinition,
) -> Result<(), BootstrapError> {
    let key = |(attribute, key_type): &(String, String)| {
        KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(key_type.as_str().into())
            .build()
            .map_err(|e| BootstrapError::Template(e.to_string()))
    };
    let mut request = client.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest);
    for (attribute, kind) in &table.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(kind.as_str().into())
                .build()
                .map_err(|e| BootstrapError::Template(e.to_string()))?,
        );
    }
    for element in &table.key_schema {
        request = request.key_schema(key(element)?);
    }
    for index in &table.indexes {
        let mut gsi = GlobalSecondaryIndex::builder()
            .index_name(&index.name)
            .projection(Projection::builder().projection_type(ProjectionType::All).build());
        for element in &index.key_schema {
            gsi = gsi.key_schema(key(element)?);
        }
        request = request.global_secondary_indexes(gsi.build().map_err(|e| BootstrapError::Template(e.to_string()))?);
    }
    match request.send().await {
        Ok(_) => println!("table {name}: created"),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => {
            println!("table {name}: exists")
        }
        Err(e) => return Err(aws_error("dynamodb", "CreateTable", e)),
    }
    if let Some(attribute) = &table.ttl_attribute {
        let described = client
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .map_err(|e| aws_error("dynamodb", "DescribeTimeToLive", e))?;
        let enabled =
            described.time_to_live_description().and_then(|d| d.attribute_name()).is_some_and(|a| a == attribute);
        if !enabled {
            client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(attribute)
                        .enabled(true)
                        .build()
                        .map_err(|e| BootstrapError::Template(e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| aws_error("dynamodb", "UpdateTimeToLive", e))?;
        }
        println!("table {name}: TTL on {attribute}");
    }
    Ok(())
}

/// Creates the queue (or finds it) and sets its attributes; returns its ARN.
async fn ensure_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    queue: &QueueDefinition,
    dead_letter_arn: Option<String>,
) -> Result<String, BootstrapError> {
    let mut attributes = Vec::new();
    if let Some(seconds) = visibility_override(queue)?.or(queue.visibility_timeout) {
        attributes.push((QueueAttributeName::VisibilityTimeout, seconds.to_string()));
    }
    if let Some(seconds) = queue.message_retention_period {
        attributes.push((QueueAttributeName::MessageRetentionPeriod, seconds.to_string()));
    }
    if let Some(arn) = &dead_letter_arn {
        let policy =
            serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": queue.max_receive_count.unwrap_or(5)});
        attributes.push((QueueAttributeName::RedrivePolicy, policy.to_string()));
    }
    let created =
        client.create_queue().queue_name(name).send().await.map_err(|e| aws_error("sqs", "CreateQueue", e))?;
    let url = created.queue_url().unwrap_or_default().to_owned();
    // Set attributes apart from creation so a re-run that changed them
    // updates the queue instead of failing on "already exists".
    if !attributes.is_empty() {
        let mut request = client.set_queue_attributes().queue_url(&url);
        for (key, value) in attributes {
            request = request.attributes(key, value);
        }
        request.send().await.map_err(|e| aws_error("sqs", "SetQueueAttributes", e))?;
    }
    let described = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| aws_error("sqs", "GetQueueAttributes", e))?;
    let arn = described.attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)).cloned().ok_or_else(|| {
        BootstrapError::Aws { service: "sqs", operation: "GetQueueAttributes", detail: "no QueueArn".into() }
    })?;
    let redrive = dead_letter_arn.map(|dlq| format!(", dead letters to {dlq}")).unwrap_or_default();
    println!("queue {name}: {url}{redrive}");
    Ok(arn)
}

/// `MAIL_QUEUE_VISIBILITY_TIMEOUT` (for `MailQueue`) overrides the
/// template's visibility timeout locally, so that retries and the trip to
/// the dead-letter queue take seconds in tests, not minutes.
fn visibility_override(queue: &QueueDefinition) -> Result<Option<u64>, BootstrapError> {
    let name = format!("{}_VISIBILITY_TIMEOUT", sam_template::env_name(&queue.logical_id));
    match std::env::var(&name) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| BootstrapError::Template(format!("{name}={value:?} is not a number of seconds"))),
        _ => Ok(None),
    }
}

async fn ensure_sender(client: &aws_sdk_sesv2::Client, address: &str) -> Result<(), BootstrapError> {
    match client.create_email_identity().email_identity(address).send().await {
        Ok(_) => println!("ses identity {address}: created"),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_already_exists_exception()) => {
            println!("ses identity {address}: exists")
        }
        Err(e) => return Err(aws_error("ses", "CreateEmailIdentity", e)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The store's key names and the template's attribute names are one
    /// and the same: a rename on one side alone fails here.
    #[test]
    fn the_shared_crate_spells_the_same_keys_as_the_template() {
        use store::keys;
        let template = sam_template::Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
        let table = template.storage().unwrap().table;
        let gsi1 = table.indexes.iter().find(|i| i.name == keys::GSI1).unwrap();
        assert_eq!(gsi1.key_schema[0].0, keys::GSI1_PK);
        assert_eq!(gsi1.key_schema[1].0, keys::GSI1_SK);
        let gsi2 = table.indexes.iter().find(|i| i.name == keys::GSI2).unwrap();
        assert_eq!(gsi2.key_schema[0].0, keys::GSI2_PK);
        assert_eq!(table.key_schema[0].0, keys::PK);
        assert_eq!(table.ttl_attribute.as_deref(), Some(keys::TTL));
    }
}
