//! The mail queue: every email the mailer sends is asked for here, as one
//! typed [`MailRequest`]. The mailer sends each at most once, so queueing
//! the same request again (a redelivered event, a retry) is safe.

use domain::mail::MailRequest;
use domain::{Error, Result};

/// Where mail requests go: the mailer's queue.
#[derive(Debug, Clone)]
pub struct MailQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
}

impl MailQueue {
    /// Queues `request`; an order's carries its correlation id as a message
    /// attribute too, so the mailer's log lines join the order's others. A
    /// queue that cannot be reached is a 503: the caller (a provider's
    /// webhook, a client) tries again and lands here again.
    pub async fn send(&self, request: &MailRequest) -> Result<()> {
        let unavailable =
            |detail: String| Error::ServiceUnavailable { detail: format!("mail queue: {detail}"), retry_after_secs: 5 };
        let body = serde_json::to_string(request).map_err(Error::internal)?;
        let mut send = self.client.send_message().queue_url(&self.url).message_body(body);
        if let Some(correlation_id) = request.correlation_id() {
            let attribute = aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(correlation_id)
                .build()
                .map_err(Error::internal)?;
            send = send.message_attributes("correlation_id", attribute);
        }
        send.send().await.map_err(|e| unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }

    /// "Send this order's receipt".
    pub async fn send_receipt(&self, order_id: &str, correlation_id: &str) -> Result<()> {
        self.send(&MailRequest::Receipt {
            order_id: order_id.to_owned(),
            correlation_id: Some(correlation_id.to_owned()),
            email: None,
        })
        .await
    }
}
