//! The cache nodes, from the environment: a fixed list, or discovery through the ElastiCache API.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `CACHE_NODES` | empty | `host:port,...`: used as is, discovery off (local runs) |
//! | `CACHE_DISCOVERY_PREFIX` | empty | with no `CACHE_NODES`: replication groups / clusters whose id starts with this are the nodes |
//! | `CACHE_DISCOVERY_INTERVAL_SECONDS` | 60 | how long a discovered list is used before it is asked again |
//!
//! With neither set the functions run without a cache.

use adapters::discovery::{Discovery, NodeSource, RefreshConfig};
use adapters::{RedisConfig, RedisShards};
use chassis::{ConfigError, Env};
use std::sync::Arc;
use std::time::Duration;

pub fn shards(env: &Env, sdk: &aws_config::SdkConfig) -> Result<Arc<RedisShards>, ConfigError> {
    let fixed = RedisShards::parse_nodes(&env.string_or("CACHE_NODES", ""));
    let prefix = env.string_or("CACHE_DISCOVERY_PREFIX", "");
    let interval = Duration::from_secs(env.number_or("CACHE_DISCOVERY_INTERVAL_SECONDS", 60, 5..=3_600)?);
    let invalid =
        |e: String| ConfigError::Invalid { name: "CACHE_NODES".into(), value: fixed.join(","), reason: e };
    let shards = if !fixed.is_empty() || prefix.trim().is_empty() {
        RedisShards::new(&fixed, RedisConfig::default()).map_err(invalid)?
    } else {
        let source = NodeSource::discovered(
            Discovery::new(sdk, prefix.trim()),
            RefreshConfig { interval, ..RefreshConfig::default() },
        );
        RedisShards::discovered(source, RedisConfig::default())
    };
    Ok(Arc::new(shards))
}
