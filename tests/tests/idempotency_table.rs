//! The idempotency table's claims on the deployed table (DynamoDB's conditional writes and
//! ALL_OLD return values, not a fake): run once, replay, refuse another body, and hand an
//! unfinished claim's post id to the same request that takes it over, also when several race
//! for the key; a failed request's claim expires at once and keeps its post id.

use adapters::DynamoIdempotency;
use domain::posts::idempotency::{Decision, IdempotencyStore, decide};
use integration::{sdk, stack_output, unique};

const MIN: u64 = 60_000;

async fn table() -> DynamoIdempotency {
    DynamoIdempotency::from_sdk(&sdk().await, stack_output("IdempotencyTableName").await)
}

fn now() -> u64 {
    domain::clock_text::now_unix_ms()
}

#[tokio::test]
async fn a_key_runs_once_and_replays_its_answer() {
    let (s, key) = (table().await, unique("idem"));
    assert_eq!(decide(&s, &key, "h", 7, now(), MIN).await.unwrap(), Decision::Run { post_id: 7 });
    assert_eq!(decide(&s, &key, "h", 8, now(), MIN).await.unwrap(), Decision::InProgress);
    s.complete(&key, "h", 201, r#"{"post_id":"7"}"#, now() / 1_000 + 600).await.unwrap();
    let replay = Decision::Replay { status: 201, body: r#"{"post_id":"7"}"#.into() };
    assert_eq!(decide(&s, &key, "h", 9, now(), MIN).await.unwrap(), replay);
    assert_eq!(decide(&s, &key, "other", 9, now(), MIN).await.unwrap(), Decision::KeyReused);
    // Expiring is for claims in progress only: an answered key keeps its answer.
    s.expire(&key, 7).await.unwrap();
    assert_eq!(decide(&s, &key, "h", 10, now(), MIN).await.unwrap(), replay);
}

#[tokio::test]
async fn a_failed_request_expires_its_claim_and_the_retry_keeps_its_post_id() {
    let (s, key) = (table().await, unique("idem"));
    assert_eq!(decide(&s, &key, "h", 7, now(), MIN).await.unwrap(), Decision::Run { post_id: 7 });
    // Another request's id does not end this claim.
    s.expire(&key, 99).await.unwrap();
    assert_eq!(decide(&s, &key, "h", 8, now(), MIN).await.unwrap(), Decision::InProgress);
    s.expire(&key, 7).await.unwrap();
    // At once, not after the in-progress window, and under the first id.
    assert_eq!(decide(&s, &key, "h", 9, now(), MIN).await.unwrap(), Decision::Run { post_id: 7 });
}

/// `n` requests for one key at the same moment, offering ids `first..first + n`.
async fn race(s: &DynamoIdempotency, key: &str, first: u64, n: u64) -> Vec<Decision> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n as usize));
    let runs = (first..first + n).map(|offered| {
        let (s, key, barrier) = (s.clone(), key.to_owned(), std::sync::Arc::clone(&barrier));
        tokio::spawn(async move {
            barrier.wait().await;
            decide(&s, &key, "h", offered, now(), MIN).await.unwrap()
        })
    });
    let mut out = Vec::new();
    for run in runs.collect::<Vec<_>>() {
        out.push(run.await.unwrap());
    }
    out
}

#[tokio::test]
async fn simultaneous_requests_with_one_key_run_once() {
    let (s, key) = (table().await, unique("idem"));
    let decisions = race(&s, &key, 100, 8).await;
    let runs: Vec<&Decision> = decisions.iter().filter(|d| matches!(d, Decision::Run { .. })).collect();
    assert_eq!(runs.len(), 1, "{decisions:?}");
    assert_eq!(decisions.iter().filter(|d| **d == Decision::InProgress).count(), 7, "{decisions:?}");
}

#[tokio::test]
async fn racing_takeovers_of_an_expired_claim_run_once_under_its_post_id() {
    let (s, key) = (table().await, unique("idem"));
    assert_eq!(decide(&s, &key, "h", 7, now(), 1).await.unwrap(), Decision::Run { post_id: 7 });
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let decisions = race(&s, &key, 200, 8).await;
    assert_eq!(
        decisions.iter().filter(|d| **d == Decision::Run { post_id: 7 }).count(),
        1,
        "exactly one takes over, under the first id: {decisions:?}"
    );
    assert_eq!(decisions.iter().filter(|d| **d == Decision::InProgress).count(), 7, "{decisions:?}");
    // The original holder finishing late changes nothing for the winner: one post id.
    s.complete(&key, "h", 201, r#"{"post_id":"7"}"#, now() / 1_000 + 600).await.unwrap();
    assert!(matches!(decide(&s, &key, "h", 300, now(), MIN).await.unwrap(), Decision::Replay { .. }));
}

#[tokio::test]
async fn an_unfinished_claim_hands_its_post_id_to_the_same_request_only() {
    let (s, key) = (table().await, unique("idem"));
    // Claims that last 1 ms: each is over by the next call.
    assert_eq!(decide(&s, &key, "h", 7, now(), 1).await.unwrap(), Decision::Run { post_id: 7 });
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(decide(&s, &key, "h", 8, now(), 1).await.unwrap(), Decision::Run { post_id: 7 });
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    // Recorded on the takeover too: a third run still writes under the first id.
    assert_eq!(decide(&s, &key, "h", 9, now(), MIN).await.unwrap(), Decision::Run { post_id: 7 });
    assert_eq!(decide(&s, &key, "h", 11, now(), MIN).await.unwrap(), Decision::InProgress);

    let other = unique("idem");
    assert_eq!(decide(&s, &other, "h", 20, now(), 1).await.unwrap(), Decision::Run { post_id: 20 });
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(
        decide(&s, &other, "another body", 21, now(), MIN).await.unwrap(),
        Decision::Run { post_id: 21 }
    );
}
