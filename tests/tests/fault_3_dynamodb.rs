//! Fault 3: DynamoDB throttles. The functions reach DynamoDB through the fault proxy of the test
//! stack (`FAULT_PROXY_URL`); during a stream of writes it answers a share of calls with
//! ProvisionedThroughputExceededException, 500, a slow answer, or a partial batch. Writes are
//! accepted or refused with 503 (when an id cannot be made); every 201 is persisted exactly once,
//! and no refused write appears.

use integration::faults::{Writes, reconcile, report, when_sent, write_stream};
use integration::unique;
use std::sync::Arc;
use std::time::Duration;

async fn configure(proxy: &str, config: serde_json::Value) -> serde_json::Value {
    let c = reqwest::Client::new();
    c.post(format!("{proxy}/_fault/config")).json(&config).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn dynamodb_throttling_loses_nothing() {
    let Ok(proxy) = std::env::var("FAULT_PROXY_URL") else {
        panic!("FAULT_PROXY_URL is not set: this test needs the local test stack (make test)");
    };
    let c = reqwest::Client::new();
    c.post(format!("{proxy}/_fault/reset")).send().await.unwrap();
    let users = integration::writers("f3u", 10).await;
    let writes = Arc::new(Writes::default());
    let load = tokio::spawn(write_stream(users.clone(), 240, 8, unique("f3"), Arc::clone(&writes)));
    when_sent(&writes, 30).await;
    configure(
        &proxy,
        serde_json::json!({"throttle": 0.25, "error500": 0.05, "slow": 0.05, "slow_ms": 300, "unprocessed": 0.3, "only_target": [], "seed": 3}),
    )
    .await;
    when_sent(&writes, 200).await;
    configure(&proxy, serde_json::json!({"throttle": 0.0, "error500": 0.0, "slow": 0.0, "unprocessed": 0.0}))
        .await;
    load.await.unwrap();
    let stats: serde_json::Value =
        c.get(format!("{proxy}/_fault/stats")).send().await.unwrap().json().await.unwrap();

    let other = writes.other.lock().unwrap().clone();
    assert!(other.is_empty(), "only 201 and 503 expected: {other:?}");
    let figures = reconcile(&users, &writes, Duration::from_secs(120)).await;
    let refused = writes.refused.lock().unwrap().len();
    report(&format!("dynamodb_throttled(refused_503={refused}, faults={})", stats["faults"]), &figures);
    assert!(
        stats["faults"].as_object().is_some_and(|f| f.values().any(|v| v.as_u64().unwrap_or(0) > 0)),
        "{stats}"
    );
    assert_eq!((figures.lost, figures.duplicates, figures.phantoms), (0, 0, 0), "{figures:?}");
}
