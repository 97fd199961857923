//! A stream of logical writes through the deployed API and what each write got: answered,
//! refused or a surprise, with every attempt's status.

use crate::{Writer, api_url, contract, http};
use serde_json::json;
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
    /// The last answer's error `code` and `Retry-After` header: what a refused client was told.
    pub code: Option<String>,
    pub retry_after: Option<String>,
    /// First attempt sent, last answer in: which writes ran wholly inside a fault's window.
    pub started_at: Instant,
    pub finished_at: Instant,
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
            code: None,
            retry_after: None,
            started_at: Instant::now(),
            finished_at: Instant::now(),
        };
        for attempt in 0..attempts {
            write.attempts += 1;
            let (status, body, retry_after) = post_raw(c, &self.users[user], &write.contents, key).await;
            write.finished_at = Instant::now();
            write.statuses.push(status);
            write.code = body["code"].as_str().map(str::to_owned);
            write.retry_after = retry_after;
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

/// POST /v1/posts as `user`: (status, JSON body or Null, `Retry-After`). A transport error (a
/// timeout, a closed connection) is status 0. Answers the API documents are checked against the
/// contract; a function that died mid-request may get a bare gateway answer, which is only
/// recorded.
async fn post_raw(
    c: &reqwest::Client,
    user: &Writer,
    contents: &str,
    key: Option<&str>,
) -> (u16, serde_json::Value, Option<String>) {
    let mut req = c
        .post(format!("{}/v1/posts", api_url()))
        .header("Authorization", user.bearer())
        .json(&json!({"contents": contents}));
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    let Ok(res) = req.send().await else { return (0, serde_json::Value::Null, None) };
    let status = res.status().as_u16();
    let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (ctype, retry_after) = (header("content-type"), header("retry-after"));
    let Ok(text) = res.text().await else { return (0, serde_json::Value::Null, None) };
    if matches!(status, 201 | 400 | 401 | 403 | 409 | 413 | 422 | 503) {
        contract::check("POST", "/v1/posts", status, ctype.as_deref(), text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null), retry_after)
}

/// Waits until `writes.sent` reaches `n` (or 120 s passed).
pub async fn when_sent(writes: &Writes, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while writes.sent.load(Ordering::SeqCst) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
