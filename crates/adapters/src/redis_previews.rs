//! The preview cache of `domain::preview` on the sharded Redis: a preview (or a cached failure)
//! under its key with a TTL, and the short per-URL lock that lets one request fetch while the
//! others wait for its result.

use crate::redis_shards::RedisShards;
use domain::cache::CacheError;
use domain::preview::PreviewCache;
use std::time::Duration;

fn px(ttl: Duration) -> u64 {
    (ttl.as_millis() as u64).max(1)
}

// With no nodes configured the cache is simply absent: every lookup misses, nothing is stored.
impl PreviewCache for RedisShards {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        if self.is_empty() {
            return Ok(None);
        }
        self.lookup(key, |mut c| async move { redis::cmd("GET").arg(key).query_async(&mut c).await }).await
    }

    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        if self.is_empty() {
            return Ok(());
        }
        self.exec(key, |mut c| async move {
            redis::cmd("SET").arg(key).arg(value).arg("PX").arg(px(ttl)).query_async(&mut c).await
        })
        .await
    }

    async fn lock(&self, key: &str, ttl: Duration) -> Result<bool, CacheError> {
        if self.is_empty() {
            return Ok(true);
        }
        let set: Option<String> = self
            .exec(key, |mut c| async move {
                redis::cmd("SET").arg(key).arg("1").arg("NX").arg("PX").arg(px(ttl)).query_async(&mut c).await
            })
            .await?;
        Ok(set.is_some())
    }

    async fn unlock(&self, key: &str) -> Result<(), CacheError> {
        if self.is_empty() {
            return Ok(());
        }
        self.exec(key, |mut c| async move { redis::cmd("DEL").arg(key).query_async::<i64>(&mut c).await })
            .await?;
        Ok(())
    }
}
