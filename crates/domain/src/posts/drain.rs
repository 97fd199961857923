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
//! ([`list_persisted`]): a write whose own cache update failed (a node frozen or unreachable),
//! or a list refilled from the table before the post reached it, would otherwise leave the list
//! without the post for as long as it is cached. A failed update fails the message for a few
//! receives, so it is tried again once the node is back; writing it again is harmless.

use super::message::decode;
use super::model::Post;
use super::{PostCache, QueueError, StoreError};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

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
    pub reason: String,
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

/// Receives during which a persisted post whose cached list could not be updated is failed
/// for another try (the tries span 1 + 2 + 4 s: a node frozen for a few seconds, then skipped
/// by its breaker for 5 s more); beyond them the list is left (it expires, or a read refills
/// it). Below the queue's 5 receives, so such a message never reaches the dead-letter queue.
pub const LIST_UPDATE_RECEIVES: u32 = 4;

/// Adds each persisted post to its user's cached list, if the list is cached (one update per
/// post, all at once, each bounded by `deadline`). A message whose update failed moves from
/// persisted to failed (transient) while its receive count (`receives`, by message id; 1 when
/// unknown) is below [`LIST_UPDATE_RECEIVES`]; how many updates failed is returned.
pub async fn list_persisted<C: PostCache>(
    cache: &C,
    outcome: &mut Outcome,
    receives: &HashMap<String, u32>,
    deadline: tokio::time::Instant,
) -> usize {
    let mut posts: Vec<(String, u64)> = outcome.keys.values().cloned().collect();
    posts.sort_unstable();
    posts.dedup();
    let updates = posts.iter().map(|(user, id)| async move {
        let done = matches!(tokio::time::timeout_at(deadline, cache.list_add(user, *id)).await, Ok(Ok(_)));
        ((user.clone(), *id), done)
    });
    let failed: std::collections::HashSet<(String, u64)> = futures_util::future::join_all(updates)
        .await
        .into_iter()
        .filter(|(_, done)| !done)
        .map(|(k, _)| k)
        .collect();
    if failed.is_empty() {
        return 0;
    }
    let (mut kept, mut retried) = (Vec::new(), Vec::new());
    for id in std::mem::take(&mut outcome.persisted) {
        let unlisted = outcome.keys.get(&id).is_some_and(|k| failed.contains(k));
        let receive = receives.get(&id).copied().unwrap_or(1);
        if unlisted && receive < LIST_UPDATE_RECEIVES {
            retried.push(id);
        } else {
            kept.push(id);
        }
    }
    for id in retried {
        outcome.keys.remove(&id);
        outcome.failed.push(Failure {
            message_id: id,
            permanent: false,
            reason: "persisted; its user's cached list not updated yet".into(),
        });
    }
    outcome.persisted = kept;
    failed.len()
}

/// Makes failed messages visible again early (SQS ChangeMessageVisibility).
pub trait Redeliveries: Send + Sync {
    /// Each `(receipt handle, seconds)`: the message is delivered again after that delay.
    fn redeliver(&self, after: &[(String, u32)]) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// Longest wait before a transiently failed message is tried again.
pub const MAX_RETRY_DELAY_S: u32 = 16;

/// When a failed message is tried again: a permanent failure at once (no attempt can succeed,
/// so it goes on to the dead-letter queue without waiting), a transient one after a delay that
/// doubles with each receive (1, 2, 4 ... [`MAX_RETRY_DELAY_S`] s).
pub fn retry_delay_s(permanent: bool, receive_count: u32) -> u32 {
    if permanent {
        return 0;
    }
    1u32.checked_shl(receive_count.saturating_sub(1)).unwrap_or(u32::MAX).min(MAX_RETRY_DELAY_S)
}

/// Retry pacing for unprocessed items and failed requests.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { first: Duration::from_millis(25), max: Duration::from_secs(1) }
    }
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
            Err(reason) => outcome.failed.push(Failure { message_id: id.clone(), permanent: true, reason }),
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
                    reason: reason.clone(),
                })),
            }
        }
    }
    outcome
}

