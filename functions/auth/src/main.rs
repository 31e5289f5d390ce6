use auth::{AuthState, router};
use platform::config::{StoreSettings, TokenSettings, required};
use platform::{aws, telemetry};
use services::Table;
use services::email::MailQueue;
use services::tokens::TokenService;
use web::throttle::Throttle;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let tokens = TokenSettings::from_env()?;
    let store = StoreSettings::from_env()?;
    let sdk = aws::load_sdk_config().await;
    let table = Table::new(aws::dynamodb_client(&sdk), store.table_name);
    let throttle = Throttle::from_env(&sdk, &table.name)?;
    let mail = MailQueue { client: aws::sqs_client(&sdk), url: required("MAIL_QUEUE_URL")? };
    lambda_http::run(router(AuthState::new(table, TokenService::new(tokens), throttle, mail))).await
}
