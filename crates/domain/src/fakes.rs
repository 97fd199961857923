//! In-memory implementations of the ports, with the same semantics as the real stores.

use crate::lease::{Lease, LeaseError, LeaseStore};
use snowflake::WorkerSlot;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    pub holder: String,
    pub expires_at: u64,
    pub last_ts: u64,
}

/// A lease table in memory over `slot_count` slots; hands out the lowest free slot.
#[derive(Debug, Default)]
pub struct MemoryLeaseStore {
    slot_count: u16,
    records: Mutex<BTreeMap<u16, LeaseRecord>>,
    down: AtomicBool,
    writes: AtomicUsize,
}

impl MemoryLeaseStore {
    pub fn new(slot_count: u16) -> Self {
        Self { slot_count, ..Self::default() }
    }

    /// Makes every call fail as unavailable (or work again).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Successful acquires and renewals so far.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    pub fn record(&self, slot: u16) -> Option<LeaseRecord> {
        self.lock().get(&slot).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u16, LeaseRecord>> {
        self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn check_up(&self) -> Result<(), LeaseError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(LeaseError::Unavailable("store is down".into()));
        }
        Ok(())
    }
}

impl LeaseStore for MemoryLeaseStore {
    async fn acquire(&self, holder: &str, now_ms: u64, expires_at_ms: u64) -> Result<Lease, LeaseError> {
        self.check_up()?;
        let mut records = self.lock();
        let free = (0..self.slot_count).find(|s| records.get(s).is_none_or(|r| r.expires_at < now_ms));
        let Some(index) = free else { return Err(LeaseError::AllTaken(self.slot_count)) };
        let slot = WorkerSlot::from_index(index).ok_or(LeaseError::AllTaken(self.slot_count))?;
        let floor_ms = records.get(&index).map_or(0, |r| r.last_ts);
        records.insert(
            index,
            LeaseRecord { holder: holder.to_owned(), expires_at: expires_at_ms, last_ts: expires_at_ms },
        );
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(Lease { slot, holder: holder.to_owned(), expires_at_ms, floor_ms })
    }

    async fn renew(&self, lease: &Lease, expires_at_ms: u64) -> Result<Lease, LeaseError> {
        self.check_up()?;
        let mut records = self.lock();
        let index = lease.slot.index();
        match records.get_mut(&index) {
            Some(r) if r.holder == lease.holder && r.expires_at == lease.expires_at_ms => {
                r.expires_at = expires_at_ms;
                r.last_ts = expires_at_ms;
                self.writes.fetch_add(1, Ordering::SeqCst);
                Ok(Lease { expires_at_ms, ..lease.clone() })
            }
            _ => Err(LeaseError::Lost(index)),
        }
    }
}

/// A fetcher serving canned pages by exact URL, counting calls, optionally slow.
#[derive(Debug, Default)]
pub struct FakeFetcher {
    pages: Mutex<std::collections::HashMap<String, Result<crate::scrap::Fetched, crate::scrap::FetchError>>>,
    calls: AtomicUsize,
    delay: std::time::Duration,
}

impl FakeFetcher {
    pub fn new(delay: std::time::Duration) -> Self {
        Self { delay, ..Self::default() }
    }

    /// Serves `html` for `url`.
    pub fn page(self, url: &str, html: &str) -> Self {
        let fetched = url::Url::parse(url).map(|final_url| crate::scrap::Fetched {
            final_url,
            content_type: Some("text/html; charset=utf-8".into()),
            body: html.as_bytes().to_vec(),
        });
        let answer = fetched.map_err(|e| crate::scrap::FetchError::BadRedirect(e.to_string()));
        self.answer(url, answer)
    }

    pub fn answer(self, url: &str, answer: Result<crate::scrap::Fetched, crate::scrap::FetchError>) -> Self {
        self.pages.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(url.to_owned(), answer);
        self
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl crate::scrap::Fetcher for FakeFetcher {
    async fn fetch(&self, url: &url::Url) -> Result<crate::scrap::Fetched, crate::scrap::FetchError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        let pages = self.pages.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        pages
            .get(url.as_str())
            .cloned()
            .unwrap_or(Err(crate::scrap::FetchError::Unreachable("no such page".into())))
    }
}

/// A key-value cache in memory (TTLs are recorded, not enforced), which can be made to fail.
#[derive(Debug, Default)]
pub struct MemoryCache {
    entries: Mutex<std::collections::HashMap<String, (String, std::time::Duration)>>,
    down: AtomicBool,
    stale_gets: AtomicUsize,
}

impl MemoryCache {
    /// Makes the next `n` lookups miss, as a lookup that ran just before a concurrent write.
    pub fn miss_next_gets(&self, n: usize) {
        self.stale_gets.store(n, Ordering::SeqCst);
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn entry(&self, key: &str) -> Option<(String, std::time::Duration)> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).cloned()
    }

