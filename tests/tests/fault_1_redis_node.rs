//! Fault 1: a Redis node is shut down in the middle of a stream of writes, and restarted.
//! Every write is still accepted (the cache is not the durability point), and every accepted
//! post is persisted exactly once.

use integration::faults::{Writes, reconcile, report, when_sent, write_stream};
use integration::{cache_nodes, redis_node, unique};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn redis_node_killed_and_restarted_mid_load() {
    let users = integration::writers("f1u", 10).await;
    let writes = Arc::new(Writes::default());
    let load = tokio::spawn(write_stream(users.clone(), 240, 8, unique("f1"), Arc::clone(&writes)));

    let node = cache_nodes().into_iter().next().unwrap();
    let port = node.rsplit_once(':').unwrap().1.to_owned();
    let mut conn = redis_node(&node).await;
    let config: Vec<String> =
        redis::cmd("CONFIG").arg("GET").arg("pidfile").query_async(&mut conn).await.unwrap();
    let pidfile = config.get(1).cloned().unwrap_or_default();
    let config: Vec<String> =
        redis::cmd("CONFIG").arg("GET").arg("logfile").query_async(&mut conn).await.unwrap();
    let logfile = config.get(1).cloned().unwrap_or_default();
    let config: Vec<String> =
        redis::cmd("CONFIG").arg("GET").arg("dir").query_async(&mut conn).await.unwrap();
    let dir = config.get(1).cloned().unwrap_or_default();

    when_sent(&writes, 60).await;
    let _: Result<(), _> = redis::cmd("SHUTDOWN").arg("NOSAVE").query_async(&mut conn).await;
    when_sent(&writes, 160).await;
    let restarted = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--pidfile", &pidfile, "--logfile", &logfile, "--dir", &dir])
        .status()
        .unwrap();
    assert!(restarted.success());
    load.await.unwrap();

    let other = writes.other.lock().unwrap().clone();
    assert!(other.is_empty(), "only 201s expected: {other:?}");
    let figures = reconcile(&users, &writes, Duration::from_secs(60)).await;
    report("redis_node_killed", &figures);
    assert_eq!(writes.refused.lock().unwrap().len(), 0, "a cache node down never refuses a write");
    assert_eq!((figures.lost, figures.duplicates, figures.phantoms), (0, 0, 0), "{figures:?}");
    assert_eq!(figures.accepted, 240);
}
