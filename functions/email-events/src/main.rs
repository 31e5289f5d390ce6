use email_events::EmailEvents;
use lambda_runtime::service_fn;
use platform::config::{StoreSettings, required};
use platform::{aws, telemetry};
use services::Table;
use services::email::SuppressionList;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let store = StoreSettings::from_env()?;
    let dead_letter_queue_url = required("EMAIL_EVENTS_DEAD_LETTER_QUEUE_URL")?;
    let sdk = aws::load_sdk_config().await;
    let table = Table::new(aws::dynamodb_client(&sdk), store.table_name);
    let handler =
        EmailEvents { suppressions: SuppressionList::new(table), sqs: aws::sqs_client(&sdk), dead_letter_queue_url };
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event| handler.handle_batch(event))).await
}
