//! The posts cache on sharded Redis: `post:{id}` JSON values and each user's list `pl:{uid}`.
//!
//! Exact order: ids are 64-bit and above 2^53, so a sorted-set *score* (a double) cannot hold
//! them. Every member gets score 0 and is the id as a 20-digit zero-padded decimal; members of
//! equal score sort bytewise, which for fixed-width decimals is numeric order, and pages are
//! read with `ZREVRANGEBYLEX` from the cursor. The member `00000000000000000000` (no id is 0)
//! keeps a user with no posts cached as "known, empty". Scripts keep each list operation atomic:
//! a list is only added to when it exists (else a new post would hide the older ones), and is
//! trimmed to its newest `list_max` ids.
//!
//! Filling an absent list races the posts persisted meanwhile: a reader reads the table, the
//! drain persists a post and finds no list to add it to, then the reader writes a list without
//! it (for the list's whole TTL). So a fill is reserved first (`plf:{uid}`, a random token, on
//! the list's node), an add that finds no list deletes the reservation, and the fill writes
//! only while its own token is still there.

use crate::redis_shards::RedisShards;
use domain::cache::CacheError;
use domain::keys::{self, LIST_SENTINEL};
use domain::posts::{FillTicket, ListPage, Lookup, Post, PostCache};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct PostCacheConfig {
    pub post_ttl: Duration,
    pub list_ttl: Duration,
    pub list_max: usize,
}

impl Default for PostCacheConfig {
    fn default() -> Self {
        Self {
            post_ttl: Duration::from_secs(7 * 86_400),
            list_ttl: Duration::from_secs(7 * 86_400),
            list_max: 1_000,
        }
    }
}

pub struct RedisPosts {
    shards: Arc<RedisShards>,
    config: PostCacheConfig,
    fill: redis::Script,
    add: redis::Script,
}

/// `{card, {members...}}` below the cursor, or nil when the list does not exist.
const PAGE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local card = redis.call('ZCARD', KEYS[1])
local ids = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[1], '(' .. ARGV[3], 'LIMIT', 0, tonumber(ARGV[2]))
return {card, ids}
"#;

/// Trims to the sentinel plus the newest ARGV[2] members (the sentinel sorts first).
const TRIM: &str = r#"
local function trim(key, max)
  local extra = redis.call('ZCARD', key) - 1 - max
  if extra > 0 then redis.call('ZREMRANGEBYRANK', key, 1, extra) end
end
"#;

/// How long a fill reservation lasts: well beyond one table read (its SDK operation timeout).
const RESERVATION: Duration = Duration::from_secs(10);

