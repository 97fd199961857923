//! SDK configuration shared by every client a function builds.
//!
//! Endpoints come only from the standard settings (`AWS_ENDPOINT_URL`, or a service-specific
//! `AWS_ENDPOINT_URL_<SERVICE>`), so the same binary talks to AWS, LocalStack or the local
//! emulator; there is no emulator branch in the code.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use std::time::Duration;

/// Time limits for SDK calls: each attempt, and the whole operation with its retries. Both stay
/// well below the function timeout.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
    pub max_attempts: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_millis(1_000),
            attempt: Duration::from_millis(1_500),
            operation: Duration::from_millis(4_000),
            max_attempts: 3,
        }
    }
}

/// An SDK error with its whole cause chain (the bare `Display` says only "service error").
/// The SDK crates share this formatter; any of them serves every service's errors.
pub fn error_text<E: std::error::Error>(e: E) -> String {
    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()
}

/// Loads the configuration from the environment, once per cold start.
pub async fn load(timeouts: Timeouts) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(timeouts.connect)
                .operation_attempt_timeout(timeouts.attempt)
                .operation_timeout(timeouts.operation)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(timeouts.max_attempts))
        .load()
        .await
}
