//! Posts settings (post-write, post-read), all from environment variables (same names in
//! `template.yaml`, the local stack and the tests).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `POSTS_TABLE` | required | DynamoDB posts table |
//! | `POSTS_QUEUE_URL` | required (post-write, queue-drain) | SQS queue posts are sent to (and drained from) |
//! | `IDEMPOTENCY_TABLE` | required (post-write) | DynamoDB table of `Idempotency-Key` records |
//! | `POST_LIST_MAX` | 1000 | newest ids of a user kept in the cached list |
//! | `PREVIEW_BUDGET_MS` | 1500 | time a write waits for its link preview before storing without it |
//! | `POST_REPAIR_GRACE_SECONDS` | 900 | listed ids younger than this are never dropped as unknown |
//! | `COMPAT_WRITE_ENABLED` | false | serve the reference's write-by-GET route (off unless a stack turns it on) |

use chassis::{ConfigError, Env};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PostSettings {
    pub posts_table: String,
    pub list_max: usize,
    pub repair_grace_ms: u64,
}

impl PostSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            posts_table: env.required("POSTS_TABLE")?,
            list_max: env.number_or("POST_LIST_MAX", 1_000, 10..=100_000)?,
            repair_grace_ms: env.number_or("POST_REPAIR_GRACE_SECONDS", 900u64, 60..=7 * 86_400)? * 1_000,
        })
    }
}

#[derive(Debug, Clone)]
pub struct WriteSettings {
    pub queue_url: String,
    pub idempotency_table: String,
    pub preview_budget: Duration,
    pub compat_write_enabled: bool,
}

impl WriteSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            queue_url: env.required("POSTS_QUEUE_URL")?,
            idempotency_table: env.required("IDEMPOTENCY_TABLE")?,
            preview_budget: Duration::from_millis(env.number_or("PREVIEW_BUDGET_MS", 1_500, 0..=10_000)?),
            compat_write_enabled: env.flag_or("COMPAT_WRITE_ENABLED", false)?,
        })
    }
}

/// queue-drain's settings beyond the table: the queue it drains, to make failed messages
/// visible again early.
#[derive(Debug, Clone)]
pub struct DrainSettings {
    pub queue_url: String,
}

impl DrainSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self { queue_url: env.required("POSTS_QUEUE_URL")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_and_defaults() {
        let env =
            Env::from_pairs([("POSTS_TABLE", "p"), ("POSTS_QUEUE_URL", "q"), ("IDEMPOTENCY_TABLE", "i")]);
        let p = PostSettings::from_env(&env).unwrap();
        assert_eq!((p.list_max, p.repair_grace_ms), (1_000, 900_000));
        let w = WriteSettings::from_env(&env).unwrap();
        assert!(!w.compat_write_enabled, "off unless turned on");
        let on = Env::from_pairs([
            ("POSTS_QUEUE_URL", "q"),
            ("IDEMPOTENCY_TABLE", "i"),
            ("COMPAT_WRITE_ENABLED", "true"),
        ]);
        assert!(WriteSettings::from_env(&on).unwrap().compat_write_enabled);
        assert_eq!(w.preview_budget, Duration::from_millis(1_500));
        assert!(WriteSettings::from_env(&Env::from_pairs([("POSTS_TABLE", "p")])).is_err());
    }
}
