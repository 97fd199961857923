//! A post, the request that makes one, and the rules a request must follow.

use opengraph::Preview;
use serde::{Deserialize, Serialize};

pub const MAX_CONTENTS_CHARS: usize = 1_000;
pub const MAX_USER_ID_CHARS: usize = 64;

/// A stored post. Ids travel as decimal strings: they exceed 2^53, where JSON numbers in
/// JavaScript lose digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    pub user_id: String,
    #[serde(with = "decimal")]
    pub post_id: u64,
    pub contents: String,
    pub url: Option<String>,
    pub scrap: Option<Preview>,
    /// RFC 3339, UTC, from the id's timestamp.
    pub created_at: String,
}

/// A post in the reference service's shape (its compatibility routes): ids as JSON numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferencePost<'a> {
    pub user_id: &'a str,
    pub post_id: u64,
    pub contents: &'a str,
    pub url: &'a Option<String>,
    pub scrap: &'a Option<Preview>,
}

impl Post {
    pub fn as_reference(&self) -> ReferencePost<'_> {
        ReferencePost {
            user_id: &self.user_id,
            post_id: self.post_id,
            contents: &self.contents,
            url: &self.url,
            scrap: &self.scrap,
        }
    }
}

/// The body of `POST /v1/posts`, exactly: unknown fields and wrong types are refused. The author
/// is the signed-in caller; `user_id` may be given, and then must name that caller.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostInput {
    #[serde(default)]
    pub user_id: Option<String>,
    pub contents: String,
    #[serde(default)]
    pub url: Option<String>,
}

/// A request that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPost {
    pub user_id: String,
    pub contents: String,
    pub url: Option<String>,
}

/// Why a request is refused: a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Validation {
    pub code: &'static str,
    pub message: String,
}

fn invalid(code: &'static str, message: impl Into<String>) -> Validation {
    Validation { code, message: message.into() }
}

/// A user id: 1 to 64 of `A-Z a-z 0-9 _ -` (numeric ids of the reference, and token subjects).
pub fn check_user_id(user_id: &str) -> Result<(), Validation> {
    let ok = !user_id.is_empty()
        && user_id.len() <= MAX_USER_ID_CHARS
        && user_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "invalid_user_id",
            format!("user_id must be 1 to {MAX_USER_ID_CHARS} letters, digits, '_' or '-'"),
        ))
    }
}

impl PostInput {
    /// Whether the body names a user other than `author` (a 403, not a 400: the request is
    /// well-formed, the caller may not do it).
    pub fn names_other_user(&self, author: &str) -> bool {
        self.user_id.as_deref().is_some_and(|u| u != author)
    }

    /// The post `author` asked for, if it follows the rules. Call [`Self::names_other_user`]
    /// first; the author wins over whatever the body says.
    pub fn validate(self, author: &str) -> Result<NewPost, Validation> {
        check_user_id(author)?;
        check_contents(&self.contents)?;
        let url = match self.url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) => Some(check_url(u)?),
        };
        Ok(NewPost { user_id: author.to_owned(), contents: self.contents, url })
    }
}

/// Contents: not blank, at most [`MAX_CONTENTS_CHARS`] characters (not bytes).
pub fn check_contents(contents: &str) -> Result<(), Validation> {
    if contents.trim().is_empty() {
        return Err(invalid("invalid_contents", "contents must not be empty"));
    }
    let chars = contents.chars().count();
    if chars > MAX_CONTENTS_CHARS {
        return Err(invalid(
            "invalid_contents",
            format!("contents must be at most {MAX_CONTENTS_CHARS} characters, got {chars}"),
        ));
    }
    Ok(())
}

/// A post's link: http(s), at most 2,048 bytes. Whether it may be *fetched* for a preview is
/// decided later; a link to a private address is stored, just not previewed.
fn check_url(u: &str) -> Result<String, Validation> {
    if u.len() > crate::preview::link::MAX_URL_BYTES {
        return Err(invalid(
            "invalid_url",
            format!("url must be at most {} bytes", crate::preview::link::MAX_URL_BYTES),
        ));
    }
    match url::Url::parse(u) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Ok(u.to_owned())
        }
        _ => Err(invalid("invalid_url", "url must be an http or https URL")),
    }
}

/// A cursor or id from a request: a decimal `u64`.
pub fn parse_id(raw: &str, code: &'static str) -> Result<u64, Validation> {
    if raw.is_empty() || raw.len() > 20 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            code,
            format!("{:?} is not a post id (a decimal number)", raw.chars().take(24).collect::<String>()),
        ));
    }
    raw.parse().map_err(|_| invalid(code, "the post id is out of range"))
}

