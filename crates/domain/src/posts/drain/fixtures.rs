//! What the drain's tests drive it with: a table that leaves items unprocessed and fails
//! requests on a schedule, message bodies, deadlines and a backoff fast enough for a test.

use super::{Backoff, PostBatchStore};
use crate::posts::{Post, StoreError};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A table that leaves every `skip`-th item unprocessed and fails every `fail`-th request.
#[derive(Default)]
pub(super) struct FlakyTable {
    pub(super) items: Mutex<BTreeMap<(String, u64), Post>>,
    pub(super) calls: AtomicUsize,
    pub(super) skip: usize,
    pub(super) fail: usize,
}

impl PostBatchStore for FlakyTable {
    const MAX_BATCH: usize = 25;
    async fn put_batch(&self, posts: &[Post]) -> Result<Vec<usize>, StoreError> {
        assert!(posts.len() <= Self::MAX_BATCH);
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail > 0 && call % self.fail == 0 {
            return Err(StoreError("throttled".into()));
        }
        let mut unprocessed = Vec::new();
        let mut items = self.items.lock().unwrap();
        for (i, p) in posts.iter().enumerate() {
            if self.skip > 0 && (call + i) % self.skip == 0 {
                unprocessed.push(i);
            } else {
                // Idempotent: a rewrite stores the same item.
                items.insert((p.user_id.clone(), p.post_id), p.clone());
            }
        }
        Ok(unprocessed)
    }
}

pub(super) const BASE: u64 = 725_617_227_714_740_224;

pub(super) fn body(uid: &str, id: u64) -> String {
    format!(
        r#"{{"v":1,"post":{{"user_id":"{uid}","post_id":"{id}","contents":"c{id}","url":null,"scrap":null,"created_at":""}}}}"#
    )
}

pub(super) fn deadline(ms: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_millis(ms)
}

pub(super) const FAST: Backoff = Backoff { first: Duration::from_millis(1), max: Duration::from_millis(4) };
