use orders::{OrdersState, router};
use std::sync::Arc;

use platform::config::{StoreSettings, TokenSettings, order_hold, required};
use platform::portone::PortOneClient;
use platform::stripe::StripeClient;
use platform::{aws, telemetry};
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
    let stripe = StripeClient::new(&required("STRIPE_API_BASE")?, required("STRIPE_SECRET_KEY")?)?;
    let portone = PortOneClient::new(
        &required("PORTONE_API_BASE")?,
        required("PORTONE_IMP_KEY")?,
        required("PORTONE_IMP_SECRET")?,
    )?;
    let sdk = aws::load_sdk_config().await;
    let table = Table::new(aws::dynamodb_client(&sdk), store.table_name);
    let throttle = Throttle::from_env(&sdk, &table.name)?;
    let mut state = OrdersState::new(table, Arc::new(stripe.clone()), TokenService::new(tokens), cursors, throttle);
    state.orders = state.orders.with_hold(order_hold()?).with_refunds(Arc::new(stripe), Arc::new(portone));
    lambda_http::run(router(state)).await
}
