//! The per-caller rate limit on fetching previews, and the one rule for using it: a limiter
//! that cannot answer allows the call. It protects upstream sites from being hammered through
//! us; it must not take previews (or the posts that carry them) down with it.

use crate::cache::CacheError;
use std::future::Future;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    Limited { retry_after_s: u64 },
}

/// Counts a caller's previews in a sliding window; the check and the count are one atomic step.
pub trait RateLimiter: Send + Sync {
    fn hit(&self, caller: &str, now_ms: u64)
    -> impl Future<Output = Result<RateDecision, CacheError>> + Send;
}

impl<T: RateLimiter> RateLimiter for std::sync::Arc<T> {
    async fn hit(&self, caller: &str, now_ms: u64) -> Result<RateDecision, CacheError> {
        (**self).hit(caller, now_ms).await
    }
}

/// Counts a preview `caller` asks for at `now_ms` and says whether it may be fetched.
pub async fn admit<L: RateLimiter>(limiter: &L, caller: &str, now_ms: u64) -> RateDecision {
    match limiter.hit(caller, now_ms).await {
        Ok(decision) => decision,
        Err(e) => {
            tracing::warn!(error = %e, "rate limiter unavailable; allowing");
            RateDecision::Allowed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::FixedLimiter;

    #[tokio::test]
    async fn a_limiter_that_cannot_answer_allows_and_one_that_can_is_obeyed() {
        let down = FixedLimiter(Err(CacheError("node down".into())));
        assert_eq!(admit(&down, "ip:1", 0).await, RateDecision::Allowed);
        let limited = RateDecision::Limited { retry_after_s: 7 };
        assert_eq!(admit(&FixedLimiter(Ok(limited)), "ip:1", 0).await, limited);
        assert_eq!(admit(&FixedLimiter(Ok(RateDecision::Allowed)), "ip:1", 0).await, RateDecision::Allowed);
    }
}