/// Page size: 1..=100, 10 when absent.
pub fn parse_limit(raw: Option<&str>) -> Result<usize, Validation> {
    match raw {
        None => Ok(10),
        Some(r) => match r.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(invalid("invalid_limit", "limit must be an integer from 1 to 100")),
        },
    }
}

/// Serializes a `u64` as a decimal string, and reads a string or (for old clients) a number.
pub mod decimal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            S(String),
            N(u64),
        }
        match Either::deserialize(d)? {
            Either::S(s) => s.parse().map_err(serde::de::Error::custom),
            Either::N(n) => Ok(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> Result<NewPost, String> {
        let body: PostInput = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let author = body.user_id.clone().unwrap_or_else(|| "42".into());
        body.validate(&author).map_err(|v| v.code.to_string())
    }

    #[test]
    fn accepts_a_plain_post_and_one_with_a_link() {
        let p = input(r#"{"user_id":"42","contents":"hello"}"#).unwrap();
        assert_eq!((p.user_id.as_str(), p.url), ("42", None));
        let p = input(r#"{"user_id":"u-1_x","contents":"see","url":"https://example.com/a"}"#).unwrap();
        assert_eq!(p.url.as_deref(), Some("https://example.com/a"));
    }

    #[test]
    fn the_author_is_the_caller() {
        let body: PostInput = serde_json::from_str(r#"{"contents":"hello"}"#).unwrap();
        assert!(!body.names_other_user("9f1c-aa"));
        assert_eq!(body.validate("9f1c-aa").unwrap().user_id, "9f1c-aa");
        let body: PostInput = serde_json::from_str(r#"{"user_id":"mallory","contents":"x"}"#).unwrap();
        assert!(body.names_other_user("9f1c-aa"));
        assert!(!body.names_other_user("mallory"));
        // A body naming the caller is fine; the caller's id is still checked.
        let body: PostInput = serde_json::from_str(r#"{"contents":"x"}"#).unwrap();
        assert_eq!(body.validate("a b").unwrap_err().code, "invalid_user_id");
    }

    #[test]
    fn refuses_bad_requests() {
        let long = "x".repeat(1_001);
        let cases = [
            (r#"{"user_id":"1","contents":""}"#.to_owned(), "invalid_contents"),
            (r#"{"user_id":"1","contents":"   "}"#.to_owned(), "invalid_contents"),
            (format!(r#"{{"user_id":"1","contents":"{long}"}}"#), "invalid_contents"),
            (r#"{"user_id":"","contents":"x"}"#.to_owned(), "invalid_user_id"),
            (r#"{"user_id":"a b","contents":"x"}"#.to_owned(), "invalid_user_id"),
            (r#"{"user_id":"1","contents":"x","url":"ftp://x.com/"}"#.to_owned(), "invalid_url"),
            (r#"{"user_id":"1","contents":"x","url":"not a url"}"#.to_owned(), "invalid_url"),
            (
                format!(r#"{{"user_id":"1","contents":"x","url":"https://x.com/{}"}}"#, "a".repeat(2_048)),
                "invalid_url",
            ),
        ];
        for (json, code) in cases {
            assert_eq!(input(&json).unwrap_err(), code, "{json}");
        }
        // Wrong types and unknown fields fail to parse at all.
        for json in [
            r#"{"user_id":1,"contents":"x"}"#,
            r#"{"user_id":"1","contents":"x","extra":1}"#,
            r#"{"user_id":"1"}"#,
            "[]",
        ] {
            assert!(serde_json::from_str::<PostInput>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn a_thousand_characters_count_as_characters_not_bytes() {
        let ok = "가".repeat(1_000);
        assert!(input(&format!(r#"{{"user_id":"1","contents":"{ok}"}}"#)).is_ok());
    }

    #[test]
    fn ids_travel_as_strings() {
        let p = Post {
            user_id: "1".into(),
            post_id: 725_617_227_714_740_225,
            contents: "x".into(),
            url: None,
            scrap: None,
            created_at: "2026-11-24T00:00:00.000Z".into(),
        };
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["post_id"], "725617227714740225");
        assert_eq!(serde_json::from_value::<Post>(json).unwrap(), p);
    }

    #[test]
    fn cursors_and_limits() {
        assert_eq!(parse_id("725617227714740225", "c"), Ok(725_617_227_714_740_225));
        for bad in ["", "-1", "1.0", "abc", "99999999999999999999", "123456789012345678901"] {
            assert!(parse_id(bad, "invalid_cursor").is_err(), "{bad}");
        }
        assert_eq!(parse_limit(None), Ok(10));
        assert_eq!(parse_limit(Some("100")), Ok(100));
        for bad in ["0", "101", "x", "-5"] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
    }
}
