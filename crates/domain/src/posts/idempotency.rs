//! Retried writes: a request carrying an `Idempotency-Key` is answered once; a retry with the
//! same key and body gets the first answer and stores nothing new; the same key with another
//! body is refused (422). The record pattern is Powertools': the first request claims the key
//! as in progress (with an expiry, so a crashed invocation cannot lock it for long), then
//! completes it with the answer; a failure deletes the claim so the retry can run.

use super::StoreError;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or its record expired): run the request, then complete or release.
    Claimed,
    /// The key was answered before.
    Completed { request_hash: String, status: u16, body: String },
    /// Another request with this key is running.
    InProgress,
}

/// Where idempotency records live (a DynamoDB table with a TTL attribute).
pub trait IdempotencyStore: Send + Sync {
    fn claim(
        &self,
        key: &str,
        request_hash: &str,
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
    fn release(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What to do with a request that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Run,
    Replay { status: u16, body: String },
    KeyReused,
    InProgress,
}

pub async fn decide<S: IdempotencyStore>(
    store: &S,
    key: &str,
    request_hash: &str,
    now_ms: u64,
    in_progress_ms: u64,
) -> Result<Decision, StoreError> {
    Ok(match store.claim(key, request_hash, now_ms, in_progress_ms).await? {
        Claim::Claimed => Decision::Run,
        Claim::Completed { request_hash: h, status, body } if h == request_hash => {
            Decision::Replay { status, body }
        }
        Claim::Completed { .. } => Decision::KeyReused,
        Claim::InProgress => Decision::InProgress,
    })
}

/// Hex SHA-256 of the parts, each length-prefixed so no two lists hash alike.
pub fn hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
