//! Fault 1: the Redis node that holds the test users' lists is shut down in the middle of a
//! stream of writes, and restarted. Every write is still accepted (the cache is not the
//! durability point), and every accepted post is stored exactly once. The fault is proven: the
//! node held the users' list keys, PING fails while it is down and answers after the restart,
//! and post-write counted cache errors for that node.

use adapters::{RedisConfig, RedisShards};
use integration::faults::{
    RedisNode, Stream, Watcher, Writes, log_lines, now_ms, reconcile, report, when_sent,
};
use integration::{cache_nodes, unique};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn redis_node_killed_and_restarted_mid_load() {
    let since = now_ms();
    let users = integration::writers("f1u", 10).await;
    // The node the ring gives most of these users' lists: the one whose loss they feel.
    let shards = RedisShards::new(&cache_nodes(), RedisConfig::default()).unwrap();
    let topology = shards.topology().await;
    let mut owned: HashMap<String, Vec<String>> = HashMap::new();
    for u in &users {
        let key = domain::keys::post_list(&u.sub);
        owned.entry(topology.node_for(&key).unwrap().to_owned()).or_default().push(key);
    }
    let (addr, keys) = owned.into_iter().max_by_key(|(_, k)| k.len()).unwrap();
    let mut node = RedisNode::open(&addr).await;

    let watcher = Watcher::start(&users).await;
    let writes = Arc::new(Writes::default());
    let load = tokio::spawn(Stream::new(&users, 240, 8, unique("f1")).run(Arc::clone(&writes)));
    when_sent(&writes, 60).await;
    let held = node.holds(&keys).await;
    assert!(held > 0, "{addr} holds none of the users' lists {keys:?}");
    node.shutdown().await;
    assert!(!node.ping().await, "{addr} still answers after SHUTDOWN");
    when_sent(&writes, 160).await;
    assert!(node.restart().await, "{addr} did not answer after the restart");
    load.await.unwrap();

    let figures = reconcile(&watcher, &users, &writes, Duration::from_secs(90)).await;
    // post-write felt the outage on that node (EMF, summed per invocation).
    // EMF values are JSON numbers written as floats (1.0).
    let errors: f64 = log_lines("PostWriteLogGroupName", since, "CacheErrors")
        .await
        .iter()
        .filter(|l| l.get("_aws").is_some() && l["node"] == addr.as_str())
        .filter_map(|l| l["CacheErrors"].as_f64())
        .sum();
    report(&format!("redis_node_killed(node={addr},lists_held={held},cache_errors={errors})"), &figures);
    assert!(errors > 0.0, "no CacheErrors counted for {addr}");
    assert_eq!(figures.refused, 0, "a cache node down never refuses a write: {figures:?}");
    assert_eq!(figures.attempted, 240);
    figures.assert_exact();
}
