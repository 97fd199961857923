//! Fault 1: the Redis node that holds the test users' lists fails, three ways: every node
//! flushed; the node hung (SIGSTOP: it holds connections and answers nothing, the worst case
//! for timeouts); the node shut down in the middle of a stream of writes, and restarted empty.
//! No request fails. Every write is accepted (the cache is not the durability point) and every
//! accepted post is stored exactly once; a reader whose list is on that node gets pages of
//! exactly its posts, in order, answered from the table while the node is out and by the cache
//! again once it is back. The fault is proven: the node held the lists, PING fails while it is
//! hung or down and answers after, and post-write counted cache errors for that node while it
//! was down. One test, so nothing else in this binary runs while the cache is disturbed (test
//! binaries run one after another).

use adapters::{RedisConfig, RedisShards};
use domain::keys::post_list;
use domain::posts::Post;
use integration::faults::{
    RedisNode, Stream, Watcher, Writes, log_lines, now_ms, reconcile, report, when_sent,
};
use integration::{Writer, cache_nodes, get_json, http, redis_node, unique};
use serde_json::{Value, json};
use snowflake::layout::{WorkerSlot, compose};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::task::{JoinError, JoinHandle};

/// The user's posts page (all of them: the reader writes fewer than 100).
async fn page(c: &reqwest::Client, uid: &str) -> Value {
    let (s, b) = get_json(c, &format!("/v1/users/{uid}/posts?limit=100")).await;
    assert_eq!(s, 200, "{b}");
    b
}

fn id_of(post: &Value) -> u64 {
    post["post_id"].as_str().unwrap().parse().unwrap()
}

