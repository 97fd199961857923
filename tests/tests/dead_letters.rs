//! Dead letters end to end: a poison message injected into the posts queue is retried by the
//! drain, reaches the dead-letter queue after 5 receives and is parked with its reason; a post
//! dropped into the dead-letter queue goes back to the posts queue with a delay and is
//! persisted; a parked post replayed by the operator's tool is persisted and unparked.
//! (The test stack hides a failed message for 2 s instead of 180 s, so this takes seconds.)

use adapters::dead_letters::replay;
use adapters::{DynamoParked, DynamoPosts, SqsRequeue};
use domain::posts::PostStore;
use domain::posts::dead_letter::{DeadLetter, ParkedStore};
use integration::{sdk, stack_output, unique, until};
use serde_json::json;

fn post_body(uid: &str, id: u64) -> String {
    json!({"v": 1, "post": {"user_id": uid, "post_id": id.to_string(), "contents": "from a dead letter", "url": null, "scrap": null, "created_at": ""}})
        .to_string()
}

#[tokio::test]
async fn poison_is_parked_and_posts_come_back() {
    let config = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = stack_output("PostsQueueUrl").await;
    let dlq = stack_output("PostsDeadLetterQueueUrl").await;
    let parked = DynamoParked::from_sdk(&config, stack_output("ParkedTableName").await);
    let posts = DynamoPosts::from_sdk(&config, stack_output("PostsTableName").await);

    // Poison: parked with its reason, after the drain's 5 receives.
    let poison = format!("not a post {}", unique("poison"));
    let sent = sqs.send_message().queue_url(&queue).message_body(&poison).send().await.unwrap();
    let poison_id = sent.message_id().unwrap().to_owned();
    let record = until("the poison message is parked", 90, || {
        let (parked, id) = (&parked, poison_id.clone());
        async move { parked.get(&id).await.unwrap() }
    })
    .await;
    assert_eq!(record.body, poison);
    assert!(record.reason.starts_with("permanent:"), "{}", record.reason);

    // A post in the dead-letter queue: sent back with a 5 s delay, then persisted.
    let uid = unique("dlq").replace('-', "_");
    let id = 725_617_227_714_740_224 + u64::from(std::process::id() % 997);
    sqs.send_message().queue_url(&dlq).message_body(post_body(&uid, id)).send().await.unwrap();
    let stored = until("the retried post is persisted", 90, || {
        let (posts, uid) = (&posts, uid.clone());
        async move { posts.page(&uid, None, 10).await.unwrap().into_iter().next() }
    })
    .await;
    assert_eq!(stored.post_id, id);

    // A parked post (as if out of attempts) replayed by the operator: persisted, unparked.
    let uid2 = unique("replay").replace('-', "_");
    let letter =
        DeadLetter { message_id: unique("parked-msg"), body: post_body(&uid2, id + 1), ..Default::default() };
    parked.park(&letter, "out of attempts (25)", 25, "2026-11-24T00:00:00Z").await.unwrap();
    replay(&parked, &SqsRequeue::from_sdk(&config, &queue), &letter.message_id).await.unwrap();
    assert!(parked.get(&letter.message_id).await.unwrap().is_none(), "unparked");
    until("the replayed post is persisted", 60, || {
        let (posts, uid2) = (&posts, uid2.clone());
        async move { posts.page(&uid2, None, 10).await.unwrap().into_iter().next() }
    })
    .await;
}
