//! The scrap rate limiter of `domain::preview` on the sharded Redis: per-caller counters, one per
//! minute, summed over a sliding window by one script on the caller's node.

use crate::redis_shards::RedisShards;
use domain::cache::CacheError;
use domain::keys;
use domain::preview::{RateDecision, RateLimiter};
use std::sync::Arc;

/// Sums a caller's per-minute counters over the window and, only if under the limit, counts
/// this call: one script, so concurrent calls cannot slip past the limit. Returns
/// `{1, 0}` when allowed, `{0, age}` when limited, where `age` is how many minutes back the
/// oldest counted minute lies.
const RATE_SCRIPT: &str = r#"
local total = 0
local oldest = 0
for i = 1, #KEYS do
  local n = tonumber(redis.call('GET', KEYS[i]) or '0')
  if n > 0 then oldest = i end
  total = total + n
end
if total >= tonumber(ARGV[1]) then
  return {0, oldest - 1}
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return {1, 0}
"#;

/// The reference's rule: at most `limit` calls per caller in a sliding window of
/// `window_minutes`, counted per minute.
pub struct RedisRateLimiter {
    shards: Arc<RedisShards>,
    script: redis::Script,
    limit: u32,
    window_minutes: u64,
}

impl RedisRateLimiter {
    pub fn new(shards: Arc<RedisShards>, limit: u32, window_minutes: u64) -> Self {
        Self { shards, script: redis::Script::new(RATE_SCRIPT), limit, window_minutes: window_minutes.max(1) }
    }
}

impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, caller: &str, now_ms: u64) -> Result<RateDecision, CacheError> {
        if self.shards.is_empty() {
            return Ok(RateDecision::Allowed);
        }
        let minute = now_ms / 60_000;
        let keys: Vec<String> =
            (0..self.window_minutes).map(|i| keys::rate_minute(caller, minute.saturating_sub(i))).collect();
        let ttl_s = self.window_minutes * 60;
        let placement = keys::rate_placement(caller);
        let (script, limit, keys) = (&self.script, self.limit, &keys);
        let reply: Vec<i64> = self
            .shards
            .exec(&placement, |mut c| async move {
                let mut call = script.prepare_invoke();
                for k in keys {
                    call.key(k);
                }
                call.arg(limit).arg(ttl_s).invoke_async(&mut c).await
            })
            .await?;
        match reply.as_slice() {
            [1, _] => Ok(RateDecision::Allowed),
            [0, age] => {
                // The oldest counted minute leaves the window when minute `oldest + window` starts.
                let oldest = minute.saturating_sub(u64::try_from(*age).unwrap_or(0));
                let frees_at_ms = (oldest + self.window_minutes) * 60_000;
                Ok(RateDecision::Limited {
                    retry_after_s: frees_at_ms.saturating_sub(now_ms).div_ceil(1_000).max(1),
                })
            }
            other => Err(CacheError(format!("unexpected rate-limit reply {other:?}"))),
        }
    }
}
