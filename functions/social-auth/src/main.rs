use std::time::Duration;

use domain::Error;
use platform::config::{StoreSettings, TokenSettings, required};
use platform::{aws, telemetry};
use services::Table;
use services::tokens::TokenService;
use social_auth::{SocialState, providers, router};
use web::throttle::Throttle;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let tokens = TokenSettings::from_env()?;
    let store = StoreSettings::from_env()?;
    // Every provider call has a budget well inside the function's timeout.
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| Error::Config { name: "SOCIAL_*", reason: e.to_string() })?;
    let providers = providers::from_lookup(|name| std::env::var(name).ok(), &http)?;
    let redirect_uris: Vec<String> =
        required("SOCIAL_REDIRECT_URIS")?.split(',').map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).collect();
    let sdk = aws::load_sdk_config().await;
    let table = Table::new(aws::dynamodb_client(&sdk), store.table_name);
    let throttle = Throttle::from_env(&sdk, &table.name)?;
    let state = SocialState::new(table, providers, redirect_uris, TokenService::new(tokens), throttle);
    lambda_http::run(router(state)).await
}
