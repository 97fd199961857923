//! Value normalisation shared by every field: entity decoding, whitespace, URLs, language tags,
//! pixel sizes and dates.
//!
//! Why here and not at scan time: most collected values are never used, so they are only
//! cleaned once chosen.

use url::Url;

/// Decodes HTML character references, collapses every run of Unicode whitespace (including
/// no-break spaces) to one space and trims; `None` when nothing is left.
pub(crate) fn clean(raw: &str) -> Option<String> {
    let decoded = html_escape::decode_html_entities(raw);
    let mut out = String::with_capacity(decoded.len());
    for word in decoded.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    (!out.is_empty()).then_some(out)
}

/// Display text for titles and descriptions: `clean`, then straight quotes made typographic
/// (`it's` -> `it’s`, `"x"` -> `“x”`), the way metascraper presents text (its `smartquotes`
/// step), so previews read the same whichever the page used.
pub(crate) fn display(raw: &str) -> Option<String> {
    clean(raw).map(|s| smart_quotes(&s))
}

/// A description: `display`, a trailing "..." made one ellipsis character, and a leading
/// all-caps dateline ("WASHINGTON — ") dropped, as it repeats nothing a preview needs.
pub(crate) fn description(raw: &str) -> Option<String> {
    let text = display(raw)?;
    let text = match text.split_once([' ']) {
        Some(_) => strip_dateline(&text).unwrap_or(&text).to_string(),
        None => text,
    };
    let trimmed = text.strip_suffix("...").or_else(|| text.strip_suffix("..")).map(str::trim_end);
    Some(trimmed.map_or(text.clone(), |t| format!("{t}…")))
}

fn strip_dateline(text: &str) -> Option<&str> {
    let sep = [" — ", " – ", " - "].iter().filter_map(|sep| Some((text.find(sep)?, sep.len()))).min()?;
    let head = text.get(..sep.0)?;
    // At least three capitals, so a short acronym ("AI - …") is not taken for a place.
    let is_dateline = head.chars().all(|c| c.is_uppercase() || c == ' ')
        && head.chars().filter(|c| c.is_uppercase()).count() >= 3;
    is_dateline.then(|| text.get(sep.0 + sep.1..)).flatten().filter(|rest| !rest.is_empty())
}

fn smart_quotes(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let opens = prev.is_none_or(|p| p.is_whitespace() || "([{—–-/“‘".contains(p))
            && next.is_some_and(|n| !n.is_whitespace());
        let closes = prev.is_some_and(|p| !p.is_whitespace());
        out.push(match c {
            '\'' if prev.is_some_and(char::is_alphanumeric) && next.is_some_and(char::is_alphanumeric) => '’',
            '\'' if opens => '‘',
            '\'' if closes => '’',
            '"' if opens => '“',
            '"' if closes => '”',
            c => c,
        });
    }
    out
}

/// Resolves a (possibly relative or protocol-relative) reference against `base`; only http(s)
/// results are kept, so `javascript:`, `data:` and `mailto:` values never reach a preview.
pub(crate) fn resolve(base: &Url, raw: &str) -> Option<String> {
    let decoded = html_escape::decode_html_entities(raw);
    let trimmed = decoded.trim();
    if trimmed.is_empty() {
        return None;
    }
    let url = base.join(trimmed).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// Is this value a URL rather than a name (article:author is often a profile link)?
pub(crate) fn looks_like_url(s: &str) -> bool {
    let lower = s.trim_start().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("//")
}

/// The primary language subtag, lowercased: `en_US`, `en-us` and `EN` all give `en`. Only
/// 2- or 3-letter subtags are accepted, which rejects junk like `{{lang}}`.
pub(crate) fn lang(raw: &str) -> Option<String> {
    let value = clean(raw)?;
    let primary = value.split(['-', '_']).next()?.to_ascii_lowercase();
    let ok = (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_lowercase());
    ok.then_some(primary)
}

/// A pixel size such as `1200`, ` 630px` or `1200.0`; zero and junk give `None`.
pub(crate) fn pixels(raw: &str) -> Option<u32> {
    let digits: String = raw.trim().chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<u32>().ok().filter(|n| *n > 0)
}

/// Strips a leading "By " and a leading `@` from a byline, as a preview shows names, not
/// handles; URLs are refused.
pub(crate) fn author(raw: &str) -> Option<String> {
    let value = clean(raw)?;
    if looks_like_url(&value) {
        return None;
    }
    let mut rest = value.as_str();
    if rest.len() > 3 && rest.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("by ")) {
        rest = rest.get(3..).unwrap_or(rest);
    }
    let rest = rest.trim_start_matches('@').trim();
    (!rest.is_empty() && rest.chars().count() <= 128).then(|| rest.to_string())
}

/// Normalises an ISO-8601-like date to RFC 3339 UTC with milliseconds
/// (`2016-05-24T20:49:03.000Z`), so consumers get one format whatever the page used; a date
/// without a time is midnight UTC, a time without an offset is taken as UTC. Anything else
/// (`May 24, 2016`) is returned cleaned but unchanged.
pub(crate) fn date(raw: &str) -> Option<String> {
    let value = clean(raw)?;
    Some(iso_utc(&value).unwrap_or(value))
}

