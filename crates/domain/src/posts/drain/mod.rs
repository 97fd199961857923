//! Persisting queued posts: decode each message, write the batch in as few table calls as it
//! allows, retry what the table leaves unprocessed, and report exactly the messages that failed.
//!
//! Every message ends in exactly one of *persisted* or *failed*. A message that can never
//! succeed (not JSON, an unknown envelope version, a post that breaks the rules) fails as
//! *permanent* at once; the dead-letter handler parks those instead of retrying them.
//! Writing is idempotent: an item is a pure function of its message and never changes later,
//! so a redelivered message rewrites the same bytes and the post is stored once.
//!
//! Every table call is bounded by the batch's deadline, so a batch never runs past its
//! function's timeout (which would redeliver it whole). A failed message comes back sooner than
//! the queue's visibility timeout: a permanent failure at once (it reaches the dead-letter
//! queue after its few receives, in seconds), a transient one after [`retry_delay_s`].
//!
//! Once persisted, each post is added to its user's cached list where that list is cached
//! ([`list_persisted`]); a failed update fails the message for a few receives.
//!
//! The files, by concern: this one decodes a batch, writes one item per key in chunks and
//! gathers the outcome; `write` writes one chunk, retrying with [`Backoff`]; `cached_lists`
//! adds the persisted posts to their users' cached lists, and says why; `redelivery` says
//! when a failed message comes back ([`retry_delay_s`], [`list_retry_delay_s`], [`Redeliveries`]).

mod cached_lists;
#[cfg(test)]
mod fixtures;
mod redelivery;
mod write;

pub use cached_lists::{LIST_UPDATE_RECEIVES, list_persisted};
pub use redelivery::{MAX_RETRY_DELAY_S, Redeliveries, list_retry_delay_s, retry_delay_s};
pub use write::Backoff;

use super::StoreError;
use super::message::decode;
use super::model::Post;
use std::collections::HashMap;
use std::future::Future;
use write::write_chunk;

/// Where batches of posts are written (DynamoDB BatchWriteItem).
pub trait PostBatchStore: Send + Sync {
    /// The most posts one call takes (the table's limit: 25 for DynamoDB's BatchWriteItem).
    const MAX_BATCH: usize;
    /// Writes `posts`; returns the indices the table left unprocessed (throttling).
    fn put_batch(&self, posts: &[Post]) -> impl Future<Output = Result<Vec<usize>, StoreError>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message_id: String,
    /// Never retried: the message can not succeed.
    pub permanent: bool,
    /// Persisted, but its user's cached list is not updated yet: tried again on the slower
    /// schedule of [`list_retry_delay_s`], which outlasts a node's outage and its breaker.
    pub unlisted: bool,
    pub reason: String,
}

