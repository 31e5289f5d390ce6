//! The receipt queue: "an order became paid, send its receipt", whichever
//! payment provider said so. The mailer sends at most once per order, so
//! queueing the same order again (a redelivered event, a retry) is safe.

use domain::order::ReceiptMessage;
use domain::{Error, Result};

/// Where receipts go: the mailer's queue.
#[derive(Debug, Clone)]
pub struct MailQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
}

impl MailQueue {
    /// The message names the order and carries its correlation id (in the
    /// body and as a message attribute), so the mailer's log lines join the
    /// order's others. A queue that cannot be reached is a 503: the caller
    /// (a provider's webhook, a client) tries again and lands here again.
    pub async fn send(&self, order_id: &str, correlation_id: &str) -> Result<()> {
        let unavailable = |detail: String| Error::ServiceUnavailable {
            detail: format!("receipt queue: {detail}"),
            retry_after_secs: 5,
        };
        let message = ReceiptMessage { order_id: order_id.to_owned(), correlation_id: Some(correlation_id.to_owned()) };
        let body = serde_json::to_string(&message).map_err(Error::internal)?;
        let attribute = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(correlation_id)
            .build()
            .map_err(Error::internal)?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .message_attributes("correlation_id", attribute)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}
