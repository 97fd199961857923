//! The sharded Redis adapter against the stack's real redis-server nodes (CACHE_NODES).

use adapters::{RedisConfig, RedisRateLimiter, RedisShards};
use domain::preview::{PreviewCache, RateDecision, RateLimiter};
use integration::now_ms;
use integration::unique;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn nodes() -> Vec<String> {
    let list = std::env::var("CACHE_NODES").expect("CACHE_NODES is not set (make test exports it)");
    RedisShards::parse_nodes(&list)
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
    // Every hit is in this minute: it leaves the window when minute `this + 5` starts.
    let expected = ((now / 60_000 + 5) * 60_000 - now).div_ceil(1_000);
    assert!(retry.iter().all(|s| *s == expected), "expected {expected} s each: {retry:?}");
    // The window slides: five minutes on, the caller may scrap again.
    assert_eq!(limiter.hit(&caller, now + 5 * 60_000 + 1).await.unwrap(), RateDecision::Allowed);
}

/// The window slides minute by minute: half way through it the old hits still count, the
/// Retry-After is what remains until the oldest counted minute leaves (not a full window), and
/// once that minute has left, the newer hits still count. Times are injected, so no sleeping.
#[tokio::test]
async fn a_half_slid_window_still_limits_and_says_exactly_how_long() {
    let shards = Arc::new(RedisShards::new(&nodes(), RedisConfig::default()).unwrap());
    let (limit, window_minutes) = (4, 5);
    let limiter = RedisRateLimiter::new(shards, limit, window_minutes);
    let caller = unique("ip:198.51.100.7");
    let m0 = now_ms() / 60_000;
    let t0 = m0 * 60_000 + 10_000; // 10 s into minute m0
    // The limit reached: two hits in minute m0, two in minute m0 + 2.
    for t in [t0, t0 + 1, t0 + 120_000, t0 + 120_001] {
        assert_eq!(
            limiter.hit(&caller, t).await.unwrap(),
            RateDecision::Allowed,
            "hit at t0 + {} ms",
            t - t0
        );
    }
    // Half the window on (2.5 min): still limited. Minute m0 leaves the window when minute
    // m0 + 5 starts, 4 min 50 s after t0: 140 s from now, not a full window's 300.
    let frees = (m0 + window_minutes) * 60_000;
    let half = t0 + window_minutes * 60_000 / 2;
    let limited = |retry_after_s| RateDecision::Limited { retry_after_s };
    assert_eq!(limiter.hit(&caller, half).await.unwrap(), limited(140));
    assert_eq!(limiter.hit(&caller, frees - 1_001).await.unwrap(), limited(2), "rounded up");
    assert_eq!(limiter.hit(&caller, frees - 1).await.unwrap(), limited(1));
    // Refused hits did not count: once minute m0 left, its two hits no longer count, and the
    // two of minute m0 + 2 still do, so exactly two more pass.
    assert_eq!(limiter.hit(&caller, frees).await.unwrap(), RateDecision::Allowed);
    assert_eq!(limiter.hit(&caller, frees + 1).await.unwrap(), RateDecision::Allowed);
    // Now minute m0 + 2 is the oldest counted: it leaves when minute m0 + 7 starts.
    assert_eq!(limiter.hit(&caller, frees + 2).await.unwrap(), limited(120));
    assert_eq!(limiter.hit(&caller, frees + 60_000).await.unwrap(), limited(60));
    // After the rest of the window, allowed again.
    assert_eq!(limiter.hit(&caller, (m0 + 7) * 60_000).await.unwrap(), RateDecision::Allowed);
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

/// A node that dropped the adapter's connection (restarted, or closed it as idle) costs no
/// call: the next one reconnects and is answered, rather than failing once per warm function
/// instance per node (a scrap call then went uncounted by the rate limiter). The connection is
/// dropped by the server (`CLIENT KILL ID`), so other tests' connections stay up.
#[tokio::test]
async fn a_connection_the_node_dropped_costs_no_call() {
    let shards = RedisShards::new(&nodes(), RedisConfig::default()).unwrap();
    let addr = nodes()[0].clone();
    let client_id = |c: redis::aio::ConnectionManager| async move {
        let mut c = c;
        redis::cmd("CLIENT").arg("ID").query_async::<u64>(&mut c).await
    };
    let id = shards.exec_on(&addr, client_id).await.unwrap();
    let admin = redis::Client::open(format!("redis://{addr}/")).unwrap();
    let mut admin = admin.get_multiplexed_async_connection().await.unwrap();
    let killed: u64 =
        redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query_async(&mut admin).await.unwrap();
    assert_eq!(killed, 1, "the node dropped the adapter's connection {id}");
    // Let the client side see the close, as a warm instance would after a quiet spell.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = shards.exec_on(&addr, client_id).await;
    let again = again.unwrap_or_else(|e| panic!("the call after the drop failed: {e}"));
    assert_ne!(again, id, "answered on a new connection");
}

/// A node that restarted after the adapter's reconnect failed (it was still down then) is
/// served by the next call, not a failure more: the manager keeps the failed attempt's error
/// until a call starts another. A redis-server of its own, so the stack's nodes stay up.
#[tokio::test]
async fn a_node_back_after_a_failed_reconnect_serves_the_next_call() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let start = || {
        std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server")
    };
    let ping = |c: redis::aio::ConnectionManager| async move {
        let mut c = c;
        redis::cmd("PING").query_async::<String>(&mut c).await
    };
    let answers = |addr: String| async move {
        let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while client.get_multiplexed_async_connection().await.is_err() {
            assert!(Instant::now() < deadline, "redis-server on {addr} never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut node = start();
    answers(addr.clone()).await;
    // Trips only after many failures: this is about the connection, not the breaker.
    let config = RedisConfig { failures_to_trip: 100, ..RedisConfig::default() };
    let shards = RedisShards::new(std::slice::from_ref(&addr), config).unwrap();
    assert_eq!(shards.exec_on(&addr, ping).await.unwrap(), "PONG");
    node.kill().unwrap();
    node.wait().unwrap();
    // Calls while it is down fail, and leave the manager holding a failed reconnect.
    for _ in 0..2 {
        let e = shards.exec_on(&addr, ping).await.unwrap_err();
        assert!(!e.0.contains("PONG"), "{e}");
    }
    // Down for a while, as a restart is: the manager's reconnect attempts (with their own
    // backoff) have all failed by the time the node is back.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut node = start();
    answers(addr.clone()).await;
    let next = shards.exec_on(&addr, ping).await;
    let _ = node.kill();
    let _ = node.wait();
    assert_eq!(next.unwrap_or_else(|e| panic!("the first call after the restart failed: {e}")), "PONG");
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

#[tokio::test]
async fn user_lists_order_and_page_exactly_above_2_pow_53() {
    use adapters::{PostCacheConfig, RedisPosts};
    use domain::posts::PostCache;
    let shards = Arc::new(RedisShards::new(&nodes(), RedisConfig::default()).unwrap());
    let posts = RedisPosts::new(shards, PostCacheConfig { list_max: 8, ..PostCacheConfig::default() });
    let uid = unique("order");
    // Ids one apart in their lowest bits: as doubles (a sorted-set score) they are all equal.
    let base: u64 = 725_617_227_714_740_224;
    let ids: Vec<u64> = (0..6).map(|i| base + i).collect();
    assert!(
        ids.iter().all(|id| *id as f64 == base as f64),
        "the reference's scores could not tell these apart"
    );

    assert_eq!(posts.list_page(&uid, None, 10).await.unwrap(), None, "no list yet");
    assert!(!posts.list_add(&uid, base).await.unwrap(), "no add without a list");
    let ticket = posts.list_reserve(&uid).await.unwrap();
    assert!(posts.list_fill(&uid, &ticket, &ids[..3]).await.unwrap());
    for id in &ids[3..] {
        assert!(posts.list_add(&uid, *id).await.unwrap());
    }
    let page = posts.list_page(&uid, None, 4).await.unwrap().unwrap();
    assert_eq!(page.ids, vec![base + 5, base + 4, base + 3, base + 2]);
    assert!(!page.full);
    let next = posts.list_page(&uid, Some(base + 2), 4).await.unwrap().unwrap();
    assert_eq!(next.ids, vec![base + 1, base], "the cursor is exclusive and exact");

    // Bounded: beyond list_max the oldest ids go.
    for i in 6..12 {
        posts.list_add(&uid, base + i).await.unwrap();
    }
    let full = posts.list_page(&uid, None, 100).await.unwrap().unwrap();
    assert_eq!(full.ids, (4..12).rev().map(|i| base + i).collect::<Vec<_>>());
    assert!(full.full);

    // An empty list is remembered as empty.
    let empty = unique("empty");
    let ticket = posts.list_reserve(&empty).await.unwrap();
    assert!(posts.list_fill(&empty, &ticket, &[]).await.unwrap());
    assert_eq!(posts.list_page(&empty, None, 10).await.unwrap().map(|p| p.ids), Some(vec![]));
}

/// A list filled from a table read must not miss a post added while the table was being read:
/// the add to the absent list voids the reservation, so the stale fill writes nothing.
#[tokio::test]
async fn a_fill_from_a_stale_table_read_never_hides_a_post_added_meanwhile() {
    use adapters::{PostCacheConfig, RedisPosts};
    use domain::posts::PostCache;
    let shards = Arc::new(RedisShards::new(&nodes(), RedisConfig::default()).unwrap());
    let posts = RedisPosts::new(shards, PostCacheConfig::default());
    let uid = unique("fill-race");
    let (older, persisted): (u64, u64) = (725_617_227_714_740_224, 725_617_227_714_740_225);

    // A reader reserves and reads the table (it holds `older` only); meanwhile the drain
    // persists `persisted` and adds it, finding no list.
    let stale = posts.list_reserve(&uid).await.unwrap();
    assert!(!posts.list_add(&uid, persisted).await.unwrap(), "no list to add to");
    assert!(!posts.list_fill(&uid, &stale, &[older]).await.unwrap(), "the stale fill is refused");
    assert_eq!(posts.list_page(&uid, None, 10).await.unwrap(), None, "the list stays absent");

    // The next reader's table read holds both; its fill stands.
    let fresh = posts.list_reserve(&uid).await.unwrap();
    assert!(posts.list_fill(&uid, &fresh, &[persisted, older]).await.unwrap());
    assert_eq!(posts.list_page(&uid, None, 10).await.unwrap().unwrap().ids, vec![persisted, older]);
    // A reservation is used once; the list now exists, so later fills change nothing.
    assert!(!posts.list_fill(&uid, &fresh, &[older]).await.unwrap());

    // Of two readers racing, only the newest reservation fills.
    let other = unique("fill-two");
    let (first, second) =
        (posts.list_reserve(&other).await.unwrap(), posts.list_reserve(&other).await.unwrap());
    assert!(!posts.list_fill(&other, &first, &[older]).await.unwrap());
    assert!(posts.list_fill(&other, &second, &[older]).await.unwrap());
}

/// A real replica (`redis-server --replicaof`) beside the stack's first node: reads (MGET, the
/// list page script) reach the replica, which serves them once replication caught up. (Writes
/// cannot be told apart there: the replication stream counts as writes on the replica too; a
/// write sent to a replica would fail with READONLY, which the read-back would show.)
#[tokio::test]
async fn reads_go_to_the_replica_and_writes_to_the_primary() {
    use adapters::discovery::{CacheNode, Discovery, NodeSource};
    use adapters::{PostCacheConfig, RedisPosts};
    use domain::posts::{Lookup, Post, PostCache};

    let primary = nodes().into_iter().next().unwrap();
    let (host, port) = primary.rsplit_once(':').unwrap();
    let replica_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new("redis-server")
        .args([
            "--port",
            &replica_port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--replicaof", host, port])
        // A replica writes the primary's snapshot to its dir on sync: keep it out of the checkout.
        .args(["--dir", &std::env::temp_dir().to_string_lossy()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server");
    let replica = format!("127.0.0.1:{replica_port}");
    let outcome = tokio::spawn({
        let (primary, replica) = (primary.clone(), replica.clone());
        async move {
            let source = NodeSource::<Discovery>::fixed(vec![CacheNode {
                primary: primary.clone(),
                replica: Some(replica.clone()),
            }]);
            let shards = Arc::new(RedisShards::discovered(source, RedisConfig::default()));
            let posts = RedisPosts::new(Arc::clone(&shards), PostCacheConfig::default());
            let uid = unique("replica");
            let post = Post {
                user_id: uid.clone(),
                post_id: 725_617_227_714_740_224,
                contents: "r".into(),
                url: None,
                scrap: None,
                created_at: String::new(),
            };
            // Wait for the replica to sync, then write through the primary and read back.
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                posts.posts_put(std::slice::from_ref(&post)).await.unwrap();
                let ticket = posts.list_reserve(&uid).await.unwrap();
                posts.list_fill(&uid, &ticket, &[post.post_id]).await.unwrap();
                let seen = posts.posts_get(&[post.post_id]).await;
                let listed = posts.list_page(&uid, None, 10).await.ok().flatten();
                if seen == vec![Lookup::Hit(post.clone())]
                    && listed.is_some_and(|l| l.ids == vec![post.post_id])
                {
                    break;
                }
                assert!(Instant::now() < deadline, "the replica never served the reads");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let mut r = integration::redis_node(&replica).await;
            let stats: String = redis::cmd("INFO").arg("commandstats").query_async(&mut r).await.unwrap();
            assert!(stats.contains("cmdstat_mget") && stats.contains("cmdstat_eval_ro"), "{stats}");
        }
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
