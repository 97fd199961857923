//! The fault tests' common part: a bounded stream of logical writes through the deployed API
//! (each with unique contents, optionally retried under its own `Idempotency-Key`), a watcher
//! that sees when each post reaches the table, and the reconciliation of every write with the
//! table by contents once the queues are empty.
//!
//! A write is *answered* (a 201, with its post id), *refused* (no 201 after its attempts), or a
//! *surprise* (an answer the API never gives for a write: a 4xx, a body that is not a post).
//! Reconciliation counts, per write and by contents: lost (answered, not stored), duplicated
//! (stored more than once), phantoms (stored but never answered, or not written at all),
//! mismatched (stored under another id or user than answered), and ids answered twice.

use crate::{Writer, api_url, contract, http, sdk, stack_output};
use adapters::DynamoPosts;
use domain::posts::{Post, PostStore};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a stream's clients treat a write that is not answered 201.
#[derive(Debug, Clone, Copy)]
pub enum Retries {
    /// One attempt, no key: a 503 is final.
    Never,
    /// Each write carries an `Idempotency-Key` of its own and is sent again, under that key, on
    /// 409, 429, 5xx or a transport error, up to `attempts` times in all.
    WithKey { attempts: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Answered(u64),
    /// The last status seen (0: a transport error).
    Refused(u16),
    Surprise(u16, String),
}

/// One logical write.
#[derive(Debug, Clone)]
pub struct Write {
    pub user: usize,
    pub contents: String,
    pub outcome: Outcome,
    pub attempts: u32,
    /// Statuses of the attempts, in order (0: a transport error).
    pub statuses: Vec<u16>,
    pub answered_at: Option<Instant>,
}

/// What a stream of writes saw.
#[derive(Debug, Default)]
pub struct Writes {
    /// Writes started, for pacing faults (`when_sent`).
    pub sent: AtomicUsize,
    pub done: Mutex<Vec<Write>>,
}

impl Writes {
    pub fn all(&self) -> Vec<Write> {
        self.done.lock().unwrap().clone()
    }

    pub fn count(&self, f: impl Fn(&Write) -> bool) -> usize {
        self.done.lock().unwrap().iter().filter(|w| f(w)).count()
    }
}

/// A stream: `total` writes spread over `users`, `concurrency` at a time; `tag` makes every
/// contents unique.
#[derive(Debug, Clone)]
pub struct Stream {
    pub users: Vec<Writer>,
    pub total: usize,
    pub concurrency: usize,
    pub tag: String,
    pub retries: Retries,
    /// No write starts after this moment (a stream bounded by time, not count).
    pub until: Option<Instant>,
}

impl Stream {
    pub fn new(users: &[Writer], total: usize, concurrency: usize, tag: String) -> Self {
        Self { users: users.to_vec(), total, concurrency, tag, retries: Retries::Never, until: None }
    }

    /// Writes until `duration` has passed (or `total` writes started).
    pub fn for_duration(self, duration: Duration) -> Self {
        Self { until: Some(Instant::now() + duration), ..self }
    }

    pub fn with_retries(self, attempts: u32) -> Self {
        Self { retries: Retries::WithKey { attempts }, ..self }
    }

