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

use std::future::Future;

/// The idempotency records could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("idempotency records: {0}")]
pub struct RecordsError(pub String);

/// How long a record is kept for retries (the store's TTL attribute).
pub const RECORD_TTL_S: u64 = 3_600;

/// An idempotency record as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A request is running (or ran and died) under `post_id`.
    InProgress { request_hash: String, post_id: u64 },
    /// The request was answered.
    Completed { request_hash: String, status: u16, body: String },
}

/// What a conditional claim did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// The claim is now the key's record; `replaced` is the expired or abandoned record it
    /// overwrote, if there was one.
    Claimed { replaced: Option<Record> },
    /// A live record kept the claim out (`None`: it was gone again by the time it was read).
    Refused { held: Option<Record> },
}

/// Where idempotency records live (a DynamoDB table with a TTL attribute). The store knows
/// only its conditional writes; which post id a claim runs under is decided here, in [`decide`].
pub trait IdempotencyStore: Send + Sync {
    /// Writes an in-progress record of `key` for the request hashed `request_hash` under
    /// `post_id`, lasting until `until_ms`, unless the key holds a live record: one completed
    /// and not past its TTL, or one in progress past `now_ms`.
    fn put_claim(
        &self,
        key: &str,
        request_hash: &str,
        post_id: u64,
        now_ms: u64,
        until_ms: u64,
    ) -> impl Future<Output = Result<Put, RecordsError>> + Send;
    /// Changes the record's post id from `from` to `to` if it still is `from`; false when
    /// another request took the key over meanwhile.
    fn swap_post_id(
        &self,
        key: &str,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<bool, RecordsError>> + Send;
    fn complete(
        &self,
        key: &str,
        request_hash: &str,
        status: u16,
        body: &str,
        expires_at_s: u64,
    ) -> impl Future<Output = Result<(), RecordsError>> + Send;
    /// Ends the claim of a request that failed, keeping its post id for the retry: the claim is
    /// left in progress but expired, if it is still the claim for `post_id`.
    fn expire(&self, key: &str, post_id: u64) -> impl Future<Output = Result<(), RecordsError>> + Send;
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

/// Claims `key` for the request hashed `request_hash`, offering `post_id` as its post id.
pub async fn decide<S: IdempotencyStore>(
    store: &S,
    key: &str,
    request_hash: &str,
    post_id: u64,
    now_ms: u64,
    in_progress_ms: u64,
) -> Result<Decision, RecordsError> {
    Ok(match store.put_claim(key, request_hash, post_id, now_ms, now_ms + in_progress_ms).await? {
        // An unfinished claim of the same request was replaced: it may have sent its post to SQS
        // already, so this run writes under its id, recorded on the new claim first in case this
        // run does not finish either.
        Put::Claimed { replaced: Some(Record::InProgress { request_hash: h, post_id: earlier }) }
            if h == request_hash && earlier != post_id =>
        {
            if store.swap_post_id(key, post_id, earlier).await? {
                Decision::Run { post_id: earlier }
            } else {
                // Another request took the key over meanwhile: it runs, not this one.
                Decision::InProgress
            }
        }
        Put::Claimed { .. } => Decision::Run { post_id },
        Put::Refused { held: Some(Record::Completed { request_hash: h, status, body }) } => {
            if h == request_hash { Decision::Replay { status, body } } else { Decision::KeyReused }
        }
        // In progress, or gone again between the two calls: either way, not this one's to run now.
        Put::Refused { .. } => Decision::InProgress,
    })
}

/// Hex SHA-256 of the parts, each length-prefixed so no two lists hash alike.
pub fn hash(parts: &[&str]) -> String {
    crate::digest::sha256_hex_of_parts(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::MemoryIdempotency;

    const MIN: u64 = 60_000;

    fn expire(store: &MemoryIdempotency) {
        store.run_out_claims();
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
