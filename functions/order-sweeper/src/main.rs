use std::sync::Arc;

use lambda_runtime::service_fn;
use order_sweeper::Sweeper;
use platform::config::{StoreSettings, order_hold, required};
use platform::stripe::StripeClient;
use platform::{aws, telemetry};
use services::Table;
use services::orders::OrderService;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let store = StoreSettings::from_env()?;
    let stripe = StripeClient::new(&required("STRIPE_API_BASE")?, required("STRIPE_SECRET_KEY")?)?;
    let sdk = aws::load_sdk_config().await;
    let table = Table::new(aws::dynamodb_client(&sdk), store.table_name);
    let orders = OrderService::new(table).with_payment_intents(Arc::new(stripe)).with_hold(order_hold()?);
    let sweeper = Sweeper { orders };
    let sweeper = &sweeper;
    lambda_runtime::run(service_fn(move |event| sweeper.handle(event))).await
}
