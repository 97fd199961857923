use super::*;
use crate::fakes::MemoryIdempotency;
use crate::fakes::posts::{CountingIds, FixedPreviews, MemoryPostCache, MemoryQueue, MemoryTable};
use crate::posts::write::PostWriter;
use std::sync::atomic::{AtomicU64, Ordering};

type Writer = PostWriter<CountingIds, FixedPreviews, MemoryPostCache, MemoryTable, MemoryQueue>;

fn writer() -> Writer {
    PostWriter {
        ids: CountingIds(AtomicU64::new(725_617_227_714_740_224)),
        previews: FixedPreviews::default(),
        cache: MemoryPostCache::new(10),
        store: MemoryTable::default(),
        queue: MemoryQueue::default(),
        list_max: 10,
    }
}

const AT: Invocation = Invocation { now_ms: 1_000_000, deadline_ms: None };

fn keyed(body: &str, key: &str) -> WritePost {
    WritePost::parse(body.as_bytes(), Some("alice"), Some(key.as_bytes())).unwrap()
}

#[test]
fn a_claim_lasts_until_the_invocation_deadline() {
    let at = |now_ms, deadline_ms| Invocation { now_ms, deadline_ms }.in_progress_ms();
    assert_eq!(at(1_000, None), IN_PROGRESS_MS, "no deadline known: the fixed window");
    assert_eq!(at(1_000, Some(11_000)), 10_000 + DEADLINE_SLACK_MS);
    assert_eq!(at(20_000, Some(11_000)), IN_PROGRESS_MS, "a deadline passed: the fixed window");
    assert_eq!(at(0, Some(10 * IN_PROGRESS_MS)), IN_PROGRESS_MS, "never beyond the fixed window");
}

#[test]
fn checks_run_in_order_and_the_key_last() {
    let parse = |body: &str, author, key: Option<&[u8]>| WritePost::parse(body.as_bytes(), author, key);
    let big = format!(r#"{{"contents":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
    assert_eq!(parse(&big, None, None), Err(WritePostError::BodyTooLarge));
    assert!(matches!(parse("{no", None, None), Err(WritePostError::NotJson(_))));
    assert!(matches!(parse("[1]", None, None), Err(WritePostError::BadShape(_))));
    assert_eq!(parse(r#"{"contents":"x"}"#, None, None), Err(WritePostError::Unauthenticated));
    let bad_and_other = r#"{"user_id":"bob","contents":""}"#;
    assert!(matches!(parse(bad_and_other, Some("alice"), None), Err(WritePostError::Invalid(_))));
    let other = r#"{"user_id":"bob","contents":"x"}"#;
    assert_eq!(parse(other, Some("alice"), Some(b"\x01")), Err(WritePostError::OtherAuthor));
    for key in [&b""[..], b"   ", b"k\x01", "ключ".as_bytes(), &[b'k'; MAX_IDEMPOTENCY_KEY + 1]] {
        assert_eq!(parse(r#"{"contents":"x"}"#, Some("alice"), Some(key)), Err(WritePostError::InvalidKey));
    }
    assert!(parse(r#"{"contents":"x"}"#, Some("alice"), Some(&[b'k'; MAX_IDEMPOTENCY_KEY])).is_ok());
}

#[test]
fn keys_are_the_authors_own() {
    let alice = WritePost::parse(br#"{"contents":"x"}"#, Some("alice"), Some(b" k ")).unwrap();
    let bob = WritePost::parse(br#"{"contents":"x"}"#, Some("bob"), Some(b"k")).unwrap();
    assert_ne!(alice.key, bob.key, "the same key from two users is two keys");
    assert_eq!(alice.key, keyed(r#"{"contents":"x"}"#, "k").key, "trimmed");
}

#[tokio::test]
async fn a_keyed_write_runs_once_and_replays_its_recorded_answer() {
    let (w, records) = (writer(), MemoryIdempotency::default());
    let first = keyed(r#"{"contents":"hi"}"#, "k").apply(&w, &records, AT, &Trace::default()).await.unwrap();
    let Written::Created(post) = first else { panic!("{first:?}") };
    let again = keyed(r#"{"contents":"hi"}"#, "k").apply(&w, &records, AT, &Trace::default()).await;
    let body = serde_json::to_string(&post).unwrap();
    assert_eq!(again, Ok(Written::Replayed { status: 201, body }));
    let other = keyed(r#"{"contents":"else"}"#, "k").apply(&w, &records, AT, &Trace::default()).await;
    assert_eq!(other, Err(WritePostError::KeyReused));
    assert_eq!(w.queue.sent(), vec![*post], "queued once");
}

#[tokio::test]
async fn a_failed_send_expires_the_claim_and_the_retry_keeps_the_post_id() {
    let (w, records) = (writer(), MemoryIdempotency::default());
    w.queue.lose_answer.store(true, Ordering::SeqCst);
    let failed = keyed(r#"{"contents":"hi"}"#, "k").apply(&w, &records, AT, &Trace::default()).await;
    assert!(matches!(failed, Err(WritePostError::Write(WriteError::Queue(_)))), "{failed:?}");
    w.queue.lose_answer.store(false, Ordering::SeqCst);
    let retried = keyed(r#"{"contents":"hi"}"#, "k").apply(&w, &records, AT, &Trace::default()).await;
    assert!(matches!(retried, Ok(Written::Created(_))), "at once, not after the claim ran out");
    let sent = w.queue.sent();
    assert_eq!((sent.len(), sent[0].post_id), (2, sent[1].post_id), "one post, sent twice");
}

#[tokio::test]
async fn without_a_key_every_request_is_a_post() {
    let (w, records) = (writer(), MemoryIdempotency::default());
    for _ in 0..2 {
        let write = WritePost::parse(br#"{"contents":"hi"}"#, Some("alice"), None).unwrap();
        write.apply(&w, &records, AT, &Trace::default()).await.unwrap();
    }
    assert_eq!(w.queue.sent().len(), 2);
}
