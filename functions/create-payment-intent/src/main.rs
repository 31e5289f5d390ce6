use create_payment_intent::stripe::StripeClient;
use create_payment_intent::{IntentState, router};
use platform::config::{StoreSettings, TokenSettings, required};
use platform::{aws, telemetry};
use services::Table;
use services::tokens::TokenService;
use web::throttle::Throttle;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let tokens = TokenSettings::from_env()?;
    let store = StoreSettings::from_env()?;
    let stripe = StripeClient::new(&required("STRIPE_API_BASE")?, required("STRIPE_SECRET_KEY")?)?;
    let sdk = aws::load_sdk_config().await;
    let table = Table::new(aws::dynamodb_client(&sdk), store.table_name);
    let throttle = Throttle::from_env(&sdk, &table.name)?;
    lambda_http::run(router(IntentState::new(table, stripe, TokenService::new(tokens), throttle))).await
}
