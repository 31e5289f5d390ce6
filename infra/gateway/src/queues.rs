//! The local SQS event source: what Lambda's event source mapping does for
//! a function with an `SQS` event, against the queues in moto.
//!
//! For each such event the poller finds the queue (its name in the
//! environment variable `<SCREAMING_SNAKE_LOGICAL_ID>_NAME`, e.g.
//! `MAIL_QUEUE_NAME`, as `local-bootstrap` names it; the URL by
//! GetQueueUrl), long-polls it, invokes the function through its
//! [`FunctionPool`] with batches of up to `BatchSize` (at most 10) messages
//! in Lambda's event shape, and deletes what succeeded: every message of a
//! batch the function answered, minus those it named in
//! `batchItemFailures` when the event has `ReportBatchItemFailures`. A
//! failed invocation deletes nothing. What is not deleted becomes visible
//! again after the queue's visibility timeout, and the queue's own redrive
//! policy moves it to its dead-letter queue after `maxReceiveCount`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, watch};

use crate::pool::FunctionPool;
use crate::template::SqsEventSource;

/// SQS hands out at most ten messages per receive, and Lambda's batches of
/// a standard queue without a batching window are no larger.
const MAX_BATCH: u64 = 10;
const LONG_POLL_SECS: i32 = 10;
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// One `SQS` event of one function, ready to poll.
#[derive(Clone)]
pub struct QueuePoller {
    pub function: String,
    pub pool: FunctionPool,
    pub source: SqsEventSource,
    /// Looked up before the process environment (the gateway's extra env).
    pub env: Vec<(String, String)>,
}

/// `MailQueue` → `MAIL_QUEUE_NAME`, the variable `local-bootstrap`
/// reads the queue's local name from.
pub fn queue_name_variable(queue_logical_id: &str) -> String {
    let mut out = String::new();
    for (i, c) in queue_logical_id.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out + "_NAME"
}

impl QueuePoller {
    fn setting(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
            .filter(|v| !v.is_empty())
    }

    fn label(&self) -> String {
        format!("{}.{}", self.function, self.source.event_name)
    }

