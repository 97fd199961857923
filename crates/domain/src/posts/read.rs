//! Reading a user's posts, newest first, a page at a time.
//!
//! Ids come from the user's cached list from the cursor on, posts from the cache; posts the
//! cache misses are read from the table and written back; ids that neither knows are dropped
//! from the list once they are old enough that they cannot be a post still on its way to the
//! table. A missing list is filled from the table. The cache keeps only the newest `list_max`
//! ids of a user; pages beyond them, and every page while the cache is down, come from the table.

use super::model::Post;
use super::{Lookup, PostCache, PostStore, StoreError};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub posts: Vec<Post>,
    /// The cursor for the next page: the last id of this one, when more may follow.
    pub next_cursor: Option<u64>,
}

/// What reading a page needs (the port `ops::read_posts` takes). [`PostReader`] is the
/// implementation.
pub trait PostPages: Send + Sync {
    /// The user's posts with ids below `before`, newest first, at most `limit`.
    fn page(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
        now_ms: u64,
    ) -> impl std::future::Future<Output = Result<Page, StoreError>> + Send;
}

impl<C: PostCache, S: PostStore> PostPages for PostReader<C, S> {
    async fn page(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
        now_ms: u64,
    ) -> Result<Page, StoreError> {
        PostReader::page(self, user_id, before, limit, now_ms).await
    }
}

pub struct PostReader<C, S> {
    pub cache: C,
    pub store: S,
    pub list_max: usize,
    /// Listed ids younger than this are never dropped for being unknown: the post may still be
    /// in the queue on its way to the table.
    pub repair_grace_ms: u64,
}

impl<C: PostCache, S: PostStore> PostReader<C, S> {
    pub async fn page(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
        now_ms: u64,
    ) -> Result<Page, StoreError> {
        let want = limit + 1;
        let ids = match self.cache.list_page(user_id, before, want).await {
            Ok(Some(list)) if list.ids.len() < want && list.full => {
                return self.table_page(user_id, before, limit).await;
            }
            Ok(Some(list)) => list.ids,
            Ok(None) => match self.fill(user_id, before, want).await? {
                Some(ids) => ids,
                None => return self.table_page(user_id, before, limit).await,
            },
            Err(e) => {
                tracing::warn!(error = %e, "user list unavailable; reading the table");
                return self.table_page(user_id, before, limit).await;
            }
        };
        let has_more = ids.len() == want;
        let window: Vec<u64> = ids.into_iter().take(limit).collect();
        let posts = self.hydrate(user_id, &window, now_ms).await?;
        Ok(Page { posts, next_cursor: if has_more { window.last().copied() } else { None } })
    }

    /// Fills the user's list from the table and returns its ids below `before`, or `None` when
    /// the page reaches past what the list holds.
    async fn fill(
        &self,
        user_id: &str,
        before: Option<u64>,
        want: usize,
    ) -> Result<Option<Vec<u64>>, StoreError> {
        let ticket = self.cache.list_reserve(user_id).await;
        let ids = self.store.newest_ids(user_id, self.list_max).await?;
        match ticket {
            Ok(ticket) => match self.cache.list_fill(user_id, &ticket, &ids).await {
                Ok(true) => {}
                // Filled meanwhile, or a post was added while the table was read (it may be
                // missing from `ids`): the next read fills the list.
                Ok(false) => tracing::debug!(user_id, "user list not filled: reservation voided"),
                Err(e) => tracing::warn!(error = %e, "user list not cached"),
            },
            Err(e) => tracing::warn!(error = %e, "user list not reserved"),
        }
        let full = ids.len() >= self.list_max;
        let below: Vec<u64> =
            ids.into_iter().filter(|id| before.is_none_or(|b| *id < b)).take(want).collect();
        Ok(if below.len() < want && full { None } else { Some(below) })
    }

    async fn table_page(&self, user_id: &str, before: Option<u64>, limit: usize) -> Result<Page, StoreError> {
        let mut posts = self.store.page(user_id, before, limit + 1).await?;
        let has_more = posts.len() > limit;
        posts.truncate(limit);
        let next_cursor = if has_more { posts.last().map(|p| p.post_id) } else { None };
        Ok(Page { posts, next_cursor })
    }

