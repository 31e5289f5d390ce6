//! What the operational commands share: their error type and the AWS
//! clients, built from the same environment the functions read (locally
//! `infra/local.env`, through `infra/stack.sh tool`).

use store::Table;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Shared(#[from] domain::Error),
    #[error("{path}: {reason}")]
    SeedFile { path: String, reason: String },
    #[error("sqs {operation}: {detail}")]
    Sqs { operation: &'static str, detail: String },
    #[error("{0}")]
    Demo(String),
    #[error("sns {operation}: {detail}")]
    Sns { operation: &'static str, detail: String },
}

pub fn sqs_error<E: std::error::Error + 'static>(operation: &'static str, error: E) -> OpsError {
    OpsError::Sqs { operation, detail: aws_sdk_sqs::error::DisplayErrorContext(error).to_string() }
}

/// The table the functions use, with a call-counting client.
pub async fn table() -> Result<Table, OpsError> {
    let store = platform::config::StoreSettings::from_env()?;
    let sdk = platform::aws::load_sdk_config().await;
    Ok(Table::new(platform::aws::dynamodb_client(&sdk), store.table_name))
}

pub fn sns_error<E: std::error::Error + 'static>(operation: &'static str, error: E) -> OpsError {
    OpsError::Sns { operation, detail: aws_sdk_sns::error::DisplayErrorContext(error).to_string() }
}

pub async fn sns() -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(&platform::aws::load_sdk_config().await)
}

pub mod ses_events;

pub async fn sqs() -> aws_sdk_sqs::Client {
    platform::aws::sqs_client(&platform::aws::load_sdk_config().await)
}

/// Prints the error and gives the exit code for `main`.
pub fn exit_with(result: Result<(), OpsError>, command: &str) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(OpsError::Usage(usage)) => {
            eprintln!("{usage}");
            std::process::ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("{command}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
