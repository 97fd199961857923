//! Fault 2: queue-drain processes are killed in the middle of batches; the emulator starts new
//! ones and SQS redelivers. Every accepted post is stored exactly once. To be sure a batch is
//! in flight when the kill lands, the fault proxy holds each BatchWriteItem answer for a while
//! (the write reaches the table first, so the redelivered batch rewrites what is there); the
//! drain's own log then shows messages received a second time.

use integration::faults::{
    Proxy, Stream, Watcher, Writes, kill_soon, log_lines, now_ms, reconcile, report, when_sent,
};
use integration::{stack_output, unique};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn queue_drain_killed_mid_batch() {
    let since = now_ms();
    let proxy = Proxy::from_env();
    proxy.reset().await;
    let drain = stack_output("QueueDrainFunctionName").await;
    let users = integration::writers("f2u", 10).await;
    let watcher = Watcher::start(&users).await;
    let writes = Arc::new(Writes::default());
    let load = tokio::spawn(Stream::new(&users, 300, 8, unique("f2")).run(Arc::clone(&writes)));
    proxy.configure(json!({"slow": 1.0, "slow_ms": 1500, "only_target": ["BatchWriteItem"]})).await;
    let mut kills = 0;
    for at in [50, 120, 190, 260] {
        when_sent(&writes, at).await;
        // A batch is in flight for 1.5 s once the drain runs: kill it inside that window.
        kills += kill_soon(&drain, Duration::from_secs(5)).await;
    }
    proxy.reset().await;
    load.await.unwrap();
    assert!(kills > 0, "no queue-drain process was found to kill");

    let figures = reconcile(&watcher, &users, &writes, Duration::from_secs(120)).await;
    let redelivered = log_lines("QueueDrainLogGroupName", since, "message received")
        .await
        .iter()
        .filter(|l| l["message"] == "message received")
        .filter(|l| l["receive_count"].as_str().and_then(|n| n.parse::<u32>().ok()).unwrap_or(0) > 1)
        .count();
    report(&format!("queue_drain_killed(kills={kills},redelivered={redelivered})"), &figures);
    assert!(redelivered > 0, "no message was received twice: no batch was in flight when killed");
    assert_eq!((figures.attempted, figures.answered), (300, 300), "{figures:?}");
    figures.assert_exact();
}
