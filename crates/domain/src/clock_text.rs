//! The wall clock, and timestamps as text: RFC 3339, UTC, millisecond precision
//! (`2026-11-24T07:43:48.123Z`).

/// Now, in Unix milliseconds (the wall clock ids are made from).
pub fn now_unix_ms() -> u64 {
    use snowflake::Clock;
    snowflake::SystemClock.now_ms()
}

/// RFC 3339 of a Unix millisecond; `None` outside the representable range.
pub fn rfc3339_ms(unix_ms: u64) -> Option<String> {
    let nanos = i128::from(unix_ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc_with_milliseconds() {
        assert_eq!(super::rfc3339_ms(1_795_506_228_123).as_deref(), Some("2026-11-24T07:43:48.123Z"));
        assert_eq!(super::rfc3339_ms(0).as_deref(), Some("1970-01-01T00:00:00Z"));
    }
}