/// KEYS: the list, its reservation; ARGV: ttl, max, the sentinel, the token, ids...
fn fill_script() -> String {
    format!(
        "{TRIM}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('GET', KEYS[2]) ~= ARGV[4] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZADD', KEYS[1], 0, ARGV[3])
for i = 5, #ARGV do redis.call('ZADD', KEYS[1], 0, ARGV[i]) end
trim(KEYS[1], tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1"
    )
}

/// KEYS: the list, its reservation; ARGV: ttl, max, the member.
fn add_script() -> String {
    format!(
        "{TRIM}
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  return 0
end
redis.call('ZADD', KEYS[1], 0, ARGV[3])
trim(KEYS[1], tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1"
    )
}

impl RedisPosts {
    pub fn new(shards: Arc<RedisShards>, config: PostCacheConfig) -> Self {
        Self {
            shards,
            config,
            fill: redis::Script::new(&fill_script()),
            add: redis::Script::new(&add_script()),
        }
    }

    fn ttl_ms(d: Duration) -> u64 {
        (d.as_millis() as u64).max(1)
    }
}

fn parse_member(m: &str) -> Option<u64> {
    if m == LIST_SENTINEL { None } else { m.parse().ok() }
}

impl PostCache for RedisPosts {
    async fn list_page(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Option<ListPage>, CacheError> {
        if self.shards.is_empty() {
            return Err(CacheError("no cache nodes".into()));
        }
        let key = keys::post_list(user_id);
        let max = before.map_or_else(|| "+".to_owned(), |b| format!("({}", keys::list_member(b)));
        // EVAL_RO: a read-only script, which a replica runs.
        let mut eval = redis::cmd("EVAL_RO");
        eval.arg(PAGE).arg(1).arg(&key).arg(&max).arg(limit).arg(LIST_SENTINEL);
        let reply: Option<(i64, Vec<String>)> = self
            .shards
            .lookup(&key, |mut c| {
                let eval = &eval;
                async move { eval.query_async(&mut c).await }
            })
            .await?;
        Ok(reply.map(|(card, members)| ListPage {
            ids: members.iter().filter_map(|m| parse_member(m)).collect(),
            full: usize::try_from(card - 1).unwrap_or(0) >= self.config.list_max,
        }))
    }

    async fn list_reserve(&self, user_id: &str) -> Result<FillTicket, CacheError> {
        if self.shards.is_empty() {
            return Err(CacheError("no cache nodes".into()));
        }
        let key = keys::post_list(user_id);
        let token: u64 = rand::random();
        let mut set = redis::cmd("SET");
        set.arg(keys::post_list_fill(user_id)).arg(token).arg("PX").arg(RESERVATION.as_millis() as u64);
        let () = self
            .shards
            .exec(&key, |mut c| {
                let set = &set;
                async move { set.query_async(&mut c).await }
            })
            .await?;
        Ok(FillTicket(token))
    }

    async fn list_fill(&self, user_id: &str, ticket: &FillTicket, ids: &[u64]) -> Result<bool, CacheError> {
        if self.shards.is_empty() {
            return Ok(false);
        }
        let key = keys::post_list(user_id);
        let reservation = keys::post_list_fill(user_id);
        let script = &self.fill;
        let (ttl, max) = (Self::ttl_ms(self.config.list_ttl), self.config.list_max);
        let filled: i64 = self
            .shards
            .exec(&key, |mut c| {
                let mut call = script.prepare_invoke();
                call.key(&key).key(&reservation).arg(ttl).arg(max).arg(LIST_SENTINEL).arg(ticket.0);
                for id in ids {
                    call.arg(keys::list_member(*id));
                }
                async move { call.invoke_async(&mut c).await }
            })
            .await?;
        Ok(filled == 1)
    }

    async fn list_add(&self, user_id: &str, id: u64) -> Result<bool, CacheError> {
        if self.shards.is_empty() {
            return Ok(false);
        }
        let key = keys::post_list(user_id);
        let reservation = keys::post_list_fill(user_id);
        let script = &self.add;
        let (ttl, max) = (Self::ttl_ms(self.config.list_ttl), self.config.list_max);
        let added: i64 = self
            .shards
            .exec(&key, |mut c| {
                let mut call = script.prepare_invoke();
                call.key(&key).key(&reservation).arg(ttl).arg(max).arg(keys::list_member(id));
                async move { call.invoke_async(&mut c).await }
            })
            .await?;
        Ok(added == 1)
    }

    async fn list_remove(&self, user_id: &str, ids: &[u64]) -> Result<(), CacheError> {
        if self.shards.is_empty() || ids.is_empty() {
            return Ok(());
        }
        let key = keys::post_list(user_id);
        let members: Vec<String> = ids.iter().map(|id| keys::list_member(*id)).collect();
        let mut zrem = redis::cmd("ZREM");
        zrem.arg(&key).arg(&members);
        let _: i64 = self
            .shards
            .exec(&key, |mut c| {
                let zrem = &zrem;
                async move { zrem.query_async(&mut c).await }
            })
            .await?;
        Ok(())
    }

    async fn posts_get(&self, ids: &[u64]) -> Vec<Lookup<Post>> {
        let mut out: Vec<Lookup<Post>> = ids.iter().map(|_| Lookup::Unavailable).collect();
        if self.shards.is_empty() {
            return out;
        }
        // One MGET per node (its replica, if any), all nodes at once.
        let topology = self.shards.topology().await;
        let mut by_node: HashMap<String, Vec<(usize, String)>> = HashMap::new();
        for (i, id) in ids.iter().enumerate() {
            let key = keys::post(*id);
            if let Some(node) = topology.read_node_for(&key) {
                by_node.entry(node.to_owned()).or_default().push((i, key));
            }
        }
        let calls = by_node.into_iter().map(|(node, entries)| async move {
            let keys: Vec<String> = entries.iter().map(|(_, k)| k.clone()).collect();
            let values: Result<Vec<Option<String>>, CacheError> = self
                .shards
                .exec_on(&node, |mut c| {
                    let keys = &keys;
                    async move { redis::cmd("MGET").arg(keys).query_async(&mut c).await }
                })
                .await;
            (node, entries, values)
        });
        for (node, entries, values) in futures_util::future::join_all(calls).await {
            match values {
                Ok(values) => {
                    let hits = values.iter().filter(|v| v.is_some()).count() as u64;
                    crate::redis_shards::count_lookups(&node, hits, values.len() as u64 - hits);
                    for ((i, key), value) in entries.into_iter().zip(values) {
                        let lookup = match value.map(|v| serde_json::from_str::<Post>(&v)) {
                            Some(Ok(p)) => Lookup::Hit(p),
                            Some(Err(e)) => {
                                tracing::warn!(key, error = %e, "unreadable cached post ignored");
                                Lookup::Miss
                            }
                            None => Lookup::Miss,
                        };
                        if let Some(slot) = out.get_mut(i) {
                            *slot = lookup;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cached posts unavailable"),
            }
        }
        out
    }

    async fn posts_put(&self, posts: &[Post]) -> Result<(), CacheError> {
        if self.shards.is_empty() || posts.is_empty() {
            return Ok(());
        }
        let ttl = Self::ttl_ms(self.config.post_ttl);
        let topology = self.shards.topology().await;
        let mut by_node: HashMap<String, redis::Pipeline> = HashMap::new();
        for p in posts {
            let key = keys::post(p.post_id);
            let json = serde_json::to_string(p).map_err(|e| CacheError(e.to_string()))?;
            if let Some(node) = topology.node_for(&key) {
                by_node
                    .entry(node.to_owned())
                    .or_insert_with(redis::pipe)
                    .cmd("SET")
                    .arg(key)
                    .arg(json)
                    .arg("PX")
                    .arg(ttl)
                    .ignore();
            }
        }
        let calls = by_node.into_iter().map(|(node, pipe)| async move {
            self.shards
                .exec_on(&node, |mut c| {
                    let pipe = &pipe;
                    async move { pipe.query_async::<()>(&mut c).await }
                })
                .await
        });
        for r in futures_util::future::join_all(calls).await {
            r?;
        }
        Ok(())
    }
}
