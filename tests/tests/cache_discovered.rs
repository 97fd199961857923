//! The functions' cache on discovered nodes: a replication group created through the
//! ElastiCache API is found by its prefix and serves reads (on its replica) and writes (on its
//! primary). The local emulator answers every endpoint with the address it was started with
//! (`REDIS_HOST`/`REDIS_PORT`, set by the stack script to the stack's first Redis node).

use adapters::discovery::sdk::Client;
use adapters::discovery::{Discovery, NodeSource, RefreshConfig};
use adapters::{RedisConfig, RedisShards};
use domain::preview::PreviewCache;
use integration::{sdk, unique};
use std::time::Duration;

#[tokio::test]
async fn discovered_nodes_serve_the_cache() {
    let config = sdk().await;
    let client = Client::new(&config);
    let prefix = unique("disc").to_ascii_lowercase();
    let group = format!("{prefix}-cache-1");
    client
        .create_replication_group()
        .replication_group_id(&group)
        .replication_group_description("discovered shards test")
        .engine("redis")
        .cache_node_type("cache.t4g.micro")
        .num_cache_clusters(2)
        .send()
        .await
        .unwrap();
    let outcome = tokio::spawn({
        let (config, prefix) = (config.clone(), prefix.clone());
        async move {
            let source = NodeSource::discovered(Discovery::new(&config, &prefix), RefreshConfig::default());
            let shards = RedisShards::discovered(source, RedisConfig::default());
            assert!(!shards.is_empty(), "discovery counts as a cache");
            let topology = shards.topology().await;
            assert!(topology.node_for("post:1").is_some(), "a node was discovered");
            assert!(topology.read_node_for("post:1").is_some());
            let key = format!("test:{prefix}");
            shards.put(&key, "v", Duration::from_secs(30)).await.unwrap();
            assert_eq!(shards.get(&key).await.unwrap().as_deref(), Some("v"));
        }
    })
    .await;
    client.delete_replication_group().replication_group_id(&group).send().await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
