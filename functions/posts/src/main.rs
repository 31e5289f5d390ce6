use platform::config::{StoreSettings, TokenSettings};
use platform::{aws, telemetry};
use posts::{PostsState, router};
use services::Table;
use services::tokens::TokenService;
use web::pagination::CursorCodec;
use web::throttle::Throttle;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let tokens = TokenSettings::from_env()?;
    let store = StoreSettings::from_env()?;
    let cursors = CursorCodec::derive_from(&tokens.signing_key);
    let sdk = aws::load_sdk_config().await;
    let table = Table::new(aws::dynamodb_client(&sdk), store.table_name);
    let throttle = Throttle::from_env(&sdk, &table.name)?;
    lambda_http::run(router(PostsState::new(table, TokenService::new(tokens), cursors, throttle))).await
}