    /// Polls until `stop` turns true. Problems are reported and retried: a
    /// queue that does not exist yet, moto restarting, a failed delete.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let label = self.label();
        let Some(queue_id) = self.source.queue.logical_id().map(str::to_owned) else {
            eprintln!("local-gateway: {label}: the queue is not a reference to a template queue; not polled");
            return;
        };
        let variable = queue_name_variable(&queue_id);
        let Some(queue_name) = self.setting(&variable) else {
            eprintln!("local-gateway: {label}: {variable} is not set; {queue_id} is not polled");
            return;
        };
        let client = self.sqs_client().await;
        let queue = tokio::select! {
            queue = self.find_queue(&client, &queue_name) => queue,
            _ = stop.wait_for(|s| *s) => return,
        };
        let batch_size = self.source.batch_size.clamp(1, MAX_BATCH) as i32;
        println!("local-gateway: polling SQS {queue_name} for {label} (batches of up to {batch_size})");
        // As many batches in flight as the function has instances.
        let slots = Arc::new(Semaphore::new(self.pool.max_instances()));
        loop {
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => return },
                _ = stop.wait_for(|s| *s) => return,
            };
            let received = tokio::select! {
                received = client
                    .receive_message()
                    .queue_url(&queue.url)
                    .max_number_of_messages(batch_size)
                    .wait_time_seconds(LONG_POLL_SECS)
                    .message_system_attribute_names(MessageSystemAttributeName::All)
                    .message_attribute_names("All")
                    .send() => received,
                _ = stop.wait_for(|s| *s) => return,
            };
            let messages = match received {
                Ok(output) => output.messages.unwrap_or_default(),
                Err(e) => {
                    eprintln!(
                        "local-gateway: {label}: ReceiveMessage: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                    );
                    tokio::time::sleep(RETRY_PAUSE).await;
                    continue;
                }
            };
            if messages.is_empty() {
                continue;
            }
            let (poller, client, queue) = (self.clone(), client.clone(), queue.clone());
            tokio::spawn(async move {
                poller.deliver(&client, &queue, messages).await;
                drop(permit);
            });
        }
    }

    async fn sqs_client(&self) -> aws_sdk_sqs::Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = self.setting("AWS_ENDPOINT_URL") {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(region) = self.setting("AWS_REGION") {
            loader = loader.region(aws_config::Region::new(region));
        }
        if let (Some(key), Some(secret)) = (self.setting("AWS_ACCESS_KEY_ID"), self.setting("AWS_SECRET_ACCESS_KEY")) {
            loader = loader.credentials_provider(aws_sdk_sqs::config::Credentials::new(
                key,
                secret,
                None,
                None,
                "gateway env",
            ));
        }
        aws_sdk_sqs::Client::new(&loader.load().await)
    }

    /// The queue's URL and ARN, asking again until it exists.
    async fn find_queue(&self, client: &aws_sdk_sqs::Client, name: &str) -> Queue {
        let mut reported = false;
        loop {
            let found = async {
                let url = client.get_queue_url().queue_name(name).send().await.map_err(|e| e.to_string())?;
                let url = url.queue_url.unwrap_or_default();
                let attributes = client
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(QueueAttributeName::QueueArn)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let arn =
                    attributes.attributes.and_then(|mut a| a.remove(&QueueAttributeName::QueueArn)).unwrap_or_default();
                Ok::<_, String>(Queue { url, arn })
            }
            .await;
            match found {
                Ok(queue) => return queue,
                Err(e) if !reported => {
                    eprintln!("local-gateway: {}: queue {name} not found yet ({e}); retrying", self.label());
                    reported = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// One batch: invoke, then delete what succeeded.
    async fn deliver(&self, client: &aws_sdk_sqs::Client, queue: &Queue, messages: Vec<Message>) {
        let region = self.setting("AWS_REGION").unwrap_or_else(|| "us-east-1".into());
        let event = sqs_event(&messages, &queue.arn, &region);
        let ids: Vec<String> = messages.iter().map(|m| m.message_id.clone().unwrap_or_default()).collect();
        let payload = Bytes::from(event.to_string());
        let failed: HashSet<String> = match self.pool.invoke(payload).await {
            Ok(answer) => {
                let reports = self.source.function_response_types.iter().any(|t| t == "ReportBatchItemFailures");
                failed_messages(&answer, &ids, reports).unwrap_or_else(|why| {
                    eprintln!("local-gateway: {}: {why}; the whole batch is retried", self.label());
                    ids.iter().cloned().collect()
                })
            }
            // The pool has said why on stderr.
            Err(_) => ids.iter().cloned().collect(),
        };
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !failed.contains(m.message_id.as_deref().unwrap_or_default()))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .build()
                    .ok()
            })
            .collect();
        println!(
            "local-gateway: {}: batch of {}, {} succeeded, {} left for retry",
            self.label(),
            messages.len(),
            entries.len(),
            failed.len()
        );
        if entries.is_empty() {
            return;
        }
        if let Err(e) = client.delete_message_batch().queue_url(&queue.url).set_entries(Some(entries)).send().await {
            eprintln!(
                "local-gateway: {}: DeleteMessageBatch: {}",
                self.label(),
                aws_sdk_sqs::error::DisplayErrorContext(&e)
            );
        }
    }
}

#[derive(Debug, Clone)]
struct Queue {
    url: String,
    arn: String,
}

