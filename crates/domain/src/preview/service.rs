//! The preview service: cache first, one fetch per URL, failures cached briefly.
//!
//! Previews are cached under the hash of the normalized URL for `preview_ttl` (2 days, the
//! reference's TTL). A fetch that fails upstream (timeout, error status, unreachable) is cached
//! as a failure for `failure_ttl`, so one broken site is not hammered. When several requests miss
//! on one URL at once (across instances), one takes a short lock and fetches; the others poll
//! the cache for its result, and fetch themselves only if the lock holder vanishes.
//! The cache is never required: on any cache error the preview is fetched directly.

use super::link::{self, AddressPolicy, LinkError};
use super::{FetchError, Fetcher, Preview, PreviewCache};
use crate::cache::CacheError;
use crate::{keys, telemetry};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviewConfig {
    pub preview_ttl: Duration,
    pub failure_ttl: Duration,
    /// How long one fetch may hold the per-URL lock; at least the fetcher's total timeout.
    pub lock_ttl: Duration,
    /// How often a request waiting on another's fetch looks for its result.
    pub wait_step: Duration,
    pub policy: AddressPolicy,
}

impl Default for PreviewConfig {
    fn default() -> Self {
        Self {
            preview_ttl: Duration::from_secs(2 * 24 * 3600),
            failure_ttl: Duration::from_secs(300),
            lock_ttl: Duration::from_secs(8),
            wait_step: Duration::from_millis(100),
            policy: AddressPolicy::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// What the cache holds for a URL.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Cached {
    Preview(Box<Preview>),
    Failure(FetchError),
}

/// What previewing a link needs (the port `ops::preview_link` and the post writer take).
/// [`PreviewService`] is the implementation.
pub trait LinkPreviews: Send + Sync {
    fn preview(
        &self,
        raw_url: &str,
    ) -> impl std::future::Future<Output = Result<Preview, PreviewError>> + Send;
}

impl<F: Fetcher, C: PreviewCache> LinkPreviews for PreviewService<F, C> {
    async fn preview(&self, raw_url: &str) -> Result<Preview, PreviewError> {
        PreviewService::preview(self, raw_url).await
    }
}

pub struct PreviewService<F, C> {
    fetcher: F,
    cache: C,
    config: PreviewConfig,
}

impl<F: Fetcher, C: PreviewCache> PreviewService<F, C> {
    pub fn new(fetcher: F, cache: C, config: PreviewConfig) -> Self {
        Self { fetcher, cache, config }
    }

    pub fn fetcher(&self) -> &F {
        &self.fetcher
    }

    /// The preview of `raw_url`, from the cache or fetched.
    pub async fn preview(&self, raw_url: &str) -> Result<Preview, PreviewError> {
        let url = link::check(raw_url, self.config.policy)?;
        let digest = digest(&link::normalize(&url));
        let key = keys::preview(&digest);
        if let Some(hit) = self.cached(&key).await {
            return Ok(answered_from_cache(hit)?);
        }
        let lock = keys::preview_lock(&digest);
        let holds_lock = self.cache.lock(&lock, self.config.lock_ttl).await.unwrap_or_else(|e| {
            warn(&e, "preview lock");
            true
        });
        if holds_lock {
            // Another request may have stored the preview and released the lock between our
            // lookup and our lock: look again before fetching.
            if let Some(hit) = self.cached(&key).await {
                self.release(&lock).await;
                return Ok(answered_from_cache(hit)?);
            }
        } else {
            // Another request fetched it: a cache hit for this one.
            if let Some(hit) = self.wait_for(&key).await {
                return Ok(answered_from_cache(hit)?);
            }
            tracing::warn!(url = %url, "preview lock holder gave no result; fetching");
        }
        telemetry::count("PreviewCacheMisses", 1);
        let outcome = self.fetch(&url).await;
        let record = match &outcome {
            Ok(p) => Some((Cached::Preview(Box::new(p.clone())), self.config.preview_ttl)),
            Err(e) => Some((Cached::Failure(e.clone()), self.config.failure_ttl)),
        };
        if let Some((value, ttl)) = record
            && let Ok(json) = serde_json::to_string(&value)
            && let Err(e) = self.cache.put(&key, &json, ttl).await
        {
            warn(&e, "preview store");
        }
        if holds_lock {
            self.release(&lock).await;
        }
        Ok(outcome?)
    }

    async fn release(&self, lock: &str) {
        if let Err(e) = self.cache.unlock(lock).await {
            warn(&e, "preview unlock");
        }
    }

    async fn fetch(&self, url: &Url) -> Result<Preview, FetchError> {
        let page = self.fetcher.fetch(url).await?;
        tracing::info!(url = %url, final_url = %page.final_url, bytes = page.body.len(), "page fetched");
        Ok(opengraph::extract(&page.body, &page.final_url, page.content_type.as_deref()))
    }

    /// A cached preview or failure; `None` on a miss, an unreadable entry or a cache error.
    async fn cached(&self, key: &str) -> Option<Result<Preview, FetchError>> {
        match self.cache.get(key).await {
            Ok(Some(json)) => match serde_json::from_str::<Cached>(&json) {
                Ok(Cached::Preview(p)) => Some(Ok(*p)),
                Ok(Cached::Failure(e)) => Some(Err(e)),
                Err(e) => {
                    tracing::warn!(key, error = %e, "unreadable cached preview ignored");
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                warn(&e, "preview lookup");
                None
            }
        }
    }

    /// Polls the cache while another request fetches; gives up after the lock's TTL.
    async fn wait_for(&self, key: &str) -> Option<Result<Preview, FetchError>> {
        let deadline = tokio::time::Instant::now() + self.config.lock_ttl;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(self.config.wait_step).await;
            if let Some(hit) = self.cached(key).await {
                return Some(hit);
            }
        }
        None
    }
}

fn warn(e: &CacheError, what: &str) {
    tracing::warn!(error = %e, "{what} failed; going on without the cache");
}

/// Cache keys of bounded length whatever the URL.
fn digest(s: &str) -> String {
    crate::digest::sha256_hex(s.as_bytes())
}

/// Counts a preview (or a cached failure) answered without fetching.
fn answered_from_cache<T>(hit: T) -> T {
    telemetry::count("PreviewCacheHits", 1);
    hit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeFetcher, MemoryCache};
    use std::sync::Arc;

    const PAGE: &str =
        r#"<html><head><title>Hello</title><meta property="og:image" content="/i.png"></head></html>"#;

    fn config() -> PreviewConfig {
        PreviewConfig {
            lock_ttl: Duration::from_millis(400),
            wait_step: Duration::from_millis(10),
            ..Default::default()
        }
    }

    fn service(f: FakeFetcher) -> PreviewService<Arc<FakeFetcher>, Arc<MemoryCache>> {
        PreviewService::new(Arc::new(f), Arc::new(MemoryCache::default()), config())
    }

    #[tokio::test]
    async fn second_request_is_served_from_the_cache() {
        let s = service(FakeFetcher::default().page("https://example.com/a", PAGE));
        let p = s.preview("https://example.com/a").await.unwrap();
        assert_eq!(p.title.as_deref(), Some("Hello"));
        assert_eq!(p.image.as_deref(), Some("https://example.com/i.png"));
        assert_eq!(s.preview("https://example.com/a#section").await.unwrap(), p);
        assert_eq!(s.preview("https://EXAMPLE.com/a?utm_source=x").await.unwrap(), p);
        assert_eq!(s.fetcher.calls(), 1);
        let key = s.cache.keys().into_iter().find(|k| k.starts_with("url:")).unwrap();
        assert_eq!(s.cache.entry(&key).unwrap().1, Duration::from_secs(172_800));
    }

    #[tokio::test]
    async fn upstream_failures_are_cached_briefly() {
        let s =
            service(FakeFetcher::default().answer("https://example.com/gone", Err(FetchError::Status(404))));
        for _ in 0..3 {
            assert_eq!(
                s.preview("https://example.com/gone").await,
                Err(PreviewError::Fetch(FetchError::Status(404)))
            );
        }
        assert_eq!(s.fetcher.calls(), 1);
        let key = s.cache.keys().into_iter().find(|k| k.starts_with("url:")).unwrap();
        assert_eq!(s.cache.entry(&key).unwrap().1, Duration::from_secs(300));
    }

    #[tokio::test]
    async fn concurrent_misses_fetch_once() {
        let f = FakeFetcher::new(Duration::from_millis(80)).page("https://example.com/hot", PAGE);
        let s = Arc::new(service(f));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let s = Arc::clone(&s);
            tasks.spawn(async move { s.preview("https://example.com/hot").await });
        }
        while let Some(r) = tasks.join_next().await {
            assert_eq!(r.unwrap().unwrap().title.as_deref(), Some("Hello"));
        }
        assert_eq!(s.fetcher.calls(), 1);
        assert!(s.cache.keys().iter().all(|k| !k.starts_with("lock:")), "the lock is released");
    }

