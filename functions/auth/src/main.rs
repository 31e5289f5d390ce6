use auth::{AuthState, router};
use shared::config::{StoreSettings, TokenSettings};
use shared::store::Table;
use shared::{aws, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let tokens = TokenSettings::from_env()?;
    let store = StoreSettings::from_env()?;
    let sdk = aws::load_sdk_config().await;
    let table = Table::new(aws::dynamodb_client(&sdk), store.table_name);
    lambda_http::run(router(AuthState::new(table, shared::tokens::TokenService::new(tokens)))).await
}
