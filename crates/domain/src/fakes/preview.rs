//! The preview ports in memory: canned pages, a cache, a limiter that answers as told.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A fetcher serving canned pages by exact URL, counting calls, optionally slow.
#[derive(Debug, Default)]
pub struct FakeFetcher {
    pages:
        Mutex<std::collections::HashMap<String, Result<crate::preview::Fetched, crate::preview::FetchError>>>,
    calls: AtomicUsize,
    delay: std::time::Duration,
}

impl FakeFetcher {
    pub fn new(delay: std::time::Duration) -> Self {
        Self { delay, ..Self::default() }
    }

    /// Serves `html` for `url`.
    pub fn page(self, url: &str, html: &str) -> Self {
        let fetched = url::Url::parse(url).map(|final_url| crate::preview::Fetched {
            final_url,
            content_type: Some("text/html; charset=utf-8".into()),
            body: html.as_bytes().to_vec(),
        });
        let answer = fetched.map_err(|e| crate::preview::FetchError::BadRedirect(e.to_string()));
        self.answer(url, answer)
    }

    pub fn answer(
        self,
        url: &str,
        answer: Result<crate::preview::Fetched, crate::preview::FetchError>,
    ) -> Self {
        self.pages.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(url.to_owned(), answer);
        self
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl crate::preview::Fetcher for FakeFetcher {
    async fn fetch(&self, url: &url::Url) -> Result<crate::preview::Fetched, crate::preview::FetchError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        let pages = self.pages.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        pages
            .get(url.as_str())
            .cloned()
            .unwrap_or(Err(crate::preview::FetchError::Unreachable("no such page".into())))
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

impl crate::preview::PreviewCache for MemoryCache {
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
pub struct FixedLimiter(pub Result<crate::preview::RateDecision, crate::cache::CacheError>);

impl crate::preview::RateLimiter for FixedLimiter {
    async fn hit(&self, _: &str, _: u64) -> Result<crate::preview::RateDecision, crate::cache::CacheError> {
        self.0.clone()
    }
}
