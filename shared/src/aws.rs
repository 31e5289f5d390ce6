//! AWS SDK configuration and clients, built once per process in `main`.
//! The SDK has no default call or attempt timeout; a Lambda that waits on a
//! stuck connection until its own timeout is worse than a quick 5xx. The
//! budget: 3 attempts (standard retry, exponential backoff with jitter) of at
//! most 3 s each, 8 s in all per call, under the functions' 10 s timeout, so
//! a dependency that is down is a 503 with `Retry-After`, never a 504.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::telemetry::CountAwsCalls;

/// Region, credentials and endpoint from the standard chain (locally:
/// `AWS_ENDPOINT_URL` and dummy keys; on Lambda: the execution role).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_max_backoff(Duration::from_secs(1)))
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
