//! Writing a post: id, link preview within a budget, the queue, then the cache.
//!
//! The post is durable once the queue accepted it, so nothing is cached before that: a refused
//! send leaves no trace anywhere (no phantom posts), and a 201 is answered only after it. The
//! cache is updated next, so the author's next read shows the post before it is persisted; if
//! the user's list is not cached it is first filled from the table, or it would hide older posts.
//! A cache that fails only costs that speed-up, never the write. A message too large for the
//! queue is sent again without its preview, as a page must never make a post unwritable.

use super::model::{NewPost, Post};
use super::{PostCache, PostQueue, PostStore, QueueError, SendError, Trace};
use crate::issuer::{IdSource, IssueError};
use crate::ops::preview_link::{PreviewLink, PreviewLinkError};
use crate::preview::{LinkPreviews, Preview, RateLimiter};
use std::future::Future;
use std::time::Duration;

/// Link previews for posts: best effort, never an error.
pub trait Previewer: Send + Sync {
    fn preview(&self, url: &str, caller: &str) -> impl Future<Output = Option<Preview>> + Send;
}

/// The preview service, under the caller's rate limit and a time budget: a post is stored without a
/// preview rather than delayed or failed.
pub struct BudgetedPreviews<S, L> {
    pub service: S,
    pub limiter: L,
    pub budget: Duration,
}

