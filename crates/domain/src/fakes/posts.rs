//! The posts table, cache and queue in memory (`posts` module ports).

use crate::cache::CacheError;
use crate::issuer::IdSource;
use crate::posts::drain::{PostBatchStore, Redeliveries};
use crate::posts::write::Previewer;
use crate::posts::{
    FillTicket, ListPage, Lookup, Post, PostCache, PostQueue, PostStore, QueueError, SendError, StoreError,
    Trace,
};
use crate::preview::Preview;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug, Default)]
pub struct MemoryTable {
    pub posts: Mutex<BTreeMap<(String, u64), Post>>,
    pub down: AtomicBool,
}

impl MemoryTable {
    pub fn insert(&self, p: Post) {
        lock(&self.posts).insert((p.user_id.clone(), p.post_id), p);
    }
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) { Err(StoreError("down".into())) } else { Ok(()) }
    }
    fn user(&self, user_id: &str) -> Vec<Post> {
        lock(&self.posts).values().filter(|p| p.user_id == user_id).rev().cloned().collect()
    }
}

/// The drain's batch writes land in the same table the reads page through.
impl PostBatchStore for MemoryTable {
    const MAX_BATCH: usize = 25;
    async fn put_batch(&self, posts: &[Post]) -> Result<Vec<usize>, StoreError> {
        self.check()?;
        for p in posts {
            self.insert(p.clone());
        }
        Ok(Vec::new())
    }
}

/// The messages asked to come back early (receipt handle, delay), in order.
#[derive(Debug, Default)]
pub struct RecordedRedeliveries(pub Mutex<Vec<(String, u32)>>);

impl Redeliveries for RecordedRedeliveries {
    async fn redeliver(&self, after: &[(String, u32)]) -> Result<(), QueueError> {
        lock(&self.0).extend_from_slice(after);
        Ok(())
    }
}

impl PostStore for MemoryTable {
    async fn page(&self, user_id: &str, before: Option<u64>, limit: usize) -> Result<Vec<Post>, StoreError> {
        self.check()?;
        Ok(self
            .user(user_id)
            .into_iter()
            .filter(|p| before.is_none_or(|b| p.post_id < b))
            .take(limit)
            .collect())
    }
    async fn newest_ids(&self, user_id: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        self.check()?;
        Ok(self.user(user_id).into_iter().take(limit).map(|p| p.post_id).collect())
    }
    async fn get_many(&self, user_id: &str, ids: &[u64]) -> Result<Vec<Post>, StoreError> {
        self.check()?;
        let posts = lock(&self.posts);
        Ok(ids.iter().filter_map(|id| posts.get(&(user_id.to_owned(), *id)).cloned()).collect())
    }
}

#[derive(Debug, Default)]
pub struct MemoryPostCache {
    pub posts: Mutex<HashMap<u64, Post>>,
    pub lists: Mutex<HashMap<String, BTreeSet<u64>>>,
    /// The newest fill reservation of each absent list.
    pub reserved: Mutex<HashMap<String, u64>>,
    pub tickets: AtomicU64,
    pub list_max: usize,
    pub down: AtomicBool,
}

impl MemoryPostCache {
    pub fn new(list_max: usize) -> Self {
        Self { list_max, ..Self::default() }
    }
    fn check(&self) -> Result<(), CacheError> {
        if self.down.load(Ordering::SeqCst) { Err(CacheError("down".into())) } else { Ok(()) }
    }
    /// Creates a list outright, as a reservation followed by its fill would.
    pub fn seed_list(&self, user_id: &str, ids: &[u64]) {
        let mut l: BTreeSet<u64> = ids.iter().copied().collect();
        self.trim(&mut l);
        lock(&self.lists).insert(user_id.to_owned(), l);
    }
    pub fn list(&self, user_id: &str) -> Option<Vec<u64>> {
        lock(&self.lists).get(user_id).map(|l| l.iter().rev().copied().collect())
    }
    fn trim(&self, list: &mut BTreeSet<u64>) {
        while list.len() > self.list_max {
            list.pop_first();
        }
    }
}

/// One cache shared by a flow and a test's racing port.
impl PostCache for &MemoryPostCache {
    async fn list_page(&self, u: &str, b: Option<u64>, l: usize) -> Result<Option<ListPage>, CacheError> {
        (*self).list_page(u, b, l).await
    }
    async fn list_reserve(&self, u: &str) -> Result<FillTicket, CacheError> {
        (*self).list_reserve(u).await
    }
    async fn list_fill(&self, u: &str, t: &FillTicket, ids: &[u64]) -> Result<bool, CacheError> {
        (*self).list_fill(u, t, ids).await
    }
    async fn list_add(&self, u: &str, id: u64) -> Result<bool, CacheError> {
        (*self).list_add(u, id).await
    }
    async fn list_remove(&self, u: &str, ids: &[u64]) -> Result<(), CacheError> {
        (*self).list_remove(u, ids).await
    }
    async fn posts_get(&self, ids: &[u64]) -> Vec<Lookup<Post>> {
        (*self).posts_get(ids).await
    }
    async fn posts_put(&self, posts: &[Post]) -> Result<(), CacheError> {
        (*self).posts_put(posts).await
    }
}