impl Failure {
    /// Seconds until this message, failed on its `receive_count`th receive, is tried again.
    pub fn redelivery_delay_s(&self, receive_count: u32) -> u32 {
        if self.unlisted {
            list_retry_delay_s(receive_count)
        } else {
            retry_delay_s(self.permanent, receive_count)
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub persisted: Vec<String>,
    /// The post (user, id) of each persisted message.
    pub keys: HashMap<String, (String, u64)>,
    pub failed: Vec<Failure>,
    /// Table writes sent again (unprocessed items or failed requests), for the metrics.
    pub retries: u64,
}

/// Persists the messages `(message id, body)`; gives up on what is left at `deadline`.
pub async fn drain<S: PostBatchStore>(
    store: &S,
    messages: &[(String, String)],
    deadline: tokio::time::Instant,
    backoff: Backoff,
) -> Outcome {
    let mut outcome = Outcome::default();
    // One item per key: BatchWriteItem refuses a request naming a key twice.
    let mut by_key: HashMap<(String, u64), (Post, Vec<String>)> = HashMap::new();
    let mut order = Vec::new();
    for (id, body) in messages {
        match decode(body) {
            Ok(post) => {
                let key = (post.user_id.clone(), post.post_id);
                match by_key.get_mut(&key) {
                    Some((_, ids)) => ids.push(id.clone()),
                    None => {
                        order.push(key.clone());
                        by_key.insert(key, (post, vec![id.clone()]));
                    }
                }
            }
            Err(reason) => outcome.failed.push(Failure {
                message_id: id.clone(),
                permanent: true,
                unlisted: false,
                reason,
            }),
        }
    }
    let entries: Vec<(Post, Vec<String>)> = order.into_iter().filter_map(|k| by_key.remove(&k)).collect();
    // The chunks of a batch (at most 4 for the 100 messages SQS delivers) are written at once.
    let writes =
        entries.chunks(S::MAX_BATCH.max(1)).map(|chunk| write_chunk(store, chunk, deadline, backoff));
    let results = futures_util::future::join_all(writes).await;
    for (chunk, (results, retries)) in entries.chunks(S::MAX_BATCH.max(1)).zip(results) {
        outcome.retries += retries;
        for ((post, ids), result) in chunk.iter().zip(results) {
            match result {
                Ok(()) => {
                    outcome.persisted.extend(ids.iter().cloned());
                    for id in ids {
                        outcome.keys.insert(id.clone(), (post.user_id.clone(), post.post_id));
                    }
                }
                Err(reason) => outcome.failed.extend(ids.iter().map(|id| Failure {
                    message_id: id.clone(),
                    permanent: false,
                    unlisted: false,
                    reason: reason.clone(),
                })),
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::fixtures::{BASE, FAST, FlakyTable, body, deadline};
    use super::*;
    use proptest::prelude::*;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    #[tokio::test]
    async fn a_batch_of_a_hundred_takes_four_requests() {
        let table = FlakyTable::default();
        let messages: Vec<(String, String)> =
            (0..100).map(|i| (format!("m{i}"), body("u", BASE + i))).collect();
        let out = drain(&table, &messages, deadline(5_000), FAST).await;
        assert_eq!((out.persisted.len(), out.failed.len(), out.retries), (100, 0, 0));
        assert_eq!(table.calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn duplicates_in_a_batch_are_written_once_and_share_the_outcome() {
        let table = FlakyTable::default();
        let messages =
            vec![("a".into(), body("u", BASE)), ("b".into(), body("u", BASE)), ("c".into(), "junk".into())];
        let out = drain(&table, &messages, deadline(1_000), FAST).await;
        assert_eq!(out.persisted, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(out.failed.len(), 1);
        assert!(out.failed[0].permanent);
        assert_eq!(table.items.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn what_the_table_never_takes_fails_as_transient_at_the_deadline() {
        let table = FlakyTable { skip: 1, ..FlakyTable::default() };
        let messages = vec![("a".into(), body("u", BASE))];
        let out = drain(&table, &messages, deadline(50), FAST).await;
        assert_eq!(out.failed.len(), 1);
        assert!(!out.failed[0].permanent);
    }

    /// A table that never answers.
    struct HangingTable;

    impl PostBatchStore for HangingTable {
        const MAX_BATCH: usize = 25;
        async fn put_batch(&self, _: &[Post]) -> Result<Vec<usize>, StoreError> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_table_call_never_runs_past_the_deadline() {
        let messages = vec![("a".into(), body("u", BASE)), ("b".into(), body("v", BASE))];
        let started = std::time::Instant::now();
        let out = drain(&HangingTable, &messages, deadline(100), FAST).await;
        assert!(started.elapsed() < Duration::from_millis(1_000), "took {:?}", started.elapsed());
        assert_eq!(out.failed.len(), 2);
        assert!(out.failed.iter().all(|f| !f.permanent && f.reason.contains("deadline")), "{out:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every message ends in exactly one of persisted or failed; every persisted message's
        /// post is in the table; a failure is permanent exactly when the message is malformed.
        #[test]
        fn every_message_is_persisted_or_failed_exactly_once(
            kinds in prop::collection::vec(0u8..4, 0..120),
            skip in 0usize..5,
            fail in 0usize..4,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
            let table = FlakyTable { skip, fail, ..FlakyTable::default() };
            let messages: Vec<(String, String)> = kinds
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let b = match k {
                        0 => "garbage".to_owned(),
                        1 => body("dup", BASE), // the same post many times
                        _ => body("u", BASE + i as u64),
                    };
                    (format!("m{i}"), b)
                })
                .collect();
            let out = rt.block_on(drain(&table, &messages, deadline(60), FAST));
            // Every table call beyond the first per chunk is counted as a retry.
            let unique = kinds.iter().filter(|k| **k >= 2).count() + usize::from(kinds.contains(&1));
            prop_assert_eq!(table.calls.load(Ordering::SeqCst) as u64, unique.div_ceil(FlakyTable::MAX_BATCH) as u64 + out.retries);
            let mut seen: Vec<&String> = out.persisted.iter().chain(out.failed.iter().map(|f| &f.message_id)).collect();
            seen.sort();
            let mut all: Vec<&String> = messages.iter().map(|(id, _)| id).collect();
            all.sort();
            prop_assert_eq!(seen, all);
            let items = table.items.lock().unwrap();
            for id in &out.persisted {
                let (_, b) = messages.iter().find(|(m, _)| m == id).unwrap();
                let p = decode(b).unwrap();
                prop_assert!(items.contains_key(&(p.user_id, p.post_id)));
            }
            for f in &out.failed {
                let (_, b) = messages.iter().find(|(m, _)| *m == f.message_id).unwrap();
                prop_assert_eq!(f.permanent, decode(b).is_err());
            }
        }
    }
}