impl<S: LinkPreviews, L: RateLimiter> Previewer for BudgetedPreviews<S, L> {
    async fn preview(&self, url: &str, caller: &str) -> Option<Preview> {
        let now_ms = crate::clock_text::now_unix_ms();
        let link = PreviewLink::new(url, caller);
        match tokio::time::timeout(self.budget, link.apply(&self.service, &self.limiter, now_ms)).await {
            Ok(Ok(p)) => Some(p),
            Ok(Err(PreviewLinkError::Limited { .. })) => {
                tracing::info!(caller, "preview skipped: rate limit");
                None
            }
            Ok(Err(e)) => {
                tracing::info!(error = %e, "post stored without preview");
                None
            }
            Err(_) => {
                tracing::info!(
                    budget_ms = self.budget.as_millis() as u64,
                    "preview over budget; post stored without it"
                );
                None
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Ids(#[from] IssueError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// A post too large even without its preview is refused like any failed send, as before the
/// size check existed (validation keeps such a post from being asked for).
impl From<SendError> for WriteError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Queue(e) => Self::Queue(e),
            too_large @ SendError::TooLarge { .. } => Self::Queue(QueueError(too_large.to_string())),
        }
    }
}

/// What writing a post needs (the port `ops::write_post` takes): a post id chosen ahead, and
/// the write under it. [`PostWriter`] is the implementation.
pub trait PostWrites: Send + Sync {
    fn reserve_id(&self) -> impl Future<Output = Result<u64, WriteError>> + Send;
    fn write_as(
        &self,
        new: NewPost,
        post_id: u64,
        trace: &Trace,
    ) -> impl Future<Output = Result<Post, WriteError>> + Send;
}

impl<I: IdSource, P: Previewer, C: PostCache, S: PostStore, Q: PostQueue> PostWrites
    for PostWriter<I, P, C, S, Q>
{
    async fn reserve_id(&self) -> Result<u64, WriteError> {
        PostWriter::reserve_id(self).await
    }

    async fn write_as(&self, new: NewPost, post_id: u64, trace: &Trace) -> Result<Post, WriteError> {
        PostWriter::write_as(self, new, post_id, trace).await
    }
}

pub struct PostWriter<I, P, C, S, Q> {
    pub ids: I,
    pub previews: P,
    pub cache: C,
    pub store: S,
    pub queue: Q,
    /// Longest user list kept in the cache.
    pub list_max: usize,
}

impl<I: IdSource, P: Previewer, C: PostCache, S: PostStore, Q: PostQueue> PostWriter<I, P, C, S, Q> {
    pub async fn write(&self, new: NewPost, trace: &Trace) -> Result<Post, WriteError> {
        let post_id = self.reserve_id().await?;
        self.write_as(new, post_id, trace).await
    }

    /// A fresh post id, for a write whose id must be known (and recorded) before it runs.
    pub async fn reserve_id(&self) -> Result<u64, WriteError> {
        Ok(self.ids.next_id().await?)
    }

    /// Writes the post under `post_id`. Writing the same request under the same id again
    /// makes the same post (one item in the table, one member in the list), never a second one.
    pub async fn write_as(&self, new: NewPost, post_id: u64, trace: &Trace) -> Result<Post, WriteError> {
        let scrap = match new.url.as_deref() {
            Some(url) => self.previews.preview(url, &new.user_id).await,
            None => None,
        };
        let mut post = Post {
            user_id: new.user_id,
            post_id,
            contents: new.contents,
            url: new.url,
            scrap,
            created_at: created_at(post_id),
        };
        match self.queue.send(&post, trace).await {
            // The preview is the part of the post that a third party wrote and that the post can
            // do without; refusing the write instead would refuse it on every retry.
            Err(SendError::TooLarge { bytes, limit }) if post.scrap.is_some() => {
                tracing::warn!(
                    post_id = post.post_id,
                    bytes,
                    limit,
                    "message too large; queued without preview"
                );
                post.scrap = None;
                self.queue.send(&post, trace).await?;
            }
            sent => sent?,
        }
        // From here on `post` is exactly what was queued: cached and answered as such.
        self.cache_new(&post).await;
        tracing::info!(user_id = %post.user_id, post_id = post.post_id, "post accepted");
        Ok(post)
    }

    async fn cache_new(&self, post: &Post) {
        // The list only names posts the cache holds: a listed id whose post is missing would be
        // looked up in the table, where an unpersisted post is not yet.
        if let Err(e) = self.cache.posts_put(std::slice::from_ref(post)).await {
            tracing::warn!(error = %e, post_id = post.post_id, "post not cached");
            return;
        }
        match self.cache.list_add(&post.user_id, post.post_id).await {
            Ok(true) => {}
            // Without the older ids the list would hide them: on any failure it stays absent,
            // and the next read fills it from the table.
            Ok(false) => {
                if let Err(e) = self.fill_list(post).await {
                    tracing::warn!(error = %e, "user list not cached");
                }
            }
            Err(e) => tracing::warn!(error = %e, "user list not updated"),
        }
    }

    /// Creates the user's absent list from the table, then adds `post` (not yet in the table).
    /// A fill is refused when a post reached the table (and the absent list) while the table
    /// was read, typically the author's previous post just persisted: read again, so the 201
    /// still means "in the author's next read".
    async fn fill_list(&self, post: &Post) -> Result<(), String> {
        let user = &post.user_id;
        for _ in 0..FILL_ATTEMPTS {
            let ticket = self.cache.list_reserve(user).await.map_err(|e| e.to_string())?;
            let ids = self.store.newest_ids(user, self.list_max).await.map_err(|e| e.to_string())?;
            self.cache.list_fill(user, &ticket, &ids).await.map_err(|e| e.to_string())?;
            // Filled by us or by someone else meanwhile: either way the list now exists.
            if self.cache.list_add(user, post.post_id).await.map_err(|e| e.to_string())? {
                return Ok(());
            }
        }
        Err(format!("posts kept reaching the table while it was read ({FILL_ATTEMPTS} tries)"))
    }
}

/// Table reads a write makes to fill its author's absent list.
const FILL_ATTEMPTS: usize = 3;

/// RFC 3339 (UTC, milliseconds) of an id's timestamp.
pub fn created_at(post_id: u64) -> String {
    let ms = snowflake::decode(post_id).map_or(0, |d| d.unix_ms);
    crate::clock_text::rfc3339_ms(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::posts::{CountingIds, FixedPreviews, MemoryPostCache, MemoryQueue, MemoryTable};
    use std::sync::atomic::{AtomicU64, Ordering};

    const BASE: u64 = 725_617_227_714_740_224;

    fn writer() -> PostWriter<CountingIds, FixedPreviews, MemoryPostCache, MemoryTable, MemoryQueue> {
        PostWriter {
            ids: CountingIds(AtomicU64::new(BASE)),
            previews: FixedPreviews::default(),
            cache: MemoryPostCache::new(5),
            store: MemoryTable::default(),
            queue: MemoryQueue::default(),
            list_max: 5,
        }
    }

    /// A post already in the table.
    fn stored(uid: &str, post_id: u64, text: &str) -> Post {
        Post {
            user_id: uid.into(),
            post_id,
            contents: text.into(),
            url: None,
            scrap: None,
            created_at: String::new(),
        }
    }

    fn new(uid: &str, text: &str) -> NewPost {
        NewPost { user_id: uid.into(), contents: text.into(), url: None }
    }

    #[tokio::test]
    async fn a_fill_voided_by_the_previous_post_persisting_is_read_again() {
        use crate::posts::{PostStore, StoreError};
        // The first table read returns just before the author's previous post is persisted
        // and added (voiding the reservation); the write must read again, not give up.
        struct RacingTable<'a> {
            table: MemoryTable,
            cache: &'a MemoryPostCache,
            previous: std::sync::Mutex<Option<Post>>,
        }
        impl PostStore for RacingTable<'_> {
            async fn page(&self, u: &str, b: Option<u64>, l: usize) -> Result<Vec<Post>, StoreError> {
                self.table.page(u, b, l).await
            }
            async fn newest_ids(&self, u: &str, l: usize) -> Result<Vec<u64>, StoreError> {
                let ids = self.table.newest_ids(u, l).await;
                let previous = self.previous.lock().unwrap().take();
                if let Some(p) = previous {
                    self.table.insert(p.clone());
                    assert!(!self.cache.list_add(u, p.post_id).await.unwrap(), "the list is absent");
                }
                ids
            }
            async fn get_many(&self, u: &str, ids: &[u64]) -> Result<Vec<Post>, StoreError> {
                self.table.get_many(u, ids).await
            }
        }
        let cache = MemoryPostCache::new(5);
        let previous = stored("u", BASE - 1, "previous");
        let w = PostWriter {
            ids: CountingIds(AtomicU64::new(BASE)),
            previews: FixedPreviews::default(),
            cache: &cache,
            store: RacingTable {
                table: MemoryTable::default(),
                cache: &cache,
                previous: Some(previous).into(),
            },
            queue: MemoryQueue::default(),
            list_max: 5,
        };
        let p = w.write(new("u", "hi"), &Trace::default()).await.unwrap();
        assert_eq!(cache.list("u"), Some(vec![p.post_id, BASE - 1]), "both, after a second read");
    }

    #[tokio::test]
    async fn accepted_post_is_queued_then_cached_with_older_posts_kept() {
        let w = writer();
        let older = stored("u", BASE - 10, "old");
        w.store.insert(older);
        let p = w.write(new("u", "hi"), &Trace::default()).await.unwrap();
        assert_eq!(w.queue.sent(), vec![p.clone()]);
        assert_eq!(
            w.cache.list("u").unwrap(),
            vec![p.post_id, BASE - 10],
            "list filled from the table first"
        );
        assert!(p.created_at.ends_with('Z'));
    }

    #[tokio::test]
    async fn refused_by_the_queue_leaves_no_trace() {
        let w = writer();
        w.cache.seed_list("u", &[]);
        w.queue.refuse.store(true, Ordering::SeqCst);
        assert!(matches!(w.write(new("u", "hi"), &Trace::default()).await, Err(WriteError::Queue(_))));
        assert_eq!(w.cache.list("u").unwrap(), Vec::<u64>::new());
        assert!(w.cache.posts.lock().unwrap().is_empty());
    }

    fn linking(uid: &str, url: &str) -> NewPost {
        NewPost { url: Some(url.into()), ..new(uid, "look") }
    }

    fn preview(description_chars: usize) -> Preview {
        Preview {
            title: Some("T".into()),
            description: Some("d".repeat(description_chars)),
            ..Preview::default()
        }
    }

    #[tokio::test]
    async fn preview_too_large_for_the_queue_is_dropped_not_the_post() {
        let mut w = writer();
        w.previews.0.insert("https://big.example/".into(), preview(10_000));
        w.queue.max_bytes = Some(2_000);
        w.cache.seed_list("u", &[]);
        let p = w.write(linking("u", "https://big.example/"), &Trace::default()).await.unwrap();
        assert_eq!(p.scrap, None, "answered without its preview");
        assert_eq!(p.url.as_deref(), Some("https://big.example/"), "the link itself stays");
        assert_eq!(w.queue.sent(), vec![p.clone()], "queued once, without its preview");
        assert_eq!(w.cache.posts.lock().unwrap().get(&p.post_id), Some(&p), "cached as queued");
        assert_eq!(w.cache.list("u").unwrap(), vec![p.post_id]);
    }

    #[tokio::test]
    async fn preview_that_fits_is_kept() {
        let mut w = writer();
        w.previews.0.insert("https://small.example/".into(), preview(100));
        w.queue.max_bytes = Some(2_000);
        let p = w.write(linking("u", "https://small.example/"), &Trace::default()).await.unwrap();
        assert_eq!(p.scrap, Some(preview(100)));
        assert_eq!(w.queue.sent(), vec![p]);
    }

    #[tokio::test]
    async fn post_too_large_even_without_preview_is_refused_and_leaves_no_trace() {
        let mut w = writer();
        w.previews.0.insert("https://big.example/".into(), preview(10_000));
        w.queue.max_bytes = Some(50);
        w.cache.seed_list("u", &[]);
        let got = w.write(linking("u", "https://big.example/"), &Trace::default()).await;
        assert!(matches!(got, Err(WriteError::Queue(_))), "{got:?}");
        assert!(w.queue.sent().is_empty());
        assert!(w.cache.posts.lock().unwrap().is_empty());
        assert_eq!(w.cache.list("u").unwrap(), Vec::<u64>::new());
    }

    #[tokio::test]
    async fn cache_down_still_accepts() {
        let w = writer();
        w.cache.down.store(true, Ordering::SeqCst);
        let p = w.write(new("u", "hi"), &Trace::default()).await.unwrap();
        assert_eq!(w.queue.sent(), vec![p]);
    }

    #[tokio::test]
    async fn table_down_leaves_the_list_absent_rather_than_partial() {
        let w = writer();
        w.store.down.store(true, Ordering::SeqCst);
        w.write(new("u", "hi"), &Trace::default()).await.unwrap();
        assert_eq!(w.cache.list("u"), None);
    }
}
