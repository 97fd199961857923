//! After a batch is persisted, each post is added to its user's cached list where that list
//! is cached: a write whose own cache update failed (a node frozen or unreachable), or a list
//! refilled from the table before the post reached it, would otherwise leave the list without
//! the post for as long as it is cached. A failed update fails the message for a few receives,
//! so it is tried again once the node is back; writing it again is harmless.

use super::{Failure, Outcome};
use crate::posts::PostCache;
use std::collections::HashMap;

/// Receives during which a persisted post whose cached list could not be updated is failed
/// for another try; beyond them the list is left (it expires, or a read refills it). Below the
/// queue's 5 receives, so such a message never reaches the dead-letter queue.
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
            if unlisted {
                tracing::warn!(message_id = %id, receive, "cached list given up on: it lacks the post until it expires");
            }
            kept.push(id);
        }
    }
    for id in retried {
        outcome.keys.remove(&id);
        outcome.failed.push(Failure {
            message_id: id,
            permanent: false,
            unlisted: true,
            reason: "persisted; its user's cached list not updated yet".into(),
        });
    }
    outcome.persisted = kept;
    failed.len()
}

#[cfg(test)]
mod tests {
    use super::super::drain;
    use super::super::fixtures::{BASE, FAST, FlakyTable, body, deadline};
    use super::*;
    use std::sync::atomic::Ordering;

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
        assert!(out.failed[0].unlisted);
        let pauses: Vec<u32> =
            (1..LIST_UPDATE_RECEIVES).map(|n| out.failed[0].redelivery_delay_s(n)).collect();
        assert_eq!(pauses, [2, 6, 20], "list tries span a node's outage and its breaker's cool-down");
    }
}
