//! `redrive-mail`: moves every message in the receipt dead-letter queue
//! (`MAIL_DEAD_LETTER_QUEUE_NAME`) back to the receipt queue
//! (`MAIL_QUEUE_NAME`), for after the cause of the failures is fixed.
//! Each message is sent again before it is deleted from the dead-letter
//! queue, so a crash half-way duplicates a message rather than losing one;
//! the mailer sends a receipt at most once, so duplicates are harmless.
//! Run twice, the second run finds nothing to move.

use aws_sdk_sqs::types::MessageSystemAttributeName;
use commerce_ops::{OpsError, exit_with, sqs, sqs_error};
use platform::config::required;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    exit_with(run().await, "redrive-mail")
}

async fn run() -> Result<(), OpsError> {
    let client = sqs().await;
    let url_of = |name: String| {
        let client = client.clone();
        async move {
            let output =
                client.get_queue_url().queue_name(&name).send().await.map_err(|e| sqs_error("GetQueueUrl", e))?;
            Ok::<_, OpsError>(output.queue_url.unwrap_or_default())
        }
    };
    let dead_letters = url_of(required("MAIL_DEAD_LETTER_QUEUE_NAME")?).await?;
    let receipts = url_of(required("MAIL_QUEUE_NAME")?).await?;
    let mut moved = 0;
    loop {
        let output = client
            .receive_message()
            .queue_url(&dead_letters)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| sqs_error("ReceiveMessage", e))?;
        let messages = output.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            client
                .send_message()
                .queue_url(&receipts)
                .message_body(message.body.clone().unwrap_or_default())
                .set_message_attributes(message.message_attributes.clone())
                .send()
                .await
                .map_err(|e| sqs_error("SendMessage", e))?;
            client
                .delete_message()
                .queue_url(&dead_letters)
                .receipt_handle(message.receipt_handle.clone().unwrap_or_default())
                .send()
                .await
                .map_err(|e| sqs_error("DeleteMessage", e))?;
            moved += 1;
        }
    }
    println!("redrive-mail: moved {moved} message(s) from the dead-letter queue back to the receipt queue");
    Ok(())
}
