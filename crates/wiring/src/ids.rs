//! Id settings (guid and post-write), all from environment variables (same names in
//! `template.yaml`, the local stack and the tests).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LEASE_TABLE` | required | DynamoDB table of worker leases |
//! | `LEASE_TTL_SECONDS` | 60 | how long a lease lasts from its last renewal |
//! | `LEASE_MARGIN_MS` | 2000 | a lease with less left is renewed before ids are issued |
//! | `MAX_CLOCK_BACKWARDS_MS` | 100 | a clock step back up to this is waited out, else 503 |

use chassis::{ConfigError, Env};
use domain::IssuerConfig;

#[derive(Debug, Clone)]
pub struct IdSettings {
    pub lease_table: String,
    pub issuer: IssuerConfig,
    function_name: String,
}

impl IdSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let ttl_s: u64 = env.number_or("LEASE_TTL_SECONDS", 60, 5..=3_600)?;
        let margin_ms: u64 = env.number_or("LEASE_MARGIN_MS", 2_000, 100..=60_000)?;
        if margin_ms * 2 > ttl_s * 1_000 {
            return Err(ConfigError::Invalid {
                name: "LEASE_MARGIN_MS".into(),
                value: margin_ms.to_string(),
                reason: format!("must be at most half of LEASE_TTL_SECONDS ({ttl_s} s)"),
            });
        }
        Ok(Self {
            lease_table: env.required("LEASE_TABLE")?,
            issuer: IssuerConfig {
                ttl_ms: ttl_s * 1_000,
                margin_ms,
                max_backwards_ms: env.number_or("MAX_CLOCK_BACKWARDS_MS", 100, 0..=5_000)?,
            },
            function_name: env.string_or("AWS_LAMBDA_FUNCTION_NAME", "ids"),
        })
    }

    /// A name for this instance, unique among all instances past and present: the function's
    /// name (for operators reading the lease table) and 64 random bits.
    pub fn holder(&self) -> String {
        format!("{}/{:016x}", self.function_name, rand::random::<u64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_required_table() {
        let c = IdSettings::from_env(&Env::from_pairs([("LEASE_TABLE", "leases")])).unwrap();
        assert_eq!(c.issuer, IssuerConfig { ttl_ms: 60_000, margin_ms: 2_000, max_backwards_ms: 100 });
        let e = IdSettings::from_env(&Env::from_pairs([("X", "y")])).unwrap_err();
        assert_eq!(e, ConfigError::Missing("LEASE_TABLE".into()));
    }

    #[test]
    fn margin_must_leave_room_in_the_lease() {
        let env =
            Env::from_pairs([("LEASE_TABLE", "t"), ("LEASE_TTL_SECONDS", "5"), ("LEASE_MARGIN_MS", "3000")]);
        assert!(IdSettings::from_env(&env).unwrap_err().to_string().contains("LEASE_MARGIN_MS"));
    }

    #[test]
    fn holders_differ() {
        let c = IdSettings::from_env(&Env::from_pairs([("LEASE_TABLE", "t")])).unwrap();
        assert_ne!(c.holder(), c.holder());
        assert!(c.holder().starts_with("ids/"));
    }
}
