//! The watcher: the posts table polled while a fault test runs, to know when each post first
//! reached it.

use crate::{Writer, sdk, stack_output};
use adapters::DynamoPosts;
use domain::posts::{Post, PostStore};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

    pub(super) fn first_seen(&self, user: &str, id: u64) -> Option<Instant> {
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
