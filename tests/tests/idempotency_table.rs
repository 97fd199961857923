//! The idempotency table's claims on the deployed table (DynamoDB's conditional writes and
//! ALL_OLD return values, not a fake): run once, replay, refuse another body, and hand an
//! unfinished claim's post id to the same request that takes it over.

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
    s.release(&key).await.unwrap();
    assert_eq!(decide(&s, &key, "h", 10, now(), MIN).await.unwrap(), Decision::Run { post_id: 10 });
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
