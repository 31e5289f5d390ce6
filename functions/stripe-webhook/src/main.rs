use platform::config::{StoreSettings, required, stripe_key_is_live};
use platform::stripe::StripeClient;
use platform::{aws, telemetry};
use services::Table;
use services::settlement::MailQueue;
use stripe_webhook::process::Processor;
use stripe_webhook::{WebhookState, router};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let store = StoreSettings::from_env()?;
    let endpoint_secret = required("STRIPE_WEBHOOK_SECRET")?;
    let queue_url = required("MAIL_QUEUE_URL")?;
    let secret_key = required("STRIPE_SECRET_KEY")?;
    let livemode = stripe_key_is_live(&secret_key);
    let stripe = StripeClient::new(&required("STRIPE_API_BASE")?, secret_key)?;
    let sdk = aws::load_sdk_config().await;
    let table = Table::new(aws::dynamodb_client(&sdk), store.table_name);
    let receipts = MailQueue { client: aws::sqs_client(&sdk), url: queue_url };
    let state = WebhookState {
        processor: Processor::new(table, receipts, livemode).with_stripe(stripe),
        endpoint_secret: endpoint_secret.into(),
    };
    lambda_http::run(router(state)).await
}
