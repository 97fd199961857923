//! Decode an id: its timestamp, datacenter, worker and sequence.

use super::truncate;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an id: expected a decimal number below 2^63")]
pub struct InvalidId(pub String);

/// An id that decodes: decimal digits only, below 2^63, with a representable timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeId {
    id: u64,
    parts: snowflake::Decoded,
    timestamp: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecodedId {
    /// Decimal, as every id in the v1 API (ids exceed 2^53).
    pub id: String,
    /// RFC 3339, UTC, milliseconds.
    pub timestamp: String,
    pub timestamp_ms: u64,
    pub datacenter: u8,
    pub worker: u8,
    pub sequence: u16,
}

impl DecodeId {
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        let invalid = || InvalidId(truncate(raw));
        // `u64::from_str` would take a leading `+`.
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let id: u64 = raw.parse().map_err(|_| invalid())?;
        let parts = snowflake::decode(id).ok_or_else(invalid)?;
        let timestamp = crate::clock_text::rfc3339_ms(parts.unix_ms).ok_or_else(invalid)?;
        Ok(Self { id, parts, timestamp })
    }

    pub fn apply(self) -> DecodedId {
        let p = self.parts;
        DecodedId {
            id: self.id.to_string(),
            timestamp: self.timestamp,
            timestamp_ms: p.unix_ms,
            datacenter: p.datacenter,
            worker: p.worker,
            sequence: p.sequence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_decodes_into_its_parts() {
        let d = DecodeId::parse("725617227714740224").unwrap().apply();
        assert_eq!(d.id, "725617227714740224");
        assert!(d.timestamp.ends_with('Z'), "{}", d.timestamp);
        assert_eq!(snowflake::decode(725_617_227_714_740_224).map(|p| p.unix_ms), Some(d.timestamp_ms));
    }

    #[test]
    fn only_decimal_ids_below_two_to_the_63_decode() {
        for bad in ["", "+1", "-1", "1.0", "abc", "9223372036854775808", "99999999999999999999"] {
            assert!(DecodeId::parse(bad).is_err(), "{bad}");
        }
    }
}