/// Writes one chunk, retrying unprocessed items and errors with jittered exponential backoff
/// until the deadline; the result per entry, in order, and how many writes were retries.
async fn write_chunk<S: PostBatchStore>(
    store: &S,
    chunk: &[(Post, Vec<String>)],
    deadline: tokio::time::Instant,
    backoff: Backoff,
) -> (Vec<Result<(), String>>, u64) {
    let mut retries = 0u64;
    let mut results: Vec<Result<(), String>> = vec![Ok(()); chunk.len()];
    let mut pending: Vec<usize> = (0..chunk.len()).collect();
    let mut pause = backoff.first;
    let mut last_error = String::from("unprocessed by the table");
    while !pending.is_empty() {
        let posts: Vec<Post> = pending.iter().filter_map(|i| chunk.get(*i).map(|(p, _)| p.clone())).collect();
        match tokio::time::timeout_at(deadline, store.put_batch(&posts)).await {
            Ok(Ok(unprocessed)) => {
                pending = unprocessed.iter().filter_map(|i| pending.get(*i).copied()).collect()
            }
            Ok(Err(e)) => last_error = e.to_string(),
            Err(_) => {
                last_error = "the table did not answer before the batch's deadline".into();
                break;
            }
        }
        if pending.is_empty() {
            break;
        }
        // Spread over [0.5, 1.5) of the pause, so chunks throttled together do not retry together.
        let jittered = pause.mul_f64(0.5 + rand::random::<f64>());
        if tokio::time::Instant::now() + jittered >= deadline {
            break;
        }
        tokio::time::sleep(jittered).await;
        pause = (pause * 2).min(backoff.max);
        retries += 1;
    }
    for i in pending {
        if let Some(r) = results.get_mut(i) {
            *r = Err(last_error.clone());
        }
    }
    (results, retries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A table that leaves every `skip`-th item unprocessed and fails every `fail`-th request.
    #[derive(Default)]
    struct FlakyTable {
        items: Mutex<BTreeMap<(String, u64), Post>>,
        calls: AtomicUsize,
        skip: usize,
        fail: usize,
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

    const BASE: u64 = 725_617_227_714_740_224;

    fn body(uid: &str, id: u64) -> String {
        format!(
            r#"{{"v":1,"post":{{"user_id":"{uid}","post_id":"{id}","contents":"c{id}","url":null,"scrap":null,"created_at":""}}}}"#
        )
    }

    fn deadline(ms: u64) -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_millis(ms)
    }

    const FAST: Backoff = Backoff { first: Duration::from_millis(1), max: Duration::from_millis(4) };

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

    #[tokio::test]
    async fn persisted_posts_join_their_cached_lists_and_a_failed_update_is_retried() {
        use crate::fakes::posts::MemoryPostCache;
        let table = FlakyTable::default();
        let cache = MemoryPostCache::new(100);
        cache.seed_list("u", &[BASE - 1]);
        let messages = vec![("a".into(), body("u", BASE)), ("b".into(), body("v", BASE + 1))];
        let mut out = drain(&table, &messages, deadline(1_000), FAST).await;
        assert_eq!(list_persisted(&cache, &mut out, &HashMap::new(), deadline(1_000)).await, 0);
        assert_eq!(cache.list("u").unwrap(), vec![BASE, BASE - 1], "added to the cached list");
        assert_eq!(cache.list("v"), None, "an uncached list stays uncached");
        assert_eq!(out.persisted.len(), 2);

        // The cache is down: the message is tried again, until its third receive.
        cache.down.store(true, Ordering::SeqCst);
        let mut out = drain(&table, &messages, deadline(1_000), FAST).await;
        let receives = HashMap::from([("a".to_owned(), 1), ("b".to_owned(), LIST_UPDATE_RECEIVES)]);
        assert_eq!(list_persisted(&cache, &mut out, &receives, deadline(1_000)).await, 2);
        assert_eq!(out.persisted, vec!["b".to_owned()], "given up on at its last receive");
        assert_eq!(out.failed.len(), 1);
        assert!(out.failed[0].message_id == "a" && !out.failed[0].permanent, "{out:?}");
        assert_eq!(table.items.lock().unwrap().len(), 2, "persisted all the same");
    }

    #[test]
    fn failed_messages_come_back_early() {
        assert_eq!(retry_delay_s(true, 1), 0);
        assert_eq!(retry_delay_s(true, 9), 0);
        let transient: Vec<u32> = (0..=7).map(|n| retry_delay_s(false, n)).collect();
        assert_eq!(transient, [1, 1, 2, 4, 8, 16, 16, 16]);
        assert_eq!(retry_delay_s(false, u32::MAX), MAX_RETRY_DELAY_S);
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
