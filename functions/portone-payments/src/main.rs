use std::sync::Arc;

use domain::Error;
use platform::config::{StoreSettings, TokenSettings, optional, required};
use platform::{aws, telemetry};
use portone_payments::confirm::Confirmer;
use portone_payments::portone::PortOneClient;
use portone_payments::{PortOneState, parse_allowed_sources, router};
use services::Table;
use services::settlement::MailQueue;
use services::tokens::TokenService;
use web::throttle::Throttle;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let tokens = TokenSettings::from_env()?;
    let store = StoreSettings::from_env()?;
    let portone = PortOneClient::new(
        &required("PORTONE_API_BASE")?,
        required("PORTONE_IMP_KEY")?,
        required("PORTONE_IMP_SECRET")?,
    )?;
    let webhook_sources = match optional("PORTONE_WEBHOOK_ALLOWED_IPS") {
        Some(text) => Some(Arc::new(
            parse_allowed_sources(&text)
                .map_err(|reason| Error::Config { name: "PORTONE_WEBHOOK_ALLOWED_IPS", reason })?,
        )),
        None => None,
    };
    let sdk = aws::load_sdk_config().await;
    let table = Table::new(aws::dynamodb_client(&sdk), store.table_name);
    let receipts = MailQueue { client: aws::sqs_client(&sdk), url: required("MAIL_QUEUE_URL")? };
    let throttle = Throttle::from_env(&sdk, &table.name)?;
    let state = PortOneState {
        confirmer: Confirmer::new(table, portone, receipts),
        tokens: Arc::new(TokenService::new(tokens)),
        throttle,
        webhook_sources,
    };
    lambda_http::run(router(state)).await
}
