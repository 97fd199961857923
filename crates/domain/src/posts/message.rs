//! The posts queue's message, both ways: post-write encodes it, queue-drain and the
//! dead-letter handler decode it. Body: `{"v": 1, "post": {...}}`, the post as
//! [`Post`](super::Post) serializes it (ids as strings).
//!
//! Decoding is where a message that can never be stored is told apart: not JSON, an unknown
//! version, or a post that breaks the rules a write is held to (the same checks, from
//! [`super::model`]). Its `created_at` is never trusted: the stored time is the id's.

use super::model::{Post, check_contents, check_user_id};
use serde::{Deserialize, Serialize};

/// The version this code writes and the only one it reads.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct Outgoing<'a> {
    v: u32,
    post: &'a Post,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Incoming {
    v: u32,
    post: Post,
}

/// The message body for `post`.
pub fn encode(post: &Post) -> Result<String, String> {
    serde_json::to_string(&Outgoing { v: VERSION, post }).map_err(|e| format!("post {}: {e}", post.post_id))
}

/// Reads a message body into a post, or says why it never will be one.
pub fn decode(body: &str) -> Result<Post, String> {
    let message: Incoming = serde_json::from_str(body).map_err(|e| format!("not a post message: {e}"))?;
    if message.v != VERSION {
        return Err(format!("unknown message version {}", message.v));
    }
    let post = message.post;
    check_user_id(&post.user_id).map_err(|v| v.message)?;
    check_contents(&post.contents).map_err(|v| v.message)?;
    if snowflake::decode(post.post_id).is_none() || post.post_id == 0 {
        return Err(format!("{} is not a post id", post.post_id));
    }
    // The time is the id's: whatever a message says, the stored post says that.
    Ok(Post { created_at: super::write::created_at(post.post_id), ..post })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BASE: u64 = 725_617_227_714_740_224;

    fn body(uid: &str, id: u64) -> String {
        format!(
            r#"{{"v":1,"post":{{"user_id":"{uid}","post_id":"{id}","contents":"c{id}","url":null,"scrap":null,"created_at":""}}}}"#
        )
    }

    #[test]
    fn malformed_messages_are_permanent() {
        for bad in [
            "not json",
            "{}",
            r#"{"v":2,"post":{}}"#,
            &body("bad id!", BASE),
            &body("u", 0),
            &body("u", u64::MAX),
            r#"{"v":1,"post":{"user_id":"u","post_id":"1","contents":"","url":null,"scrap":null,"created_at":""}}"#,
            r#"{"v":1,"post":{"user_id":"u","post_id":"x","contents":"c","url":null,"scrap":null,"created_at":""}}"#,
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
        let post = decode(&body("u", BASE)).unwrap();
        assert_eq!(post.post_id, BASE);
        assert_eq!(
            post.created_at,
            crate::posts::write::created_at(BASE),
            "the id's time, not the message's"
        );
        assert!(post.created_at.ends_with('Z'), "{}", post.created_at);
    }

    proptest! {
        /// What post-write encodes, the drain decodes to the same post.
        #[test]
        fn a_post_round_trips(
            user in "[A-Za-z0-9_-]{1,64}",
            offset in 0u64..1 << 40,
            contents in "[^\\x00]{1,200}".prop_filter("not blank", |c| !c.trim().is_empty()),
            url in proptest::option::of("https://[a-z]{1,20}\\.example/[a-z0-9]{0,30}"),
        ) {
            let post_id = BASE + offset;
            let post = Post {
                user_id: user,
                post_id,
                contents,
                url,
                scrap: None,
                created_at: crate::posts::write::created_at(post_id),
            };
            prop_assert_eq!(decode(&encode(&post).unwrap()), Ok(post));
        }
    }

    /// Cases per fuzz target: `FUZZ_CASES` (what `make fuzz` raises), else 512.
    fn fuzz_config() -> ProptestConfig {
        let cases = std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
        ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
    }

    /// JSON values of every type, nested, with awkward numbers and text.
    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::{Value, json};
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            ".{0,40}".prop_map(Value::String),
            "[0-9]{0,25}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(".{0,12}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(fuzz_config())]

        /// The SQS message decoder on arbitrary bytes (as SQS hands over text: lossy UTF-8).
        #[test]
        fn fuzz_decode_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
            let _ = decode(&String::from_utf8_lossy(&bytes));
        }

        /// ... and on envelopes whose every field may hold any JSON, so parsing gets past the
        /// first byte and into the post's rules.
        #[test]
        fn fuzz_decode_envelopes(
            v in json_value(), user_id in json_value(), post_id in json_value(), contents in json_value(),
            url in json_value(), scrap in json_value(), created_at in json_value(), drop in 0usize..8,
        ) {
            let mut post = serde_json::json!({"user_id": user_id, "post_id": post_id, "contents": contents,
                "url": url, "scrap": scrap, "created_at": created_at});
            if let Some(key) = ["user_id", "post_id", "contents", "url", "scrap", "created_at"].get(drop) {
                post.as_object_mut().unwrap().remove(*key);
            }
            let body = serde_json::json!({"v": v, "post": post}).to_string();
            if let Ok(p) = decode(&body) {
                // Whatever got through follows the post's rules.
                prop_assert!(check_user_id(&p.user_id).is_ok());
                prop_assert!(p.post_id != 0 && !p.contents.trim().is_empty());
            }
        }
    }
}