    /// The posts of `ids`, in order: cache, then table (written back), repairing the list.
    async fn hydrate(&self, user_id: &str, ids: &[u64], now_ms: u64) -> Result<Vec<Post>, StoreError> {
        let cached = self.cache.posts_get(ids).await;
        let mut found: HashMap<u64, Post> = HashMap::new();
        let mut missing = Vec::new();
        let mut definite_miss = Vec::new();
        for (id, lookup) in ids.iter().zip(cached) {
            match lookup {
                Lookup::Hit(p) if p.user_id == user_id => {
                    found.insert(*id, p);
                }
                Lookup::Miss => {
                    missing.push(*id);
                    definite_miss.push(*id);
                }
                _ => missing.push(*id),
            }
        }
        if !missing.is_empty() {
            let from_table = self.store.get_many(user_id, &missing).await?;
            if let Err(e) = self.cache.posts_put(&from_table).await {
                tracing::warn!(error = %e, "posts not written back to the cache");
            }
            for p in from_table {
                found.insert(p.post_id, p);
            }
            let grace_edge = now_ms.saturating_sub(self.repair_grace_ms);
            let gone: Vec<u64> = definite_miss
                .into_iter()
                .filter(|id| !found.contains_key(id))
                .filter(|id| snowflake::decode(*id).is_some_and(|d| d.unix_ms < grace_edge))
                .collect();
            if !gone.is_empty() {
                tracing::info!(user_id, count = gone.len(), "dropping unknown ids from the user list");
                if let Err(e) = self.cache.list_remove(user_id, &gone).await {
                    tracing::warn!(error = %e, "user list not repaired");
                }
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::posts::{MemoryPostCache, MemoryTable};
    use std::sync::atomic::Ordering;

    // Ids made now-ish and 1 hour ago (for the repair grace).
    fn id_at(unix_ms: u64, seq: u64) -> u64 {
        (unix_ms - snowflake::EPOCH_UNIX_MS) << 22 | seq
    }
    const NOW: u64 = 1_795_500_000_000;

    fn post(uid: &str, id: u64) -> Post {
        Post {
            user_id: uid.into(),
            post_id: id,
            contents: format!("p{id}"),
            url: None,
            scrap: None,
            created_at: String::new(),
        }
    }

    fn reader(list_max: usize) -> PostReader<MemoryPostCache, MemoryTable> {
        PostReader {
            cache: MemoryPostCache::new(list_max),
            store: MemoryTable::default(),
            list_max,
            repair_grace_ms: 600_000,
        }
    }

    fn ids(page: &Page) -> Vec<u64> {
        page.posts.iter().map(|p| p.post_id).collect()
    }

    #[tokio::test]
    async fn pages_newest_first_with_cursors_and_fills_a_missing_list() {
        let r = reader(100);
        let all: Vec<u64> = (0..7).map(|i| id_at(NOW - 3_600_000, i)).collect();
        for id in &all {
            r.store.insert(post("u", *id));
        }
        let p1 = r.page("u", None, 3, NOW).await.unwrap();
        assert_eq!(ids(&p1), vec![all[6], all[5], all[4]]);
        assert_eq!(p1.next_cursor, Some(all[4]));
        assert!(r.cache.list("u").is_some(), "the list was filled");
        let p2 = r.page("u", p1.next_cursor, 3, NOW).await.unwrap();
        assert_eq!(ids(&p2), vec![all[3], all[2], all[1]]);
        let p3 = r.page("u", p2.next_cursor, 3, NOW).await.unwrap();
        assert_eq!((ids(&p3), p3.next_cursor), (vec![all[0]], None));
    }

    #[tokio::test]
    async fn a_post_added_while_the_table_is_read_is_never_hidden_by_the_fill() {
        // The table read (newest_ids) returns, then the drain persists a post and adds it to
        // the still absent list, then the reader fills: the fill must be refused.
        struct RacingTable<'a> {
            table: MemoryTable,
            cache: &'a MemoryPostCache,
            late: Post,
        }
        impl PostStore for RacingTable<'_> {
            async fn page(&self, u: &str, b: Option<u64>, l: usize) -> Result<Vec<Post>, StoreError> {
                self.table.page(u, b, l).await
            }
            async fn newest_ids(&self, u: &str, l: usize) -> Result<Vec<u64>, StoreError> {
                let ids = self.table.newest_ids(u, l).await;
                self.table.insert(self.late.clone());
                assert!(!self.cache.list_add(u, self.late.post_id).await.unwrap());
                ids
            }
            async fn get_many(&self, u: &str, ids: &[u64]) -> Result<Vec<Post>, StoreError> {
                self.table.get_many(u, ids).await
            }
        }
        let cache = MemoryPostCache::new(100);
        let (old, late) = (id_at(NOW - 2_000, 0), id_at(NOW - 1_000, 0));
        let table = RacingTable { table: MemoryTable::default(), cache: &cache, late: post("u", late) };
        table.table.insert(post("u", old));
        let r = PostReader { cache: &cache, store: table, list_max: 100, repair_grace_ms: 60_000 };
        assert_eq!(ids(&r.page("u", None, 10, NOW).await.unwrap()), vec![old], "what the table read held");
        assert_eq!(cache.list("u"), None, "the stale fill was refused");
        let again =
            PostReader { cache: &cache, store: r.store.table, list_max: 100, repair_grace_ms: 60_000 };
        assert_eq!(ids(&again.page("u", None, 10, NOW).await.unwrap()), vec![late, old]);
        assert_eq!(cache.list("u"), Some(vec![late, old]), "the next read filled it");
    }

    #[tokio::test]
    async fn posts_missing_from_the_cache_are_read_and_written_back() {
        let r = reader(100);
        let id = id_at(NOW - 1_000, 0);
        r.store.insert(post("u", id));
        r.cache.seed_list("u", &[id]);
        assert_eq!(ids(&r.page("u", None, 10, NOW).await.unwrap()), vec![id]);
        assert!(r.cache.posts.lock().unwrap().contains_key(&id));
    }

    #[tokio::test]
    async fn unknown_ids_are_dropped_only_past_the_grace() {
        let r = reader(100);
        let (old, young) = (id_at(NOW - 3_600_000, 0), id_at(NOW - 1_000, 0));
        r.cache.seed_list("u", &[old, young]);
        assert!(r.page("u", None, 10, NOW).await.unwrap().posts.is_empty());
        assert_eq!(r.cache.list("u").unwrap(), vec![young], "the young id may still be in the queue");
    }

    #[tokio::test]
    async fn cache_down_reads_the_table() {
        let r = reader(100);
        let id = id_at(NOW, 0);
        r.store.insert(post("u", id));
        r.cache.down.store(true, Ordering::SeqCst);
        assert_eq!(ids(&r.page("u", None, 10, NOW).await.unwrap()), vec![id]);
    }

    #[tokio::test]
    async fn pages_past_a_full_list_come_from_the_table() {
        let r = reader(3);
        let all: Vec<u64> = (0..6).map(|i| id_at(NOW - 3_600_000, i)).collect();
        for id in &all {
            r.store.insert(post("u", *id));
        }
        let p1 = r.page("u", None, 2, NOW).await.unwrap();
        assert_eq!(ids(&p1), vec![all[5], all[4]]);
        let p2 = r.page("u", p1.next_cursor, 2, NOW).await.unwrap();
        assert_eq!(ids(&p2), vec![all[3], all[2]]);
        let p3 = r.page("u", p2.next_cursor, 2, NOW).await.unwrap();
        assert_eq!((ids(&p3), p3.next_cursor), (vec![all[1], all[0]], None));
    }

    #[tokio::test]
    async fn a_new_user_has_an_empty_page() {
        let r = reader(10);
        let p = r.page("nobody", None, 10, NOW).await.unwrap();
        assert_eq!((p.posts.len(), p.next_cursor), (0, None));
        assert_eq!(r.cache.list("nobody"), Some(vec![]));
    }
}
