//! AWS SDK configuration and clients, built once per process in `main`.
//! The SDK has no default call or attempt timeout; a Lambda that waits on a
//! stuck connection until its own timeout is worse than a quick 5xx. The
//! budget: 3 attempts (standard retry, exponential backoff with jitter) of at
//! most 3 s each, 8 s in all per call, under the functions' 10 s timeout, so
//! a dependency that is down is a 503 with `Retry-After`, never a 504.
//!
//! The SDK's default HTTP client trusts the system's root certificates,
//! which it reads at start-up: on Debian, a 200 KB bundle and then every
//! file in `/etc/ssl/certs` again, milliseconds of every cold start (most of
//! what the SDK adds to init). AWS endpoints' certificates come from Amazon
//! Trust Services, so the client trusts those roots alone
//! (`aws_trust_roots.pem`, 5 certificates, parsed in microseconds).
//! `AWS_TLS_NATIVE_ROOTS=true` trusts the system's store instead (an
//! endpoint behind a TLS-inspecting proxy, say).

use std::time::Duration;

use aws_config::BehaviorVersion;
pub use aws_config::SdkConfig;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use crate::telemetry::CountAwsCalls;

const AWS_TRUST_ROOTS: &[u8] = include_bytes!("aws_trust_roots.pem");

/// Region, credentials and endpoint from the standard chain (locally:
/// `AWS_ENDPOINT_URL` and dummy keys; on Lambda: the execution role).
pub async fn load_sdk_config() -> SdkConfig {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client(env("AWS_TLS_NATIVE_ROOTS").is_some_and(|v| v == "true" || v == "1")));
    // Lambda puts the execution role's credentials and the region in the
    // environment. Reading them straight from there skips building the
    // default chain's other providers (web identity with its STS client,
    // ECS, IMDS), which cost a fifth of a cold start and are never asked.
    if env("AWS_ACCESS_KEY_ID").is_some() && env("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if let Some(region) = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
        loader = loader.region(aws_config::Region::new(region));
    }
    loader
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

/// The SDK's hyper + rustls (aws-lc) client, trusting Amazon's roots (or,
/// with `native_roots`, the system's).
fn https_client(native_roots: bool) -> SharedHttpClient {
    let trust = if native_roots {
        TrustStore::default()
    } else {
        TrustStore::empty().with_native_roots(false).with_pem_certificate(AWS_TRUST_ROOTS)
    };
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Building a context only stores the trust store; it cannot fail
        // today, and if it ever does the SDK's own default still works.
        Err(_) => builder.build_https(),
    }
}

/// A configuration whose every call fails at once (a closed local port, no
/// retries): for in-process tests, where reaching AWS at all is the bug.
#[cfg(feature = "testing")]
pub fn offline_config() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("offline", "offline", None, None, "offline"),
        ))
        .retry_config(RetryConfig::disabled())
        .build()
}

pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::config::Builder::from(config).interceptor(CountAwsCalls::new("dynamodb")).build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// A DynamoDB client whose calls count as rate limiting, apart from the
/// request's own (the throttle's counters).
pub fn throttle_dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let conf =
        aws_sdk_dynamodb::config::Builder::from(config).interceptor(CountAwsCalls::for_throttle("dynamodb")).build();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The TLS context parses the PEM when the connector is first made
    /// (and panics on a bad one): a call through each kind of client, to an
    /// address that refuses it, proves the file.
    #[tokio::test]
    async fn amazons_roots_make_a_working_client() {
        let text = std::str::from_utf8(AWS_TRUST_ROOTS).unwrap();
        assert_eq!(text.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        for native_roots in [false, true] {
            let config = SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .http_client(https_client(native_roots))
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url("https://127.0.0.1:9")
                .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                    aws_sdk_dynamodb::config::Credentials::new("a", "b", None, None, "test"),
                ))
                .build();
            let error = aws_sdk_dynamodb::Client::new(&config).list_tables().send().await.unwrap_err();
            assert!(matches!(error, aws_sdk_dynamodb::error::SdkError::DispatchFailure(_)), "{error:?}");
        }
    }
}