/// Lambda's SQS event: `{"Records": [...]}` in the shape the runtime
/// libraries deserialise.
pub fn sqs_event(messages: &[Message], queue_arn: &str, region: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: Map<String, Value> = m
                .attributes
                .iter()
                .flatten()
                .map(|(name, value)| (name.as_str().to_owned(), Value::from(value.clone())))
                .collect();
            let message_attributes: Map<String, Value> = m
                .message_attributes
                .iter()
                .flatten()
                .map(|(name, value)| {
                    let attribute = json!({
                        "stringValue": value.string_value,
                        "binaryValue": value.binary_value.as_ref().map(|b| BASE64.encode(b.as_ref())),
                        "stringListValues": value.string_list_values.clone().unwrap_or_default(),
                        "binaryListValues": value.binary_list_values.iter().flatten()
                            .map(|b| BASE64.encode(b.as_ref())).collect::<Vec<_>>(),
                        "dataType": value.data_type,
                    });
                    (name.clone(), attribute)
                })
                .collect();
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The messages of a batch to leave on the queue, from the function's
/// answer. Without `ReportBatchItemFailures` an answer means the whole batch
/// succeeded. With it, as Lambda does: no failures listed is success; a
/// failure that names no message of the batch, or an answer that is not the
/// response shape, fails the whole batch.
pub fn failed_messages(answer: &[u8], batch: &[String], reports_failures: bool) -> Result<HashSet<String>, String> {
    if !reports_failures {
        return Ok(HashSet::new());
    }
    let answer: Value = match serde_json::from_slice(answer) {
        Ok(value) => value,
        Err(e) => return Err(format!("the answer is not JSON ({e})")),
    };
    let failures = match answer.get("batchItemFailures") {
        None | Some(Value::Null) => return Ok(HashSet::new()),
        Some(Value::Array(failures)) => failures,
        Some(_) => return Err("batchItemFailures is not a list".into()),
    };
    failures
        .iter()
        .map(|failure| match failure.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if batch.iter().any(|m| m == id) => Ok(id.to_owned()),
            other => Err(format!("batchItemFailures names {other:?}, not a message of the batch")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::types::MessageAttributeValue;

    #[test]
    fn queue_variables_follow_bootstrap() {
        assert_eq!(queue_name_variable("MailQueue"), "MAIL_QUEUE_NAME");
        assert_eq!(queue_name_variable("EmailEventsQueue"), "EMAIL_EVENTS_QUEUE_NAME");
    }

    #[test]
    fn events_have_lambdas_shape() {
        let message = Message::builder()
            .message_id("m-1")
            .receipt_handle("rh-1")
            .body(r#"{"order_id":"o1"}"#)
            .md5_of_body("abc")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
            .message_attributes(
                "trace",
                MessageAttributeValue::builder().data_type("String").string_value("t-1").build().unwrap(),
            )
            .build();
        let event = sqs_event(&[message], "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1");
        let record = &event["Records"][0];
        assert_eq!(record["messageId"], "m-1");
        assert_eq!(record["receiptHandle"], "rh-1");
        assert_eq!(record["body"], r#"{"order_id":"o1"}"#);
        assert_eq!(record["attributes"]["ApproximateReceiveCount"], "2");
        assert_eq!(record["messageAttributes"]["trace"]["stringValue"], "t-1");
        assert_eq!(record["messageAttributes"]["trace"]["dataType"], "String");
        assert_eq!(record["eventSource"], "aws:sqs");
        assert_eq!(record["eventSourceARN"], "arn:aws:sqs:us-east-1:123456789012:q");
        // What the runtime library reads.
        let parsed: aws_lambda_events_shape::SqsEvent = serde_json::from_value(event).unwrap();
        assert_eq!(parsed.records.len(), 1);
    }

    /// The fields `aws_lambda_events::sqs::SqsEvent` requires, restated so
    /// the gateway does not depend on the runtime crates.
    mod aws_lambda_events_shape {
        #[derive(serde::Deserialize)]
        pub struct SqsEvent {
            #[serde(rename = "Records")]
            pub records: Vec<SqsMessage>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        pub struct SqsMessage {
            pub message_id: String,
            pub receipt_handle: String,
            pub body: String,
            pub attributes: std::collections::HashMap<String, String>,
            #[serde(rename = "eventSourceARN")]
            pub event_source_arn: String,
        }
    }

    fn ids() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    #[test]
    fn partial_failures_keep_only_the_named_messages() {
        let answer = br#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#;
        assert_eq!(failed_messages(answer, &ids(), true).unwrap(), HashSet::from(["b".to_owned()]));
        for success in [&br#"{"batchItemFailures":[]}"#[..], br#"{"batchItemFailures":null}"#, b"{}"] {
            assert!(failed_messages(success, &ids(), true).unwrap().is_empty());
        }
    }

    #[test]
    fn a_bad_report_fails_the_whole_batch() {
        for bad in
            [&br#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#[..], br#"{"batchItemFailures":[{}]}"#, b"not json"]
        {
            assert!(failed_messages(bad, &ids(), true).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn without_reporting_any_answer_is_success() {
        assert!(
            failed_messages(br#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#, &ids(), false).unwrap().is_empty()
        );
    }
}
