//! The fault tests' common part: a bounded stream of writes through the deployed API, and the
//! reconciliation of what was answered 201 with what the posts table holds at the end.

use crate::{Writer, http, sdk, stack_output};
use adapters::DynamoPosts;
use domain::posts::PostStore;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a stream of writes saw.
#[derive(Debug, Default)]
pub struct Writes {
    pub sent: AtomicUsize,
    /// (user, post id, contents) of every 201.
    pub accepted: Mutex<Vec<(String, u64, String)>>,
    /// Contents of every 503 (refused: must never show).
    pub refused: Mutex<Vec<String>>,
    /// Anything else: (status, body).
    pub other: Mutex<Vec<(u16, String)>>,
}

impl Writes {
    pub fn accepted(&self) -> Vec<(String, u64, String)> {
        self.accepted.lock().unwrap().clone()
    }
}

/// Writes `total` posts spread over `users`, `concurrency` at a time; `tag` makes every
/// contents unique. Progress is visible in `writes.sent` while it runs.
pub async fn write_stream(
    users: Vec<Writer>,
    total: usize,
    concurrency: usize,
    tag: String,
    writes: Arc<Writes>,
) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (users, tag, writes, next) = (users.clone(), tag.clone(), Arc::clone(&writes), Arc::clone(&next));
        tasks.spawn(async move {
            let c = http();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    break;
                }
                let user = &users[i % users.len()];
                let contents = format!("{tag} {i}");
                writes.sent.fetch_add(1, Ordering::SeqCst);
                let (s, b, _) = user.post(&c, "/v1/posts", &json!({"contents": contents}), &[]).await;
                match s {
                    201 => {
                        let id = b["post_id"].as_str().and_then(|v| v.parse().ok()).unwrap_or(0);
                        writes.accepted.lock().unwrap().push((user.sub.clone(), id, contents));
                    }
                    503 => writes.refused.lock().unwrap().push(contents),
                    _ => writes.other.lock().unwrap().push((s, b.to_string())),
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Waits until `writes.sent` reaches `n` (or the stream ended).
pub async fn when_sent(writes: &Writes, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while writes.sent.load(Ordering::SeqCst) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub sent: usize,
    pub accepted: usize,
    pub persisted: usize,
    pub duplicates: usize,
    pub lost: usize,
    /// Posts in the table that were never answered 201 (a refused write that was kept).
    pub phantoms: usize,
    pub parked: usize,
}

impl Figures {
    pub fn line(&self, name: &str) -> String {
        format!(
            "fault={name} sent={} accepted_201={} persisted={} duplicates={} lost={} phantoms={} parked={}",
            self.sent, self.accepted, self.persisted, self.duplicates, self.lost, self.phantoms, self.parked
        )
    }
}

/// Compares the 201s with the table, polling until nothing is missing or `wait` passed.
pub async fn reconcile(users: &[Writer], writes: &Writes, wait: Duration) -> Figures {
    let store = DynamoPosts::from_sdk(&sdk().await, stack_output("PostsTableName").await);
    let accepted = writes.accepted();
    let answered: HashSet<(String, u64)> = accepted.iter().map(|(u, id, _)| (u.clone(), *id)).collect();
    let deadline = Instant::now() + wait;
    loop {
        let mut stored = Vec::new();
        for user in users {
            stored.extend(store.page(&user.sub, None, 100_000).await.unwrap());
        }
        let mut by_contents: HashMap<&str, usize> = HashMap::new();
        for p in &stored {
            *by_contents.entry(p.contents.as_str()).or_default() += 1;
        }
        let keys: HashSet<(String, u64)> = stored.iter().map(|p| (p.user_id.clone(), p.post_id)).collect();
        let figures = Figures {
            sent: writes.sent.load(Ordering::SeqCst),
            accepted: accepted.len(),
            persisted: answered.iter().filter(|k| keys.contains(*k)).count(),
            duplicates: by_contents.values().filter(|n| **n > 1).map(|n| n - 1).sum(),
            lost: answered.iter().filter(|k| !keys.contains(*k)).count(),
            phantoms: keys.iter().filter(|k| !answered.contains(*k)).count(),
            parked: 0,
        };
        if figures.lost == 0 || Instant::now() > deadline {
            return figures;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Prints the figures line and keeps it for the run's report (`FAULT_FIGURES` file, if set).
pub fn report(name: &str, figures: &Figures) {
    let line = figures.line(name);
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
