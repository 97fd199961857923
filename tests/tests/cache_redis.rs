//! The sharded Redis adapter against the stack's real redis-server nodes (CACHE_NODES).

use adapters::{RedisConfig, RedisRateLimiter, RedisShards};
use domain::scrap::{PreviewCache, RateDecision, RateLimiter};
use integration::unique;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn nodes() -> Vec<String> {
    let list = std::env::var("CACHE_NODES").expect("CACHE_NODES is not set (make test exports it)");
    RedisShards::parse_nodes(&list)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

#[tokio::test]
async fn rate_limit_is_atomic_under_concurrency() {
    let shards = Arc::new(RedisShards::new(&nodes(), RedisConfig::default()).unwrap());
    let limiter = Arc::new(RedisRateLimiter::new(Arc::clone(&shards), 10, 5));
    let caller = unique("ip:203.0.113.9");
    let now = now_ms();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (limiter, caller) = (Arc::clone(&limiter), caller.clone());
        tasks.spawn(async move { limiter.hit(&caller, now).await.unwrap() });
    }
    let mut allowed = 0;
    let mut retry = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            RateDecision::Allowed => allowed += 1,
            RateDecision::Limited { retry_after_s } => retry.push(retry_after_s),
        }
    }
    assert_eq!(allowed, 10, "exactly the limit passes, however many ask at once");
    assert_eq!(retry.len(), 30);
    assert!(retry.iter().all(|s| (1..=300).contains(s)), "{retry:?}");
    // The window slides: five minutes on, the caller may scrap again.
    assert_eq!(limiter.hit(&caller, now + 5 * 60_000 + 1).await.unwrap(), RateDecision::Allowed);
}

#[tokio::test]
async fn keys_spread_over_the_nodes_and_round_trip() {
    let shards = RedisShards::new(&nodes(), RedisConfig::default()).unwrap();
    let run = unique("t");
    for i in 0..30 {
        let key = format!("test:{run}:{i}");
        shards.put(&key, &format!("v{i}"), Duration::from_secs(60)).await.unwrap();
        assert_eq!(shards.get(&key).await.unwrap(), Some(format!("v{i}")));
    }
    let lock = format!("lock:{run}");
    assert!(shards.lock(&lock, Duration::from_secs(5)).await.unwrap());
    assert!(!shards.lock(&lock, Duration::from_secs(5)).await.unwrap());
    shards.unlock(&lock).await.unwrap();
    assert!(shards.lock(&lock, Duration::from_secs(5)).await.unwrap());
}

#[tokio::test]
async fn a_dead_node_fails_fast_after_tripping() {
    // Port 1 on loopback: nothing listens, connections are refused.
    let config = RedisConfig { cooldown: Duration::from_secs(30), ..RedisConfig::default() };
    let shards = RedisShards::new(&["127.0.0.1:1".to_owned()], config).unwrap();
    for _ in 0..config.failures_to_trip {
        assert!(shards.get("post:1").await.is_err());
    }
    let started = Instant::now();
    let e = shards.get("post:1").await.unwrap_err();
    assert!(e.0.contains("cooling down"), "{e}");
    assert!(started.elapsed() < Duration::from_millis(5));
}
