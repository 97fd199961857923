//! The test stack's fault proxy between the functions and DynamoDB/SQS: configured, reset and
//! asked what it injected.

use crate::http;
use serde_json::json;

/// The fault proxy of the test stack (`FAULT_PROXY_URL`).
pub struct Proxy(String);

impl Proxy {
    pub fn from_env() -> Self {
        let url = std::env::var("FAULT_PROXY_URL")
            .expect("FAULT_PROXY_URL is not set: this test needs the local test stack (make test)");
        Self(url)
    }

    pub async fn configure(&self, config: serde_json::Value) {
        let res = http().post(format!("{}/_fault/config", self.0)).json(&config).send().await.unwrap();
        assert!(res.status().is_success(), "proxy config {config}: {}", res.status());
    }

    /// All faults off, stats zeroed.
    pub async fn reset(&self) {
        self.configure(json!({"throttle": 0.0, "error500": 0.0, "slow": 0.0, "lost_answer": 0.0, "lost_timeout": 0.0, "unprocessed": 0.0, "only_target": []})).await;
        http().post(format!("{}/_fault/reset", self.0)).send().await.unwrap();
    }

    pub async fn stats(&self) -> serde_json::Value {
        http().get(format!("{}/_fault/stats", self.0)).send().await.unwrap().json().await.unwrap()
    }
}

/// Faults of `kind` the proxy injected into `operation`, from its stats.
pub fn injected(stats: &serde_json::Value, operation: &str, kind: &str) -> u64 {
    stats["faults_by_operation"][operation][kind].as_u64().unwrap_or(0)
}
