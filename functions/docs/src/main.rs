use platform::telemetry;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let options = docs::DocsOptions::from_env()?;
    lambda_http::run(docs::router(options)).await
}
