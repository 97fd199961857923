//! Configuration from environment variables.
//!
//! Functions read every setting once, in `main`, through [`Env`]; a missing or malformed value
//! fails the cold start with a [`ConfigError`] naming the variable, never the first request.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(String),
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid { name: String, value: String, reason: String },
}

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A source of variables: the process environment, or a fixed list in tests.
pub struct Env {
    lookup: Lookup,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Self { lookup: Box::new(|name| std::env::var(name).ok()) }
    }

    /// A fixed set of variables (tests).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: std::collections::HashMap<String, String> =
            pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Self { lookup: Box::new(move |name| vars.get(name).cloned()) }
    }

    /// A set value; an empty value counts as unset.
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// A string that must be set.
    pub fn required(&self, name: &str) -> Result<String, ConfigError> {
        self.get(name).ok_or_else(|| ConfigError::Missing(name.to_owned()))
    }

    /// A string with a default.
    pub fn string_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    /// A number with a default, which must lie in `range`.
    pub fn number_or<T>(&self, name: &str, default: T, range: RangeInclusive<T>) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Display + Copy,
        T::Err: Display,
    {
        let Some(raw) = self.get(name) else { return Ok(default) };
        let invalid =
            |reason: String| ConfigError::Invalid { name: name.to_owned(), value: raw.clone(), reason };
        let value: T = raw.trim().parse().map_err(|e: T::Err| invalid(e.to_string()))?;
        if !range.contains(&value) {
            return Err(invalid(format!("must be between {} and {}", range.start(), range.end())));
        }
        Ok(value)
    }

    /// A boolean (`true`/`false`/`1`/`0`) with a default.
    pub fn flag_or(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" || v == "1" => Ok(true),
            Some(v) if v == "false" || v == "0" => Ok(false),
            Some(v) => Err(ConfigError::Invalid {
                name: name.to_owned(),
                value: v,
                reason: "expected true or false".to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_required_names_the_variable() {
        let env = Env::from_pairs([("OTHER", "x"), ("EMPTY", " ")]);
        assert_eq!(env.required("LEASE_TABLE"), Err(ConfigError::Missing("LEASE_TABLE".into())));
        assert_eq!(env.required("EMPTY"), Err(ConfigError::Missing("EMPTY".into())));
        assert_eq!(env.required("OTHER").unwrap(), "x");
        let msg = env.required("LEASE_TABLE").unwrap_err().to_string();
        assert!(msg.contains("LEASE_TABLE"), "{msg}");
    }

    #[test]
    fn numbers_parse_default_and_range_check() {
        let env = Env::from_pairs([("A", "30"), ("B", "abc"), ("C", "0")]);
        assert_eq!(env.number_or("A", 60u64, 1..=3600).unwrap(), 30);
        assert_eq!(env.number_or("Z", 60u64, 1..=3600).unwrap(), 60);
        let bad = env.number_or("B", 60u64, 1..=3600).unwrap_err().to_string();
        assert!(bad.contains("B=\"abc\""), "{bad}");
        let out = env.number_or("C", 60u64, 1..=3600).unwrap_err().to_string();
        assert!(out.contains("between 1 and 3600"), "{out}");
    }

    #[test]
    fn flags() {
        let env = Env::from_pairs([("T", "TRUE"), ("F", "0"), ("X", "maybe")]);
        assert!(env.flag_or("T", false).unwrap());
        assert!(!env.flag_or("F", true).unwrap());
        assert!(env.flag_or("U", true).unwrap());
        assert!(env.flag_or("X", true).is_err());
    }
}
