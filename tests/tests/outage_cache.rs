//! The cache failing under the posts API: flushed, and the node holding the user's list hung
//! and then shut down in the middle of writes and reads. Requests keep succeeding and pages keep
//! showing exactly the user's posts, in order. One test, so nothing else in this binary runs
//! while the cache is disturbed (test binaries run one after another).

use adapters::{RedisConfig, RedisShards};
use domain::posts::Post;
use integration::{Writer, cache_nodes, get_json, http, redis_node, writer};
use serde_json::{Value, json};
use snowflake::layout::{WorkerSlot, compose};
use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The user's posts page (all of them: the test writes fewer than 100).
async fn page(c: &reqwest::Client, uid: &str) -> Value {
    let (s, b) = get_json(c, &format!("/v1/users/{uid}/posts?limit=100")).await;
    assert_eq!(s, 200, "{b}");
    b
}

fn id_of(post: &Value) -> u64 {
    post["post_id"].as_str().unwrap().parse().unwrap()
}

/// Whether the node answers PING within a second (a fresh connection each time).
async fn ping(addr: &str) -> bool {
    let attempt = async {
        let client = redis::Client::open(format!("redis://{addr}/"))?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    matches!(tokio::time::timeout(Duration::from_secs(1), attempt).await, Ok(Ok(p)) if p == "PONG")
}

async fn wait_for_ping(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ping(addr).await {
        assert!(Instant::now() < deadline, "{addr} did not answer PING within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One redis-server of the stack, and what it takes to start it again as the stack did.
struct RedisNode {
    addr: String,
    port: String,
    pid: i32,
    pidfile: String,
    logfile: String,
    dir: String,
}

impl RedisNode {
    async fn of(addr: &str) -> Self {
        let mut conn = redis_node(addr).await;
        let mut config = Vec::new();
        for name in ["pidfile", "logfile", "dir"] {
            let pair: Vec<String> =
                redis::cmd("CONFIG").arg("GET").arg(name).query_async(&mut conn).await.unwrap();
            config.push(pair.get(1).cloned().unwrap_or_default());
        }
        let [pidfile, logfile, dir] = <[String; 3]>::try_from(config).unwrap();
        let info: String = redis::cmd("INFO").arg("server").query_async(&mut conn).await.unwrap();
        let pid = info.lines().find_map(|l| l.strip_prefix("process_id:")).unwrap().trim().parse().unwrap();
        let port = addr.rsplit_once(':').unwrap().1.to_owned();
        Self { addr: addr.to_owned(), port, pid, pidfile, logfile, dir }
    }

    fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill").args([sig, &self.pid.to_string()]).status().unwrap();
        assert!(status.success(), "kill {sig} {}", self.pid);
    }

    async fn shutdown(&self) {
        let _: Result<(), _> =
            redis::cmd("SHUTDOWN").arg("NOSAVE").query_async(&mut redis_node(&self.addr).await).await;
    }

    /// Starts the node again with the settings `scripts/stack.py` gives it.
    async fn restart(&mut self) {
        let started = std::process::Command::new("redis-server")
            .args(["--port", &self.port, "--bind", "127.0.0.1", "--daemonize", "yes"])
            .args(["--pidfile", &self.pidfile, "--logfile", &self.logfile, "--dir", &self.dir])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "yes"])
            .status()
            .unwrap();
        assert!(started.success());
        wait_for_ping(&self.addr).await;
        self.pid = Self::of(&self.addr).await.pid;
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

#[tokio::test]
async fn flushed_or_stopped_cache_nodes_never_fail_a_request() {
    let (c, w) = (http(), writer("cache_outage").await);
    let store = integration::seed::SeedTable::of_stack().await;
    let uid = w.sub.clone();
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64 - 3_600_000;
    let seeded: Vec<Post> = (0..4)
        .map(|s| {
            let id = compose(ms - snowflake::EPOCH_UNIX_MS, WorkerSlot::new(1, 2).unwrap(), s);
            Post {
                user_id: uid.clone(),
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
    // Newest first, as the API answers.
    let mut expected: Vec<Value> = seeded.iter().rev().map(|p| serde_json::to_value(p).unwrap()).collect();

    // Flushed: the page comes back the same, from the table.
    let before = page(&c, &uid).await;
    assert_eq!(before["posts"], json!(expected), "the seeded posts, newest first");
    for node in cache_nodes() {
        let _: () = redis::cmd("FLUSHALL").query_async(&mut redis_node(&node).await).await.unwrap();
    }
    assert_eq!(page(&c, &uid).await, before);

    // The node that holds the user's list, by the functions' own ring over the same nodes.
    let shards = RedisShards::new(&cache_nodes(), RedisConfig::default()).unwrap();
    let list_key = domain::keys::post_list(&uid);
    let owner = shards.topology().await.node_for(&list_key).unwrap().to_owned();
    // The read above filled the list from the table: it is on the owner, and only there.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut conn = redis_node(&owner).await;
        let exists: i64 = redis::cmd("EXISTS").arg(&list_key).query_async(&mut conn).await.unwrap();
        if exists == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{owner} never held {list_key}");
        assert_eq!(page(&c, &uid).await, before);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for other in cache_nodes().into_iter().filter(|n| *n != owner) {
        let exists: i64 =
            redis::cmd("EXISTS").arg(&list_key).query_async(&mut redis_node(&other).await).await.unwrap();
        assert_eq!(exists, 0, "{list_key} is on {other} too: the test's ring disagrees with the functions'");
    }
    let mut node = RedisNode::of(&owner).await;

    // Hung (SIGSTOP: it holds connections and answers nothing, the worst case for timeouts).
    node.signal("-STOP");
    let hung = tokio::spawn({
        let (c, w, owner, mut expected) = (c.clone(), w.clone(), owner.clone(), expected.clone());
        async move {
            assert!(!ping(&owner).await, "{owner} still answers PING after SIGSTOP");
            during_outage(&c, &w, &mut expected, "hung").await;
            expected
        }
    })
    .await;
    node.signal("-CONT");
    expected = hung.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    wait_for_ping(&owner).await;
    settles_to(&c, &uid, &expected, "after the hung node resumed").await;
    cache_serves_again(&c, &w, &mut expected, "after the resume").await;

    // Down (SHUTDOWN: connections refused), then started again with its original settings.
    node.shutdown().await;
    let down = tokio::spawn({
        let (c, w, owner, mut expected) = (c.clone(), w.clone(), owner.clone(), expected.clone());
        async move {
            assert!(!ping(&owner).await, "{owner} still answers PING after SHUTDOWN");
            during_outage(&c, &w, &mut expected, "down").await;
            expected
        }
    })
    .await;
    node.restart().await;
    expected = down.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    assert!(ping(&owner).await, "{owner} answers PING after the restart");
    settles_to(&c, &uid, &expected, "after the node restarted").await;

    cache_serves_again(&c, &w, &mut expected, "after the restart").await;
}
