//! The local stack holds exactly the storage the SAM template declares:
//! the table with the same keys, indexes and TTL, and every queue with its
//! redrive. (`local-bootstrap` reads the template; this checks what it made.)

use std::collections::BTreeSet;

use e2e_tests::commerce::aws_config;
use e2e_tests::required_setting;
use serde_yaml_ng::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(id, r)| (id.as_str().unwrap(), &r["Properties"]))
        .collect()
}

#[tokio::test]
async fn the_table_has_the_template_s_keys_indexes_and_ttl() {
    let template = template();
    let tables = resources_of_type(&template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "single-table design");
    let declared = tables[0].1;
    let (dynamodb, name) = e2e_tests::dynamodb().await;
    let table = dynamodb.describe_table().table_name(&name).send().await.unwrap().table.unwrap();

    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
        schema.iter().map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned())).collect()
    };
    let declared_keys = |v: &Value| -> Vec<(String, String)> {
        v["KeySchema"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|k| (k["AttributeName"].as_str().unwrap().to_owned(), k["KeyType"].as_str().unwrap().to_owned()))
            .collect()
    };
    assert_eq!(keys(table.key_schema()), declared_keys(declared));

    let actual: BTreeSet<(String, Vec<(String, String)>)> = table
        .global_secondary_indexes()
        .iter()
        .map(|i| (i.index_name().unwrap().to_owned(), keys(i.key_schema())))
        .collect();
    let expected: BTreeSet<(String, Vec<(String, String)>)> = declared["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|i| (i["IndexName"].as_str().unwrap().to_owned(), declared_keys(i)))
        .collect();
    assert_eq!(actual, expected);

    let ttl = dynamodb.describe_time_to_live().table_name(&name).send().await.unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), declared["TimeToLiveSpecification"]["AttributeName"].as_str());
}

/// `MailQueue` → the value of `MAIL_QUEUE_NAME`, the convention
/// `local-bootstrap` follows (the template model's rule).
fn local_name(logical_id: &str) -> String {
    required_setting(&sam_template::name_variable(logical_id))
}

#[tokio::test]
async fn every_declared_queue_exists_with_its_redrive() {
    use aws_sdk_sqs::types::QueueAttributeName;
    let template = template();
    let config = aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queues = resources_of_type(&template, "AWS::SQS::Queue");
    assert!(queues.len() >= 2);
    for (logical_id, properties) in queues {
        let name = local_name(logical_id);
        let url = sqs.get_queue_url().queue_name(&name).send().await.unwrap().queue_url.unwrap();
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        if let Some(retention) = properties["MessageRetentionPeriod"].as_u64() {
            assert_eq!(attributes[&QueueAttributeName::MessageRetentionPeriod], retention.to_string(), "{logical_id}");
        }
        match properties["RedrivePolicy"]["maxReceiveCount"].as_u64() {
            Some(max) => {
                let policy: serde_json::Value =
                    serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).unwrap();
                assert_eq!(policy["maxReceiveCount"].as_u64(), Some(max), "{logical_id}");
                let target = match &properties["RedrivePolicy"]["deadLetterTargetArn"] {
                    Value::Tagged(tagged) => tagged.value.as_str().unwrap().split('.').next().unwrap().to_owned(),
                    other => panic!("{logical_id}: unexpected deadLetterTargetArn {other:?}"),
                };
                let arn = policy["deadLetterTargetArn"].as_str().unwrap();
                assert!(arn.ends_with(&format!(":{}", local_name(&target))), "{logical_id}: {arn}");
            }
            None => assert!(!attributes.contains_key(&QueueAttributeName::RedrivePolicy), "{logical_id}"),
        }
    }
}