impl PostCache for MemoryPostCache {
    async fn list_page(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Option<ListPage>, CacheError> {
        self.check()?;
        Ok(lock(&self.lists).get(user_id).map(|l| ListPage {
            ids: l.iter().rev().filter(|id| before.is_none_or(|b| **id < b)).take(limit).copied().collect(),
            full: l.len() >= self.list_max,
        }))
    }
    async fn list_reserve(&self, user_id: &str) -> Result<FillTicket, CacheError> {
        self.check()?;
        let token = self.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        lock(&self.reserved).insert(user_id.to_owned(), token);
        Ok(FillTicket(token))
    }
    async fn list_fill(&self, user_id: &str, ticket: &FillTicket, ids: &[u64]) -> Result<bool, CacheError> {
        self.check()?;
        let mut lists = lock(&self.lists);
        let mut reserved = lock(&self.reserved);
        if lists.contains_key(user_id) || reserved.get(user_id) != Some(&ticket.0) {
            return Ok(false);
        }
        reserved.remove(user_id);
        let mut l: BTreeSet<u64> = ids.iter().copied().collect();
        self.trim(&mut l);
        lists.insert(user_id.to_owned(), l);
        Ok(true)
    }
    async fn list_add(&self, user_id: &str, id: u64) -> Result<bool, CacheError> {
        self.check()?;
        let mut lists = lock(&self.lists);
        let Some(l) = lists.get_mut(user_id) else {
            lock(&self.reserved).remove(user_id);
            return Ok(false);
        };
        l.insert(id);
        while l.len() > self.list_max {
            l.pop_first();
        }
        Ok(true)
    }
    async fn list_remove(&self, user_id: &str, ids: &[u64]) -> Result<(), CacheError> {
        self.check()?;
        if let Some(l) = lock(&self.lists).get_mut(user_id) {
            for id in ids {
                l.remove(id);
            }
        }
        Ok(())
    }
    async fn posts_get(&self, ids: &[u64]) -> Vec<Lookup<Post>> {
        if self.check().is_err() {
            return ids.iter().map(|_| Lookup::Unavailable).collect();
        }
        let posts = lock(&self.posts);
        ids.iter().map(|id| posts.get(id).cloned().map_or(Lookup::Miss, Lookup::Hit)).collect()
    }
    async fn posts_put(&self, posts: &[Post]) -> Result<(), CacheError> {
        self.check()?;
        let mut map = lock(&self.posts);
        for p in posts {
            map.insert(p.post_id, p.clone());
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct MemoryQueue {
    pub sent: Mutex<Vec<Post>>,
    pub refuse: AtomicBool,
    /// Takes the message, then answers with an error: a send whose answer was lost.
    pub lose_answer: AtomicBool,
    /// A size limit, as the real queue has: a post whose JSON is longer is refused as
    /// `TooLarge` and not taken (the post's JSON stands in for the message that wraps it).
    pub max_bytes: Option<usize>,
}

impl MemoryQueue {
    pub fn sent(&self) -> Vec<Post> {
        lock(&self.sent).clone()
    }
}

impl PostQueue for MemoryQueue {
    async fn send(&self, post: &Post, _: &Trace) -> Result<(), SendError> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(QueueError("refused".into()).into());
        }
        if let Some(limit) = self.max_bytes {
            let bytes = serde_json::to_vec(post).map_or(usize::MAX, |json| json.len());
            if bytes > limit {
                return Err(SendError::TooLarge { bytes, limit });
            }
        }
        lock(&self.sent).push(post.clone());
        if self.lose_answer.load(Ordering::SeqCst) {
            return Err(QueueError("timed out".into()).into());
        }
        Ok(())
    }
}

/// Ids counting up from a start.
#[derive(Debug)]
pub struct CountingIds(pub AtomicU64);

impl IdSource for CountingIds {
    async fn issue(&self, n: usize) -> Result<Vec<u64>, crate::issuer::IssueError> {
        let first = self.0.fetch_add(n as u64, Ordering::SeqCst);
        Ok((first..first + n as u64).collect())
    }
}

/// Previews from a fixed map.
#[derive(Debug, Default)]
pub struct FixedPreviews(pub HashMap<String, Preview>);

impl Previewer for FixedPreviews {
    async fn preview(&self, url: &str, _: &str) -> Option<Preview> {
        self.0.get(url).cloned()
    }
}
