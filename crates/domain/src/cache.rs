//! The error every cache port shares (previews, posts, the rate limiter's counters). A cache is
//! never required: whoever gets this error goes on without the cache (a miss, a skipped update,
//! a call allowed), so it carries only what to log.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cache: {0}")]
pub struct CacheError(pub String);