    #[tokio::test]
    async fn a_preview_stored_just_before_our_lock_is_not_fetched_again() {
        let s = service(FakeFetcher::default().page("https://example.com/r", PAGE));
        s.preview("https://example.com/r").await.unwrap();
        // Lose the race: our lookup misses, although another request has stored the preview and
        // released the lock by the time we take it.
        s.cache.miss_next_gets(1);
        s.preview("https://example.com/r").await.unwrap();
        assert_eq!(s.fetcher.calls(), 1);
    }

    #[tokio::test]
    async fn a_vanished_lock_holder_does_not_block_forever() {
        let s = service(FakeFetcher::default().page("https://example.com/x", PAGE));
        let digest = digest(&link::normalize(&Url::parse("https://example.com/x").unwrap()));
        s.cache.lock(&keys::preview_lock(&digest), Duration::from_secs(1)).await.unwrap();
        let p = s.preview("https://example.com/x").await.unwrap();
        assert_eq!(p.title.as_deref(), Some("Hello"));
        assert_eq!(s.fetcher.calls(), 1);
    }

    #[tokio::test]
    async fn cache_down_still_previews() {
        let s = service(FakeFetcher::default().page("https://example.com/a", PAGE));
        s.cache.set_down(true);
        assert!(s.preview("https://example.com/a").await.is_ok());
        assert!(s.preview("https://example.com/a").await.is_ok());
        assert_eq!(s.fetcher.calls(), 2);
    }

    #[tokio::test]
    async fn refused_links_are_never_fetched() {
        let s = service(FakeFetcher::default());
        assert!(matches!(
            s.preview("http://169.254.169.254/").await,
            Err(PreviewError::Link(LinkError::NotAllowed(_)))
        ));
        assert!(matches!(s.preview("nope").await, Err(PreviewError::Link(LinkError::Invalid(_)))));
        assert_eq!(s.fetcher.calls(), 0);
    }
}
