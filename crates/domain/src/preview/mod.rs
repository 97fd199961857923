//! Link previews: which links may be fetched, and the cache-first preview service. The scrap
//! function, its routes, the post's `scrap` field and the `SCRAP_*` settings keep the reference
//! service's word; in the code the thing is a preview.
//!
//! - [`link`]: URL checks (scheme, length, address policy) and normalization for cache keys.
//! - `rate`: the per-caller [`RateLimiter`] and [`admit`], the one "limiter down: allow" rule.
//! - [`service`]: [`PreviewService`], cache first, one fetch per URL however many ask at once,
//!   failures cached briefly; [`LinkPreviews`] is the port over it.
//!
//! The ports below are implemented over reqwest and Redis in `adapters`, and in memory in
//! `fakes`. Extraction itself is the pure `opengraph` crate.

pub mod link;
mod rate;
mod service;

pub use opengraph::Preview;
pub use rate::{RateDecision, RateLimiter, admit};
pub use service::{LinkPreviews, PreviewConfig, PreviewError, PreviewService};

use crate::cache::CacheError;

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;
use url::Url;

/// A page as fetched: where the redirects ended, what it said it is, and (at most the cap of)
/// its body, decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub final_url: Url,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Why a fetch gave no page. Serializable: failures are cached briefly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", content = "detail", rename_all = "snake_case")]
pub enum FetchError {
    /// A redirect, or an address a name resolved to, is not allowed.
    #[error("{0}")]
    NotAllowed(String),
    /// A redirect to something that is not a URL.
    #[error("bad redirect: {0}")]
    BadRedirect(String),
    #[error("the page did not answer in time")]
    Timeout,
    #[error("the page answered {0}")]
    Status(u16),
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// DNS failure, connection refused, TLS failure, a broken body.
    #[error("the page could not be reached: {0}")]
    Unreachable(String),
}

pub trait Fetcher: Send + Sync {
    fn fetch(&self, url: &Url) -> impl Future<Output = Result<Fetched, FetchError>> + Send;
}

/// A key-value cache (sharded Redis in production). Errors are never fatal to a caller: a
/// preview can always be fetched without the cache.
pub trait PreviewCache: Send + Sync {
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<String>, CacheError>> + Send;
    fn put(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), CacheError>> + Send;
    /// Takes `key` if nobody holds it (set-if-absent with a TTL); `true` when this caller got it.
    fn lock(&self, key: &str, ttl: Duration) -> impl Future<Output = Result<bool, CacheError>> + Send;
    fn unlock(&self, key: &str) -> impl Future<Output = Result<(), CacheError>> + Send;
}

/// Shared ports are ports.
impl<T: Fetcher> Fetcher for std::sync::Arc<T> {
    async fn fetch(&self, url: &Url) -> Result<Fetched, FetchError> {
        (**self).fetch(url).await
    }
}

impl<T: PreviewCache> PreviewCache for std::sync::Arc<T> {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        (**self).get(key).await
    }
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        (**self).put(key, value, ttl).await
    }
    async fn lock(&self, key: &str, ttl: Duration) -> Result<bool, CacheError> {
        (**self).lock(key, ttl).await
    }
    async fn unlock(&self, key: &str) -> Result<(), CacheError> {
        (**self).unlock(key).await
    }
}

/// Whether the head of a page (the bytes before `</head>`) already gives a full preview, so the
/// fetcher may stop reading: a title, a description and an image. Pages whose head lacks one
/// of them are read on (JSON-LD in the body often supplies it).
pub fn head_is_enough(head: &[u8]) -> bool {
    let Ok(base) = Url::parse("http://head.invalid/") else { return false };
    let p = opengraph::extract(head, &base, Some("text/html"));
    p.title.is_some() && p.description.is_some() && p.image.is_some()
}
