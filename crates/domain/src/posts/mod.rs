//! Posts: what a post is, what a valid one looks like, and the write and read flows over their
//! ports (cache, table, queue).
//!
//! - [`model`]: `Post`, the write request, validation, cursors.
//! - [`write`]: id, preview within a budget, queue (the durability point), then cache.
//! - [`read`]: a user's posts newest first: cache first, the table behind it, repairs.
//! - [`message`]: the queue message, encoded and decoded in one place.
//! - [`drain`]: persisting queued posts in batches, idempotently.
//! - [`dead_letter`]: retrying or parking what the drain could not persist.
//! - [`idempotency`]: retried writes with an `Idempotency-Key` answer their first result.

pub mod dead_letter;
pub mod drain;
pub mod idempotency;
pub mod message;
pub mod model;
pub mod read;
pub mod write;

pub use model::{NewPost, Post, PostInput, Validation};

use crate::cache::CacheError;
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("posts table: {0}")]
pub struct StoreError(pub String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("posts queue: {0}")]
pub struct QueueError(pub String);

/// Why [`PostQueue::send`] did not queue a post. Not just a [`QueueError`], because the writer
/// acts on the difference: a failure may pass when retried later; a message over the queue's
/// size limit never will, but a smaller post may.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Refused before sending: the message is over the queue's size limit.
    #[error("posts queue: a {bytes}-byte message is over the {limit}-byte limit")]
    TooLarge { bytes: usize, limit: usize },
}

/// The posts table (DynamoDB): partition `user_id`, sort `post_id`.
pub trait PostStore: Send + Sync {
    /// The user's posts with ids below `before` (all when `None`), newest first, at most `limit`.
    fn page(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Post>, StoreError>> + Send;
    /// The user's newest post ids, at most `limit`.
    fn newest_ids(
        &self,
        user_id: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<u64>, StoreError>> + Send;
    /// The posts among `ids` that exist (any order).
    fn get_many(
        &self,
        user_id: &str,
        ids: &[u64],
    ) -> impl Future<Output = Result<Vec<Post>, StoreError>> + Send;
}

/// Where accepted posts go to be persisted (SQS). Once `send` succeeds the post is durable.
pub trait PostQueue: Send + Sync {
    fn send(&self, post: &Post, trace: &Trace) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// The queue message attribute that carries [`Trace::trace_id`].
pub const TRACE_ATTRIBUTE: &str = "trace_id";

/// What follows a post from its HTTP request into the queue, the drain and the dead-letter
/// handler, so every log line about it names the same trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// The request's trace id (the client's W3C trace id, else API Gateway's request id).
    pub trace_id: String,
    /// The X-Ray trace header, when the function is traced by X-Ray.
    pub xray_trace_id: Option<String>,
}

/// One cache lookup: found, known to be absent, or unknown (the node did not answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    Hit(T),
    Miss,
    Unavailable,
}

/// A reservation to fill a user's absent list ([`PostCache::list_reserve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillTicket(pub u64);

/// A page of a user's list of ids from the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// Ids below the cursor, newest first.
    pub ids: Vec<u64>,
    /// The list holds its maximum length: older ids may exist beyond it, in the table only.
    pub full: bool,
}

/// The posts cache (sharded Redis): `post:{id}` and each user's list of ids `pl:{uid}`.
pub trait PostCache: Send + Sync {
    /// `None` when the user's list is not cached.
    fn list_page(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> impl Future<Output = Result<Option<ListPage>, CacheError>> + Send;
    /// Reserves the filling of the user's absent list; taken before its ids are read from the
    /// table. An add to the absent list voids every reservation, so a fill never writes a list
    /// that misses a post persisted (and added) while the table was being read.
    fn list_reserve(&self, user_id: &str) -> impl Future<Output = Result<FillTicket, CacheError>> + Send;
    /// Creates the user's list from `ids` (an empty list is remembered too) unless it exists or
    /// `ticket` was voided; `true` when it did.
    fn list_fill(
        &self,
        user_id: &str,
        ticket: &FillTicket,
        ids: &[u64],
    ) -> impl Future<Output = Result<bool, CacheError>> + Send;
    /// Adds `id` to the user's list if the list exists; `false` when it does not (and then
    /// voids the list's fill reservations).
    fn list_add(&self, user_id: &str, id: u64) -> impl Future<Output = Result<bool, CacheError>> + Send;
    fn list_remove(&self, user_id: &str, ids: &[u64]) -> impl Future<Output = Result<(), CacheError>> + Send;
    /// The cached posts, in the order of `ids`.
    fn posts_get(&self, ids: &[u64]) -> impl Future<Output = Vec<Lookup<Post>>> + Send;
    fn posts_put(&self, posts: &[Post]) -> impl Future<Output = Result<(), CacheError>> + Send;
}