async fn wait_for_ping(node: &RedisNode) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !node.ping().await {
        assert!(Instant::now() < deadline, "{} did not answer PING within 10 s", node.addr);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads and writes while the owner of the user's list is out: reads before any write show
/// exactly `before`; after each write the page shows the older posts exactly, and of this
/// phase's new posts only ones that were answered (the queue may not have delivered the
/// newest to the table yet), in order. `expected` (newest first) gains the new posts.
async fn during_outage(c: &reqwest::Client, w: &Writer, expected: &mut Vec<Value>, tag: &str) {
    let before = json!(expected);
    for _ in 0..3 {
        assert_eq!(page(c, &w.sub).await["posts"], before, "{tag}: a read during the outage");
    }
    let mut fresh = HashSet::new();
    for i in 0..4 {
        let contents = format!("{tag} {i}");
        let (s, b, _) = w.post(c, "/v1/posts", &json!({"contents": contents}), &[]).await;
        assert_eq!(
            (s, b["contents"].as_str(), b["user_id"].as_str()),
            (201, Some(contents.as_str()), Some(w.sub.as_str())),
            "{b}"
        );
        fresh.insert(id_of(&b));
        expected.insert(0, b);
        let got = page(c, &w.sub).await["posts"].clone();
        let shown: HashSet<u64> = got.as_array().unwrap().iter().map(id_of).collect();
        let want: Vec<&Value> =
            expected.iter().filter(|p| !fresh.contains(&id_of(p)) || shown.contains(&id_of(p))).collect();
        assert_eq!(got, json!(want), "{tag}: the page after write {i}");
    }
}

/// [`during_outage`] on a task of its own: a failed assertion in it must not keep the caller
/// from bringing the node back before the test fails ([`resume`]).
fn spawn_outage(
    c: &reqwest::Client,
    w: &Writer,
    expected: &[Value],
    tag: &'static str,
) -> JoinHandle<Vec<Value>> {
    let (c, w, mut expected) = (c.clone(), w.clone(), expected.to_vec());
    tokio::spawn(async move {
        during_outage(&c, &w, &mut expected, tag).await;
        expected
    })
}

/// The reader's posts after the outage (newest first), or the outage task's panic, resumed.
fn resume(joined: Result<Vec<Value>, JoinError>) -> Vec<Value> {
    joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Polls until the page shows exactly `expected` (the queue delivered everything).
async fn settles_to(c: &reqwest::Client, uid: &str, expected: &[Value], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = page(c, uid).await["posts"].clone();
        if got == json!(expected) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: the page never showed exactly the posts written: {got}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The cache serves again once the functions' breakers close: a new post shows at the top of
/// the very next read (before the queue could have delivered it to the table), and the page is
/// still exactly every post written (poll, with a deadline).
async fn cache_serves_again(c: &reqwest::Client, w: &Writer, expected: &mut Vec<Value>, tag: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in 0.. {
        let (s, b, _) = w.post(c, "/v1/posts", &json!({"contents": format!("back {tag} {i}")}), &[]).await;
        assert_eq!(s, 201, "{b}");
        let id = id_of(&b);
        expected.insert(0, b);
        let got = page(c, &w.sub).await["posts"].clone();
        if got.as_array().unwrap().first().map(id_of) == Some(id) {
            break;
        }
        assert!(Instant::now() < deadline, "{tag}: the cache did not serve again within 30 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    settles_to(c, &w.sub, expected, &format!("{tag}, once the cache served again")).await;
}

/// Four posts of `uid` straight into the table, an hour old so that every post written later is
/// newer; newest first, as the API answers.
async fn seed(uid: &str) -> Vec<Value> {
    let store = integration::seed::SeedTable::of_stack().await;
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64 - 3_600_000;
    let seeded: Vec<Post> = (0..4)
        .map(|s| {
            let id = compose(ms - snowflake::EPOCH_UNIX_MS, WorkerSlot::new(1, 2).unwrap(), s);
            Post {
                user_id: uid.to_owned(),
                post_id: id,
                contents: format!("seeded {s}"),
                url: None,
                scrap: None,
                created_at: domain::posts::write::created_at(id),
            }
        })
        .collect();
    for post in &seeded {
        store.put(post).await.unwrap();
    }
    seeded.iter().rev().map(|p| serde_json::to_value(p).unwrap()).collect()
}

#[tokio::test]
async fn a_failing_redis_node_never_fails_a_request_nor_loses_a_post() {
    let c = http();
    // Eleven users, so that the node the ring gives most of their lists (the one whose loss
    // they feel) has at least four: one is the reader, the others are among the stream's ten.
    let mut users = integration::writers("f1u", 11).await;
    // The functions' own ring over the same nodes.
    let shards = RedisShards::new(&cache_nodes(), RedisConfig::default()).unwrap();
    let topology = shards.topology().await;
    let mut owned: HashMap<String, Vec<String>> = HashMap::new();
    for u in &users {
        owned
            .entry(topology.node_for(&post_list(&u.sub)).unwrap().to_owned())
            .or_default()
            .push(u.sub.clone());
    }
    let (addr, subs) = owned.into_iter().max_by_key(|(_, s)| s.len()).unwrap();
    let reader = users.remove(users.iter().position(|u| u.sub == subs[0]).unwrap());
    let keys: Vec<String> = subs[1..].iter().map(|s| post_list(s)).collect();
    let uid = reader.sub.clone();
    let mut expected = seed(&uid).await;

    // Flushed: the page comes back the same, from the table.
    let before = page(&c, &uid).await;
    assert_eq!(before["posts"], json!(expected), "the seeded posts, newest first");
    for node in cache_nodes() {
        let _: () = redis::cmd("FLUSHALL").query_async(&mut redis_node(&node).await).await.unwrap();
    }
    assert_eq!(page(&c, &uid).await, before);
    // The read above filled the list from the table: it is on the node, and only there.
    let list_key = post_list(&uid);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut conn = redis_node(&addr).await;
        let exists: i64 = redis::cmd("EXISTS").arg(&list_key).query_async(&mut conn).await.unwrap();
        if exists == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{addr} never held {list_key}");
        assert_eq!(page(&c, &uid).await, before);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for other in cache_nodes().into_iter().filter(|n| *n != addr) {
        let exists: i64 =
            redis::cmd("EXISTS").arg(&list_key).query_async(&mut redis_node(&other).await).await.unwrap();
        assert_eq!(exists, 0, "{list_key} is on {other} too: the test's ring disagrees with the functions'");
    }
    let mut node = RedisNode::open(&addr).await;

    // Hung, before any load: the reader alone meets it. PING is asserted once the node runs
    // again, so that a failure cannot leave it stopped for the binaries after this one.
    assert!(node.freeze(), "SIGSTOP {addr}");
    let hung_ping = node.ping().await;
    let hung = spawn_outage(&c, &reader, &expected, "hung").await;
    assert!(node.thaw(), "SIGCONT {addr}");
    expected = resume(hung);
    assert!(!hung_ping, "{addr} still answers PING after SIGSTOP");
    wait_for_ping(&node).await;
    settles_to(&c, &uid, &expected, "after the hung node resumed").await;
    cache_serves_again(&c, &reader, &mut expected, "after the resume").await;

    // Down (SHUTDOWN NOSAVE: connections refused, everything it held gone) in the middle of the
    // stream, the reader reading and writing alongside; started again, empty, later.
    let watcher = Watcher::start(&users).await;
    let writes = Arc::new(Writes::default());
    let load = tokio::spawn(Stream::new(&users, 240, 8, unique("f1")).run(Arc::clone(&writes)));
    when_sent(&writes, 60).await;
    let held = node.holds(&keys).await;
    assert!(held > 0, "{addr} holds none of the users' lists {keys:?}");
    // The node's cache errors from here on are the shutdown's, not the hang's.
    let since = now_ms();
    node.shutdown().await;
    let down_ping = node.ping().await;
    let down = spawn_outage(&c, &reader, &expected, "down");
    when_sent(&writes, 160).await;
    let down = down.await;
    let restarted = node.restart().await;
    expected = resume(down);
    assert!(!down_ping, "{addr} still answers after SHUTDOWN");
    assert!(restarted, "{addr} did not answer after the restart");
    settles_to(&c, &uid, &expected, "after the node restarted").await;
    cache_serves_again(&c, &reader, &mut expected, "after the restart").await;
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