    pub fn keys(&self) -> Vec<String> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).keys().cloned().collect()
    }

    fn check(&self) -> Result<(), crate::cache::CacheError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(crate::cache::CacheError("node down".into()));
        }
        Ok(())
    }

    fn map(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (String, std::time::Duration)>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl crate::scrap::PreviewCache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<String>, crate::cache::CacheError> {
        self.check()?;
        if self.stale_gets.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Ok(None);
        }
        Ok(self.map().get(key).map(|(v, _)| v.clone()))
    }
    async fn put(
        &self,
        key: &str,
        value: &str,
        ttl: std::time::Duration,
    ) -> Result<(), crate::cache::CacheError> {
        self.check()?;
        self.map().insert(key.to_owned(), (value.to_owned(), ttl));
        Ok(())
    }
    async fn lock(&self, key: &str, ttl: std::time::Duration) -> Result<bool, crate::cache::CacheError> {
        self.check()?;
        let mut map = self.map();
        if map.contains_key(key) {
            return Ok(false);
        }
        map.insert(key.to_owned(), ("1".into(), ttl));
        Ok(true)
    }
    async fn unlock(&self, key: &str) -> Result<(), crate::cache::CacheError> {
        self.check()?;
        self.map().remove(key);
        Ok(())
    }
}

/// A rate limiter that answers what it is told to, or fails.
#[derive(Debug)]
pub struct FixedLimiter(pub Result<crate::scrap::RateDecision, crate::cache::CacheError>);

impl crate::scrap::RateLimiter for FixedLimiter {
    async fn hit(&self, _: &str, _: u64) -> Result<crate::scrap::RateDecision, crate::cache::CacheError> {
        self.0.clone()
    }
}

/// The posts table, cache and queue in memory (`posts` module ports).
pub mod posts {
    use crate::cache::CacheError;
    use crate::posts::write::{IdSource, Previewer};
    use crate::posts::{
        FillTicket, ListPage, Lookup, Post, PostCache, PostQueue, PostStore, QueueError, SendError,
        StoreError, Trace,
    };
    use crate::scrap::Preview;
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

    impl PostStore for MemoryTable {
        async fn page(
            &self,
            user_id: &str,
            before: Option<u64>,
            limit: usize,
        ) -> Result<Vec<Post>, StoreError> {
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
                ids: l
                    .iter()
                    .rev()
                    .filter(|id| before.is_none_or(|b| **id < b))
                    .take(limit)
                    .copied()
                    .collect(),
                full: l.len() >= self.list_max,
            }))
        }
        async fn list_reserve(&self, user_id: &str) -> Result<FillTicket, CacheError> {
            self.check()?;
            let token = self.tickets.fetch_add(1, Ordering::SeqCst) + 1;
            lock(&self.reserved).insert(user_id.to_owned(), token);
            Ok(FillTicket(token))
        }
        async fn list_fill(
            &self,
            user_id: &str,
            ticket: &FillTicket,
            ids: &[u64],
        ) -> Result<bool, CacheError> {
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
        async fn next_id(&self) -> Result<u64, crate::issuer::IssueError> {
            Ok(self.0.fetch_add(1, Ordering::SeqCst))
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
}

/// Idempotency records in memory, with the table's conditional writes: a claim is refused while
/// the key holds a completed record or an in-progress one that has not run out.
#[derive(Default)]
pub struct MemoryIdempotency {
    pub records: Mutex<std::collections::HashMap<String, MemoryRecord>>,
    /// Makes `complete` fail, as a table that took the claim and then went away.
    pub fail_complete: std::sync::atomic::AtomicBool,
}

/// A stored record and, for one in progress, when its claim runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryRecord {
    pub record: crate::posts::idempotency::Record,
    pub until_ms: u64,
}

impl MemoryIdempotency {
    /// Runs out every claim in progress, as if their invocations had ended.
    pub fn run_out_claims(&self) {
        for stored in self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values_mut() {
            stored.until_ms = 0;
        }
    }
}

impl crate::posts::idempotency::IdempotencyStore for MemoryIdempotency {
    async fn put_claim(
        &self,
        key: &str,
        request_hash: &str,
        post_id: u64,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<crate::posts::idempotency::Put, crate::posts::StoreError> {
        use crate::posts::idempotency::{Put, Record};
        let mut records = self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let live = |s: &MemoryRecord| matches!(s.record, Record::Completed { .. }) || s.until_ms >= now_ms;
        if let Some(held) = records.get(key).filter(|s| live(s)) {
            return Ok(Put::Refused { held: Some(held.record.clone()) });
        }
        let claim = Record::InProgress { request_hash: request_hash.to_owned(), post_id };
        let replaced = records.insert(key.to_owned(), MemoryRecord { record: claim, until_ms });
        Ok(Put::Claimed { replaced: replaced.map(|s| s.record) })
    }
    async fn swap_post_id(&self, key: &str, from: u64, to: u64) -> Result<bool, crate::posts::StoreError> {
        use crate::posts::idempotency::Record;
        let mut records = self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match records.get_mut(key).map(|s| &mut s.record) {
            Some(Record::InProgress { post_id, .. }) if *post_id == from => {
                *post_id = to;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    async fn complete(
        &self,
        key: &str,
        request_hash: &str,
        status: u16,
        body: &str,
        _: u64,
    ) -> Result<(), crate::posts::StoreError> {
        use crate::posts::idempotency::Record;
        if self.fail_complete.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(crate::posts::StoreError("idempotency table unavailable".into()));
        }
        let record =
            Record::Completed { request_hash: request_hash.to_owned(), status, body: body.to_owned() };
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.to_owned(), MemoryRecord { record, until_ms: 0 });
        Ok(())
    }
    async fn expire(&self, key: &str, post_id: u64) -> Result<(), crate::posts::StoreError> {
        use crate::posts::idempotency::Record;
        let mut records = self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(stored) = records.get_mut(key) {
            if matches!(stored.record, Record::InProgress { post_id: held, .. } if held == post_id) {
                stored.until_ms = 0;
            }
        }
        Ok(())
    }
}
