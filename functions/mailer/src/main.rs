use lambda_runtime::service_fn;
use mailer::Mailer;
use mailer::render::AccountLinks;
use platform::config::{StoreSettings, optional, parse_or, required};
use platform::{aws, telemetry};
use services::Table;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let store = StoreSettings::from_env()?;
    let from_address = required("SES_FROM_ADDRESS")?;
    let claim_lease_secs = parse_or("RECEIPT_CLAIM_LEASE_SECONDS", 60i64)?;
    let sdk = aws::load_sdk_config().await;
    let table = Table::new(aws::dynamodb_client(&sdk), store.table_name);
    let links =
        AccountLinks { verify_email: required("EMAIL_VERIFY_URL")?, reset_password: required("PASSWORD_RESET_URL")? };
    let mailer = Mailer::new(table, aws::sesv2_client(&sdk), from_address, claim_lease_secs, links)
        .with_configuration_set(optional("SES_CONFIGURATION_SET"));
    let mailer = &mailer;
    lambda_runtime::run(service_fn(move |event| mailer.handle_batch(event))).await
}
