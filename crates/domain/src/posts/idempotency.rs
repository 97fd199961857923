//! Retried writes: a request carrying an `Idempotency-Key` is answered once; a retry with the
//! same key and body gets the first answer and stores nothing new; the same key with another
//! body is refused (422). The record pattern is Powertools': the first request claims the key
//! as in progress (until its invocation's deadline, so a crashed one cannot lock it for long),
//! then completes it with the answer.
//!
//! The claim also records the post id the request will write under. If the invocation dies, or
//! its answer cannot be recorded, after SQS accepted the post, the claim expires still in
//! progress; the retry that reclaims it (same key, same body) writes under the recorded id, so
//! it makes the same post again rather than a second one.
//!
//! A request that fails does not delete its claim (Powertools does), it expires it: a send to
//! SQS that timed out or was answered with an error may still have been accepted, so the retry
//! must write under the same post id, or one request could be stored as two posts.

use super::StoreError;
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or its record expired): run the request under `post_id`, then complete
    /// or release. `post_id` is the one an earlier, unfinished claim of the same request
    /// recorded, else the one offered.
    Claimed { post_id: u64 },
    /// The key was answered before.
    Completed { request_hash: String, status: u16, body: String },
    /// Another request with this key is running.
    InProgress,
}

/// Where idempotency records live (a DynamoDB table with a TTL attribute).
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for the request hashed `request_hash`, offering `post_id` as its post id.
    fn claim(
        &self,
        key: &str,
        request_hash: &str,
        post_id: u64,
        now_ms: u64,
        in_progress_ms: u64,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;
    fn complete(
        &self,
        key: &str,
        request_hash: &str,
        status: u16,
        body: &str,
        expires_at_s: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Ends the claim of a request that failed, keeping its post id for the retry: the claim is
    /// left in progress but expired, if it is still the claim for `post_id`.
    fn expire(&self, key: &str, post_id: u64) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What to do with a request that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run the request, writing under `post_id`.
    Run {
        post_id: u64,
    },
    Replay {
        status: u16,
        body: String,
    },
    KeyReused,
    InProgress,
}

pub async fn decide<S: IdempotencyStore>(
    store: &S,
    key: &str,
    request_hash: &str,
    post_id: u64,
    now_ms: u64,
    in_progress_ms: u64,
) -> Result<Decision, StoreError> {
    Ok(match store.claim(key, request_hash, post_id, now_ms, in_progress_ms).await? {
        Claim::Claimed { post_id } => Decision::Run { post_id },
        Claim::Completed { request_hash: h, status, body } if h == request_hash => {
            Decision::Replay { status, body }
        }
        Claim::Completed { .. } => Decision::KeyReused,
        Claim::InProgress => Decision::InProgress,
    })
}

/// Hex SHA-256 of the parts, each length-prefixed so no two lists hash alike.
pub fn hash(parts: &[&str]) -> String {
    crate::digest::sha256_hex_of_parts(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{MemoryIdempotency, MemoryRecord};

    const MIN: u64 = 60_000;

    fn expire(store: &MemoryIdempotency) {
        for record in store.records.lock().unwrap().values_mut() {
            if let MemoryRecord::InProgress { until_ms, .. } = record {
                *until_ms = 0;
            }
        }
    }

    #[tokio::test]
    async fn a_key_runs_once_and_replays_its_answer() {
        let s = MemoryIdempotency::default();
        assert_eq!(decide(&s, "k", "h", 7, 1_000, MIN).await.unwrap(), Decision::Run { post_id: 7 });
        assert_eq!(decide(&s, "k", "h", 8, 1_001, MIN).await.unwrap(), Decision::InProgress);
        s.complete("k", "h", 201, "{}", 0).await.unwrap();
        let replay = Decision::Replay { status: 201, body: "{}".into() };
        assert_eq!(decide(&s, "k", "h", 9, 1_002, MIN).await.unwrap(), replay);
        assert_eq!(decide(&s, "k", "other", 9, 1_002, MIN).await.unwrap(), Decision::KeyReused);
    }

    #[tokio::test]
    async fn an_unfinished_claim_hands_its_post_id_to_the_same_request_only() {
        let s = MemoryIdempotency::default();
        assert_eq!(decide(&s, "k", "h", 7, 1_000, MIN).await.unwrap(), Decision::Run { post_id: 7 });
        expire(&s);
        // The same request again: the first one's id, and recorded for the next takeover.
        assert_eq!(decide(&s, "k", "h", 8, 2_000, MIN).await.unwrap(), Decision::Run { post_id: 7 });
        expire(&s);
        assert_eq!(decide(&s, "k", "h", 9, 3_000, MIN).await.unwrap(), Decision::Run { post_id: 7 });
        // Another body under the key: a post of its own.
        expire(&s);
        assert_eq!(decide(&s, "k", "h2", 10, 4_000, MIN).await.unwrap(), Decision::Run { post_id: 10 });
    }

    #[tokio::test]
    async fn a_failed_request_expires_its_claim_and_the_retry_keeps_the_post_id() {
        let s = MemoryIdempotency::default();
        assert_eq!(decide(&s, "k", "h", 7, 1_000, MIN).await.unwrap(), Decision::Run { post_id: 7 });
        s.expire("k", 7).await.unwrap();
        // At once, not after the in-progress window: under the first id.
        assert_eq!(decide(&s, "k", "h", 8, 1_001, MIN).await.unwrap(), Decision::Run { post_id: 7 });
        // A stale expiry (another request took the key over) changes nothing.
        s.expire("k", 99).await.unwrap();
        assert_eq!(decide(&s, "k", "h", 9, 1_002, MIN).await.unwrap(), Decision::InProgress);
    }
}
