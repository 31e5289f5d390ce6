//! AWS SDK configuration and clients, built once per process in `main`.
//! The SDK has no default call or attempt timeout; a Lambda that waits on a
//! stuck connection until its own timeout is worse than a quick 5xx.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::telemetry::CountAwsCalls;

/// Region, credentials and endpoint from the standard chain (locally:
/// `AWS_ENDPOINT_URL` and dummy keys; on Lambda: the execution role).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(8))
                .build(),
        )
        .load()
        .await
}

pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::config::Builder::from(config).interceptor(CountAwsCalls::new("dynamodb")).build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

#[cfg(feature = "sqs")]
pub fn sqs_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::config::Builder::from(config).interceptor(CountAwsCalls::new("sqs")).build();
    aws_sdk_sqs::Client::from_conf(conf)
}

#[cfg(feature = "ses")]
pub fn sesv2_client(config: &SdkConfig) -> aws_sdk_sesv2::Client {
    let conf = aws_sdk_sesv2::config::Builder::from(config).interceptor(CountAwsCalls::new("ses")).build();
    aws_sdk_sesv2::Client::from_conf(conf)
}