/// Splits the ISO-8601 forms pages use (`T`, `t` or a space before the time; optional seconds,
/// fraction and offset, with or without a colon); `time` checks the values and converts to UTC.
fn iso_utc(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let (mut hh, mut mm, mut ss, mut millis, mut offset_min) = (0, 0, 0, 0, 0);
    let mut i = 10;
    if matches!(b.get(10), Some(b'T' | b't' | b' ')) && b.get(13) == Some(&b':') {
        hh = num(11, 2)?;
        mm = num(14, 2)?;
        i = 16;
        if b.get(16) == Some(&b':') {
            ss = num(17, 2)?;
            i = 19;
            if matches!(b.get(19), Some(b'.' | b',')) {
                let frac: String = s.get(20..)?.chars().take_while(char::is_ascii_digit).collect();
                i = 20 + frac.len();
                millis = format!("{frac:0<3}").get(..3)?.parse().ok()?;
            }
        }
        if b.get(i) == Some(&b' ') && matches!(b.get(i + 1), Some(b'+' | b'-' | b'Z')) {
            i += 1;
        }
        match b.get(i) {
            None => {}
            Some(b'Z' | b'z') => i += 1,
            Some(sign @ (b'+' | b'-')) => {
                let oh = num(i + 1, 2)?;
                let colon = usize::from(b.get(i + 3) == Some(&b':'));
                let om = num(i + 3 + colon, 2)?;
                offset_min = (oh * 60 + om) * if *sign == b'-' { -1 } else { 1 };
                i += 5 + colon;
            }
            Some(_) => return None,
        }
    }
    if i != b.len() {
        return None;
    }
    // The calendar is `time`'s: a day the month does not have (2016-02-31) is not a date.
    let byte = |v: i64| u8::try_from(v).ok();
    let date = time::Date::from_calendar_date(
        i32::try_from(year).ok()?,
        time::Month::try_from(byte(month)?).ok()?,
        byte(day)?,
    )
    .ok()?;
    // A leap second (:60) is the last millisecond of its minute.
    let (ss, millis) = if ss == 60 { (59, 999) } else { (ss, millis) };
    let clock =
        time::Time::from_hms_milli(byte(hh)?, byte(mm)?, byte(ss)?, u16::try_from(millis).ok()?).ok()?;
    let offset = time::UtcOffset::from_whole_seconds(i32::try_from(offset_min * 60).ok()?).ok()?;
    let utc = time::PrimitiveDateTime::new(date, clock).assume_offset(offset).to_offset(time::UtcOffset::UTC);
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.millisecond()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_decodes_and_collapses() {
        assert_eq!(clean("  A&nbsp;&amp;\n\t B &#8217; &eacute; ").as_deref(), Some("A & B ’ é"));
        assert_eq!(clean(" \n "), None);
    }

    #[test]
    fn typographic_quotes_and_ellipsis() {
        assert_eq!(display("The new 'Dune' can't \"win\"").as_deref(), Some("The new ‘Dune’ can’t “win”"));
        assert_eq!(description("WASHINGTON — The vote... ").as_deref(), Some("The vote…"));
        assert_eq!(description("A - B").as_deref(), Some("A - B"));
    }

    #[test]
    fn resolve_relative_and_protocol_relative() {
        let base = Url::parse("https://ex.com/a/b.html").unwrap();
        assert_eq!(resolve(&base, "../i.png").as_deref(), Some("https://ex.com/i.png"));
        assert_eq!(resolve(&base, "//cdn.ex.com/x.jpg").as_deref(), Some("https://cdn.ex.com/x.jpg"));
        assert_eq!(resolve(&base, "javascript:alert(1)"), None);
        assert_eq!(resolve(&base, "a.png?x=1&amp;y=2").as_deref(), Some("https://ex.com/a/a.png?x=1&y=2"));
    }

    #[test]
    fn lang_primary_subtag() {
        assert_eq!(lang("en_US").as_deref(), Some("en"));
        assert_eq!(lang(" pt-BR ").as_deref(), Some("pt"));
        assert_eq!(lang("{{x}}"), None);
    }

    #[test]
    fn author_strips_by_and_handles() {
        assert_eq!(author("By  Jane Doe").as_deref(), Some("Jane Doe"));
        assert_eq!(author("@jdoe").as_deref(), Some("jdoe"));
        assert_eq!(author("https://facebook.com/jdoe"), None);
    }

    #[test]
    fn dates_normalise_to_utc() {
        assert_eq!(date("2016-05-24T16:49:03-04:00").as_deref(), Some("2016-05-24T20:49:03.000Z"));
        assert_eq!(date("2016-05-24").as_deref(), Some("2016-05-24T00:00:00.000Z"));
        assert_eq!(date("2020-02-29T23:30:00.5+0100").as_deref(), Some("2020-02-29T22:30:00.500Z"));
        assert_eq!(date("2016-12-31T23:59:59Z").as_deref(), Some("2016-12-31T23:59:59.000Z"));
        assert_eq!(date("2017-06-21 09:51:00 -0400").as_deref(), Some("2017-06-21T13:51:00.000Z"));
        assert_eq!(date("May 24, 2016").as_deref(), Some("May 24, 2016"));
        assert_eq!(date("2016-13-01").as_deref(), Some("2016-13-01"));
        // Days a month does not have are not rolled into the next month.
        assert_eq!(date("2016-02-31").as_deref(), Some("2016-02-31"));
        assert_eq!(date("2019-02-29T10:00:00Z").as_deref(), Some("2019-02-29T10:00:00Z"));
        assert_eq!(date("2016-04-31").as_deref(), Some("2016-04-31"));
        assert_eq!(date("2016-05-24T24:00:00Z").as_deref(), Some("2016-05-24T24:00:00Z"));
        // Offsets may cross a day, a month and a year; a leap second stays in its minute.
        assert_eq!(date("2017-01-01T01:30:00+02:00").as_deref(), Some("2016-12-31T23:30:00.000Z"));
        assert_eq!(date("2016-12-31T23:59:60Z").as_deref(), Some("2016-12-31T23:59:59.999Z"));
    }

    #[test]
    fn pixels_parse() {
        assert_eq!(pixels(" 1200px"), Some(1200));
        assert_eq!(pixels("0"), None);
        assert_eq!(pixels("abc"), None);
    }
}
