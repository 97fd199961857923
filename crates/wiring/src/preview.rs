//! Link-preview settings (scrap and post-write), all from environment variables (same names in
//! `template.yaml`, the local stack and the tests).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `CACHE_NODES` | empty | `host:port,...` of the Redis nodes; empty = no cache, no rate limit |
//! | `SCRAP_TIMEOUT_MS` | 5000 | total time for one fetch, redirects included |
//! | `SCRAP_CONNECT_TIMEOUT_MS` | 2000 | time to connect to one address |
//! | `SCRAP_MAX_BODY_BYTES` | 2097152 | body bytes read at most (after decompression) |
//! | `SCRAP_MAX_REDIRECTS` | 5 | redirects followed, each re-checked |
//! | `SCRAP_CACHE_TTL_SECONDS` | 172800 | how long a preview is cached (2 days) |
//! | `SCRAP_FAILURE_TTL_SECONDS` | 300 | how long a failed fetch is remembered |
//! | `SCRAP_RATE_LIMIT` | 10 | scraps per caller in the window |
//! | `SCRAP_RATE_WINDOW_MINUTES` | 5 | the sliding window |
//! | `SCRAP_ALLOW_LOOPBACK` | false | fetch from 127.0.0.0/8 and ::1: for local test stacks only; the template never sets it |

use adapters::{FetchConfig, RedisShards};
use chassis::{ConfigError, Env};
use domain::preview::PreviewConfig;
use domain::preview::link::AddressPolicy;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PreviewSettings {
    pub cache_nodes: Vec<String>,
    pub fetch: FetchConfig,
    pub service: PreviewConfig,
    pub rate_limit: u32,
    pub rate_window_minutes: u64,
}

impl PreviewSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let policy = AddressPolicy { allow_loopback: env.flag_or("SCRAP_ALLOW_LOOPBACK", false)? };
        let total = Duration::from_millis(env.number_or("SCRAP_TIMEOUT_MS", 5_000, 100..=60_000)?);
        let fetch = FetchConfig {
            policy,
            max_redirects: env.number_or("SCRAP_MAX_REDIRECTS", 5, 0..=20)?,
            max_body_bytes: env.number_or(
                "SCRAP_MAX_BODY_BYTES",
                2 * 1024 * 1024,
                1_024..=20 * 1024 * 1024,
            )?,
            connect_timeout: Duration::from_millis(env.number_or(
                "SCRAP_CONNECT_TIMEOUT_MS",
                2_000,
                50..=30_000,
            )?),
            total_timeout: total,
            head_is_enough: Some(domain::preview::head_is_enough),
        };
        let service = PreviewConfig {
            preview_ttl: Duration::from_secs(env.number_or(
                "SCRAP_CACHE_TTL_SECONDS",
                172_800,
                1..=30 * 86_400,
            )?),
            failure_ttl: Duration::from_secs(env.number_or("SCRAP_FAILURE_TTL_SECONDS", 300, 1..=86_400)?),
            // The lock outlives one fetch, so a second fetch only starts if the first died.
            lock_ttl: total + Duration::from_secs(1),
            wait_step: Duration::from_millis(100),
            policy,
        };
        Ok(Self {
            cache_nodes: RedisShards::parse_nodes(&env.string_or("CACHE_NODES", "")),
            fetch,
            service,
            rate_limit: env.number_or("SCRAP_RATE_LIMIT", 10, 1..=1_000_000)?,
            rate_window_minutes: env.number_or("SCRAP_RATE_WINDOW_MINUTES", 5, 1..=60)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_reference() {
        let c = PreviewSettings::from_env(&Env::from_pairs::<_, &str, &str>([])).unwrap();
        assert!(c.cache_nodes.is_empty());
        assert_eq!((c.rate_limit, c.rate_window_minutes), (10, 5));
        assert_eq!(c.service.preview_ttl, Duration::from_secs(2 * 86_400));
        assert_eq!((c.fetch.max_redirects, c.fetch.max_body_bytes), (5, 2 * 1024 * 1024));
        assert!(!c.fetch.policy.allow_loopback);
    }

    #[test]
    fn nodes_and_flags_parse() {
        let env = Env::from_pairs([
            ("CACHE_NODES", "127.0.0.1:6380, 127.0.0.1:6381,"),
            ("SCRAP_ALLOW_LOOPBACK", "true"),
        ]);
        let c = PreviewSettings::from_env(&env).unwrap();
        assert_eq!(c.cache_nodes, ["127.0.0.1:6380", "127.0.0.1:6381"]);
        assert!(c.service.policy.allow_loopback && c.fetch.policy.allow_loopback);
        assert!(PreviewSettings::from_env(&Env::from_pairs([("SCRAP_TIMEOUT_MS", "0")])).is_err());
    }
}
