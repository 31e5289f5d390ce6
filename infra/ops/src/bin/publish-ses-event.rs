//! `publish-ses-event KIND EMAIL...`: publishes an SES notification (KIND:
//! bounce, transient, complaint, delivery) about EMAIL to the email-events
//! topic (`EMAIL_EVENTS_TOPIC_ARN`), as SES would after a send. For the
//! local stack (`make bounce`), where moto publishes no SES events.

use commerce_ops::ses_events::{Kind, notification};
use commerce_ops::{OpsError, exit_with, sns, sns_error};
use platform::config::required;

const USAGE: &str = "usage: publish-ses-event bounce|transient|complaint|delivery EMAIL...";

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    exit_with(run().await, "publish-ses-event")
}

async fn run() -> Result<(), OpsError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(kind), recipients) = (args.first().and_then(|k| Kind::parse(k)), args.get(1..).unwrap_or_default())
    else {
        return Err(OpsError::Usage(USAGE.into()));
    };
    if recipients.is_empty() {
        return Err(OpsError::Usage(USAGE.into()));
    }
    let recipients: Vec<&str> = recipients.iter().map(String::as_str).collect();
    let mail_message_id = format!("local-{}", ulid::Ulid::new().to_string().to_lowercase());
    let message = notification(kind, &recipients, &mail_message_id);
    let topic = required("EMAIL_EVENTS_TOPIC_ARN")?;
    let published = sns()
        .await
        .publish()
        .topic_arn(&topic)
        .message(message.to_string())
        .send()
        .await
        .map_err(|e| sns_error("Publish", e))?;
    println!(
        "published {} about {} recipient(s) to {topic} (SNS message {})",
        args[0],
        recipients.len(),
        published.message_id.unwrap_or_default()
    );
    Ok(())
}