    /// Runs the stream to its end. Every writer task's result is checked: a task that panicked
    /// fails the test here, so a shrunken stream cannot pass.
    pub async fn run(self, writes: Arc<Writes>) {
        let next = Arc::new(AtomicUsize::new(0));
        let this = Arc::new(self);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..this.concurrency {
            let (this, writes, next) = (Arc::clone(&this), Arc::clone(&writes), Arc::clone(&next));
            tasks.spawn(async move {
                let c = http();
                loop {
                    if this.until.is_some_and(|t| Instant::now() >= t) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= this.total {
                        break;
                    }
                    writes.sent.fetch_add(1, Ordering::SeqCst);
                    let write = this.write(&c, i).await;
                    writes.done.lock().unwrap().push(write);
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.expect("a writer task panicked");
        }
        let started = writes.sent.load(Ordering::SeqCst);
        assert_eq!(writes.done.lock().unwrap().len(), started, "every write started is recorded");
    }

    async fn write(&self, c: &reqwest::Client, i: usize) -> Write {
        let user = i % self.users.len();
        let contents = format!("{} {i}", self.tag);
        let key = format!("{}-{i}", self.tag);
        let (attempts, key) = match self.retries {
            Retries::Never => (1, None),
            Retries::WithKey { attempts } => (attempts.max(1), Some(key.as_str())),
        };
        let mut write = Write {
            user,
            contents,
            outcome: Outcome::Refused(0),
            attempts: 0,
            statuses: vec![],
            answered_at: None,
        };
        for attempt in 0..attempts {
            write.attempts += 1;
            let (status, body) = post_raw(c, &self.users[user], &write.contents, key).await;
            write.statuses.push(status);
            match status {
                201 => {
                    write.outcome = match body["post_id"].as_str().and_then(|v| v.parse().ok()) {
                        Some(id) if body["contents"] == write.contents.as_str() => Outcome::Answered(id),
                        _ => Outcome::Surprise(201, body.to_string()),
                    };
                    write.answered_at = Some(Instant::now());
                    return write;
                }
                0 | 409 | 429 | 500..=599 => write.outcome = Outcome::Refused(status),
                _ => {
                    write.outcome = Outcome::Surprise(status, body.to_string());
                    return write;
                }
            }
            if attempt + 1 < attempts {
                tokio::time::sleep(Duration::from_millis(250u64 << attempt.min(4))).await;
            }
        }
        write
    }
}

/// POST /v1/posts as `user`: (status, JSON body or Null). A transport error (a timeout, a
/// closed connection) is status 0. Answers the API documents are checked against the contract;
/// a function that died mid-request may get a bare gateway answer, which is only recorded.
async fn post_raw(
    c: &reqwest::Client,
    user: &Writer,
    contents: &str,
    key: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = c
        .post(format!("{}/v1/posts", api_url()))
        .header("Authorization", user.bearer())
        .json(&json!({"contents": contents}));
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    let Ok(res) = req.send().await else { return (0, serde_json::Value::Null) };
    let status = res.status().as_u16();
    let ctype = res.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Ok(text) = res.text().await else { return (0, serde_json::Value::Null) };
    if matches!(status, 201 | 400 | 401 | 403 | 409 | 413 | 422 | 503) {
        contract::check("POST", "/v1/posts", status, ctype.as_deref(), text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// Waits until `writes.sent` reaches `n` (or 120 s passed).
pub async fn when_sent(writes: &Writes, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while writes.sent.load(Ordering::SeqCst) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the posts table for the stream's users every [`Watcher::EVERY`] while a test runs, and
/// keeps when each post was first seen there: the recovery time of a post is that moment less
/// the moment its 201 arrived.
pub struct Watcher {
    store: DynamoPosts,
    subs: Vec<String>,
    state: Arc<Mutex<Watched>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Watched {
    latest: Vec<Post>,
    first_seen: HashMap<(String, u64), Instant>,
}

impl Watcher {
    pub const EVERY: Duration = Duration::from_millis(500);

    pub async fn start(users: &[Writer]) -> Self {
        let store = DynamoPosts::from_sdk(&sdk().await, stack_output("PostsTableName").await);
        let subs: Vec<String> = users.iter().map(|u| u.sub.clone()).collect();
        let state = Arc::new(Mutex::new(Watched::default()));
        let task = {
            let (store, subs, state) = (store.clone(), subs.clone(), Arc::clone(&state));
            tokio::spawn(async move {
                loop {
                    if let Ok(posts) = scan(&store, &subs).await {
                        record(&state, posts);
                    }
                    tokio::time::sleep(Self::EVERY).await;
                }
            })
        };
        Self { store, subs, state, task }
    }

    /// A fresh read of the table (also recorded).
    pub async fn now(&self) -> Vec<Post> {
        let posts = scan(&self.store, &self.subs).await.expect("posts table");
        record(&self.state, posts.clone());
        posts
    }

    fn first_seen(&self, user: &str, id: u64) -> Option<Instant> {
        self.state.lock().unwrap().first_seen.get(&(user.to_owned(), id)).copied()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn scan(store: &DynamoPosts, subs: &[String]) -> Result<Vec<Post>, domain::posts::StoreError> {
    let mut all = Vec::new();
    for sub in subs {
        all.extend(store.page(sub, None, 100_000).await?);
    }
    Ok(all)
}

fn record(state: &Mutex<Watched>, posts: Vec<Post>) {
    let now = Instant::now();
    let mut s = state.lock().unwrap();
    for p in &posts {
        s.first_seen.entry((p.user_id.clone(), p.post_id)).or_insert(now);
    }
    s.latest = posts;
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Figures {
    pub attempted: usize,
    pub answered: usize,
    pub refused: usize,
    pub surprises: usize,
    /// Requests sent in all (retries included).
    pub requests: usize,
    pub stored: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub phantoms: usize,
    pub mismatched: usize,
    pub answered_twice: usize,
    /// Both queues were seen empty before the final count.
    pub quiet: bool,
    /// 201 to first seen in the table, ms: p50, p99, max.
    pub recovery_ms: Option<(u64, u64, u64)>,
    pub parked: usize,
}

impl Figures {
    pub fn line(&self, name: &str) -> String {
        let recovery = self
            .recovery_ms
            .map_or("n/a".to_owned(), |(p50, p99, max)| format!("p50={p50}ms,p99={p99}ms,max={max}ms"));
        format!(
            "fault={name} attempted={} answered_201={} refused={} surprises={} requests={} stored={} lost={} duplicated={} phantoms={} mismatched={} answered_twice={} parked={} quiet={} recovery={recovery}",
            self.attempted,
            self.answered,
            self.refused,
            self.surprises,
            self.requests,
            self.stored,
            self.lost,
            self.duplicated,
            self.phantoms,
            self.mismatched,
            self.answered_twice,
            self.parked,
            self.quiet,
        )
    }

    /// Nothing lost, stored twice, made up or changed; every write accounted for.
    pub fn assert_exact(&self) {
        assert_eq!(
            self.answered + self.refused + self.surprises,
            self.attempted,
            "every write is answered or refused: {self:?}"
        );
        assert_eq!(self.surprises, 0, "{self:?}");
        assert!(self.quiet, "the queues never emptied: {self:?}");
        assert_eq!(
            (self.lost, self.duplicated, self.phantoms, self.mismatched, self.answered_twice),
            (0, 0, 0, 0, 0),
            "lost, duplicated, phantoms, mismatched, answered twice: {self:?}"
        );
        assert_eq!(self.stored, self.answered, "{self:?}");
    }
}

/// Compares every write with what the table holds for the stream's users.
pub fn compare(users: &[Writer], writes: &[Write], stored: &[Post]) -> Figures {
    let mut by_contents: HashMap<&str, Vec<&Post>> = HashMap::new();
    for p in stored {
        by_contents.entry(p.contents.as_str()).or_default().push(p);
    }
    let mut f = Figures { attempted: writes.len(), stored: stored.len(), ..Figures::default() };
    let mut ids: HashMap<u64, usize> = HashMap::new();
    for w in writes {
        f.requests += w.attempts as usize;
        let found = by_contents.remove(w.contents.as_str()).unwrap_or_default();
        match &w.outcome {
            Outcome::Answered(id) => {
                f.answered += 1;
                *ids.entry(*id).or_default() += 1;
                match found.as_slice() {
                    [] => f.lost += 1,
                    [p] => {
                        let same = p.post_id == *id && p.user_id == users[w.user].sub && p.url.is_none();
                        f.mismatched += usize::from(!same);
                    }
                    [_, rest @ ..] => f.duplicated += rest.len(),
                }
            }
            Outcome::Refused(_) => {
                f.refused += 1;
                f.phantoms += found.len();
            }
            Outcome::Surprise(..) => {
                f.surprises += 1;
                f.phantoms += found.len();
            }
        }
    }
    // Stored posts that no write of the stream sent.
    f.phantoms += by_contents.values().map(Vec::len).sum::<usize>();
    f.answered_twice = ids.values().filter(|n| **n > 1).map(|n| n - 1).sum();
    f
}

/// Reconciles the stream with the table: waits until nothing answered is missing (or `wait`
/// passed), then until the posts queue and its dead-letter queue are empty (visible, in flight
/// and delayed), then counts again, so late duplicates and phantoms are seen too.
pub async fn reconcile(watcher: &Watcher, users: &[Writer], writes: &Writes, wait: Duration) -> Figures {
    let all = writes.all();
    let deadline = Instant::now() + wait;
    loop {
        let figures = compare(users, &all, &watcher.now().await);
        if figures.lost == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Watcher::EVERY).await;
    }
    let quiet = queues_empty(Duration::from_secs(120)).await;
    let mut figures = compare(users, &all, &watcher.now().await);
    figures.quiet = quiet;
    figures.recovery_ms = recovery(watcher, users, &all);
    figures
}

fn recovery(watcher: &Watcher, users: &[Writer], writes: &[Write]) -> Option<(u64, u64, u64)> {
    let mut ms: Vec<u64> = writes
        .iter()
        .filter_map(|w| {
            let Outcome::Answered(id) = w.outcome else { return None };
            let seen = watcher.first_seen(&users[w.user].sub, id)?;
            Some(seen.saturating_duration_since(w.answered_at?).as_millis() as u64)
        })
        .collect();
    ms.sort_unstable();
    let at = |q: f64| ms.get(((ms.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied();
    Some((at(0.5)?, at(0.99)?, *ms.last()?))
}

/// The messages a queue holds: visible, in flight, delayed.
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> [u64; 3] {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::All)
        .send()
        .await
        .expect("queue attributes");
    let attrs = out.attributes().cloned().unwrap_or_default();
    let n = |a: A| attrs.get(&a).and_then(|v| v.parse().ok()).unwrap_or(0);
    [
        n(A::ApproximateNumberOfMessages),
        n(A::ApproximateNumberOfMessagesNotVisible),
        n(A::ApproximateNumberOfMessagesDelayed),
    ]
}

/// Waits until the posts queue and the dead-letter queue are both empty on two reads a second
/// apart; false if they were not within `wait`.
pub async fn queues_empty(wait: Duration) -> bool {
    let sqs = aws_sdk_sqs::Client::new(&sdk().await);
    let queues = [stack_output("PostsQueueUrl").await, stack_output("PostsDeadLetterQueueUrl").await];
    let deadline = Instant::now() + wait;
    let mut empty_reads = 0;
    while Instant::now() < deadline {
        let mut total = 0;
        for q in &queues {
            total += queue_depth(&sqs, q).await.iter().sum::<u64>();
        }
        empty_reads = if total == 0 { empty_reads + 1 } else { 0 };
        if empty_reads >= 2 {
            return true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    false
}

/// Prints the figures line and keeps it for the run's report (`FAULT_FIGURES` file, if set).
pub fn report(name: &str, figures: &Figures) {
    keep(&figures.line(name));
}

/// Prints a figures line and appends it to the run's `FAULT_FIGURES` file, if set.
pub fn keep(line: &str) {
    println!("{line}");
    if let Ok(path) = std::env::var("FAULT_FIGURES") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// The pid of a function's bootstrap processes run by the local emulator (by the function name
/// in their environment).
pub fn function_pids(function_name: &str) -> Vec<i32> {
    let needle = format!("AWS_LAMBDA_FUNCTION_NAME={function_name}");
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Kills every running process of a function (SIGKILL); how many were killed.
pub fn kill_function(function_name: &str) -> usize {
    function_pids(function_name)
        .into_iter()
        .filter(|pid| {
            std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .is_ok_and(|s| s.success())
        })
        .count()
}

/// The JSON log lines of the log group (a stack output name, e.g. `QueueDrainLogGroupName`)
/// since `since_ms` (epoch ms) that contain `term`, parsed.
pub async fn log_lines(group_output: &str, since_ms: u64, term: &str) -> Vec<serde_json::Value> {
    log_events(&stack_output(group_output).await, since_ms, Some(term)).await
}

/// Every JSON log line of the log group `group` since `since_ms` (epoch ms), or only those that
/// contain `term`, parsed.
pub async fn log_events(group: &str, since_ms: u64, term: Option<&str>) -> Vec<serde_json::Value> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk().await);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(i64::try_from(since_ms).unwrap_or(i64::MAX))
            .set_filter_pattern(term.map(|t| format!("\"{t}\"")))
            .set_next_token(token.clone())
            .send()
            .await
            .expect("log events");
        for e in page.events() {
            if let Some(v) = e.message().and_then(|m| serde_json::from_str(m.trim()).ok()) {
                out.push(v);
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() || page.events().is_empty() {
            return out;
        }
    }
}

/// Kills the function's processes as soon as one runs, polling every 300 ms for at most
/// `within`; how many were killed.
pub async fn kill_soon(function_name: &str, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let killed = kill_function(function_name);
        if killed > 0 {
            return killed;
        }
    }
    0
}

/// One redis-server of the local stack, to stop, freeze and bring back as it was.
pub struct RedisNode {
    pub addr: String,
    conn: redis::aio::MultiplexedConnection,
    pidfile: String,
    logfile: String,
    dir: String,
}

impl RedisNode {
    pub async fn open(addr: &str) -> Self {
        let mut conn = crate::redis_node(addr).await;
        let pidfile = config(&mut conn, "pidfile").await;
        let (logfile, dir) = (config(&mut conn, "logfile").await, config(&mut conn, "dir").await);
        Self { addr: addr.to_owned(), conn, pidfile, logfile, dir }
    }

    /// How many of `keys` the node holds.
    pub async fn holds(&mut self, keys: &[String]) -> u32 {
        let mut n = 0;
        for k in keys {
            n += redis::cmd("EXISTS").arg(k).query_async::<u32>(&mut self.conn).await.unwrap();
        }
        n
    }

    /// Whether a new connection gets PONG within 2 s.
    pub async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(format!("redis://{}/", self.addr)) else { return false };
        let attempt = async {
            let mut conn = client.get_multiplexed_async_connection().await.ok()?;
            redis::cmd("PING").query_async::<String>(&mut conn).await.ok()
        };
        matches!(tokio::time::timeout(Duration::from_secs(2), attempt).await, Ok(Some(p)) if p == "PONG")
    }

    /// SHUTDOWN NOSAVE: the node and everything it held are gone.
    pub async fn shutdown(&mut self) {
        let _: Result<(), _> = redis::cmd("SHUTDOWN").arg("NOSAVE").query_async(&mut self.conn).await;
    }

    /// Starts the node again with its original settings (empty) and waits for its PONG.
    pub async fn restart(&mut self) -> bool {
        let port = self.addr.rsplit_once(':').map(|(_, p)| p.to_owned()).unwrap_or_default();
        let started = std::process::Command::new("redis-server")
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
            .args(["--pidfile", &self.pidfile, "--logfile", &self.logfile, "--dir", &self.dir])
            .status()
            .is_ok_and(|s| s.success());
        for _ in 0..50 {
            if started && self.ping().await {
                self.conn = crate::redis_node(&self.addr).await;
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    fn signal(&self, sig: &str) -> bool {
        let Ok(pid) = std::fs::read_to_string(&self.pidfile) else { return false };
        std::process::Command::new("kill").args([sig, pid.trim()]).status().is_ok_and(|s| s.success())
    }

    /// SIGSTOP: the node keeps its connections and data but answers nothing.
    pub fn freeze(&self) -> bool {
        self.signal("-STOP")
    }

    pub fn thaw(&self) -> bool {
        self.signal("-CONT")
    }
}

async fn config(conn: &mut redis::aio::MultiplexedConnection, name: &str) -> String {
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query_async(conn).await.unwrap();
    v.get(1).cloned().unwrap_or_default()
}

/// Epoch milliseconds now.
pub use crate::now_ms;

/// The fault proxy of the test stack (`FAULT_PROXY_URL`).
pub struct Proxy(String);

impl Proxy {
    pub fn from_env() -> Self {
        let url = std::env::var("FAULT_PROXY_URL")
            .expect("FAULT_PROXY_URL is not set: this test needs the local test stack (make test)");
        Self(url)
    }

    pub async fn configure(&self, config: serde_json::Value) {
        let res = http().post(format!("{}/_fault/config", self.0)).json(&config).send().await.unwrap();
        assert!(res.status().is_success(), "proxy config {config}: {}", res.status());
    }

    /// All faults off, stats zeroed.
    pub async fn reset(&self) {
        self.configure(json!({"throttle": 0.0, "error500": 0.0, "slow": 0.0, "lost_answer": 0.0, "lost_timeout": 0.0, "unprocessed": 0.0, "only_target": []})).await;
        http().post(format!("{}/_fault/reset", self.0)).send().await.unwrap();
    }

    pub async fn stats(&self) -> serde_json::Value {
        http().get(format!("{}/_fault/stats", self.0)).send().await.unwrap().json().await.unwrap()
    }
}

/// Faults of `kind` the proxy injected into `operation`, from its stats.
pub fn injected(stats: &serde_json::Value, operation: &str, kind: &str) -> u64 {
    stats["faults_by_operation"][operation][kind].as_u64().unwrap_or(0)
}
