//! Fault 3: DynamoDB throttles. The functions reach DynamoDB through the fault proxy of the test
//! stack (`FAULT_PROXY_URL`); during a stream of writes it answers a share of calls with
//! ProvisionedThroughputExceededException, 500, a slow answer, or a partial batch. Writes are
//! accepted or refused with 503 (when an id cannot be made); every 201 is stored exactly once,
//! and no refused write appears. The proxy's counts prove BatchWriteItem met both throttles and
//! unprocessed items.

use integration::faults::{Proxy, Stream, Watcher, Writes, injected, reconcile, report, when_sent};
use integration::unique;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn dynamodb_throttling_loses_nothing() {
    let proxy = Proxy::from_env();
    proxy.reset().await;
    let users = integration::writers("f3u", 10).await;
    let watcher = Watcher::start(&users).await;
    let writes = Arc::new(Writes::default());
    let load = tokio::spawn(Stream::new(&users, 240, 8, unique("f3")).run(Arc::clone(&writes)));
    when_sent(&writes, 30).await;
    proxy
        .configure(serde_json::json!({"throttle": 0.25, "error500": 0.05, "slow": 0.05, "slow_ms": 300, "unprocessed": 0.3, "only_target": [], "seed": 3}))
        .await;
    when_sent(&writes, 200).await;
    let stats = proxy.stats().await;
    proxy.reset().await;
    load.await.unwrap();

    let figures = reconcile(&watcher, &users, &writes, Duration::from_secs(120)).await;
    let (throttled, unprocessed) =
        (injected(&stats, "BatchWriteItem", "throttle"), injected(&stats, "BatchWriteItem", "unprocessed"));
    report(
        &format!(
            "dynamodb_throttled(batch_throttles={throttled},batch_unprocessed={unprocessed},faults={})",
            stats["faults"]
        ),
        &figures,
    );
    assert!(throttled > 0 && unprocessed > 0, "BatchWriteItem met no throttle or no partial batch: {stats}");
    assert_eq!(figures.attempted, 240);
    figures.assert_exact();
}
