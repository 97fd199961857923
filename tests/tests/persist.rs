//! Posts accepted by the API reach the table through the queue and queue-drain, each exactly
//! once; a redelivered message stores nothing new.

use adapters::DynamoPosts;
use domain::posts::PostStore;
use integration::{http, sdk, stack_output, unique, writer};
use serde_json::json;
use std::time::{Duration, Instant};

async fn table() -> DynamoPosts {
    DynamoPosts::from_sdk(&sdk().await, stack_output("PostsTableName").await)
}

/// Polls the table until `user` has `n` posts (or the deadline passes); returns what is there.
async fn wait_for(store: &DynamoPosts, user: &str, n: usize) -> Vec<domain::posts::Post> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let posts = store.page(user, None, 1_000).await.unwrap();
        if posts.len() >= n || Instant::now() > deadline {
            return posts;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn accepted_posts_are_persisted_exactly_once_with_their_first_content() {
    let (c, store, w) = (http(), table().await, writer("persist").await);
    let uid = w.sub.clone();
    let mut accepted = Vec::new();
    for i in 0..20 {
        let (s, b, _) = w.post(&c, "/v1/posts", &json!({"contents": format!("durable {i}")}), &[]).await;
        assert_eq!(s, 201, "{b}");
        accepted.push(b);
    }
    let stored = wait_for(&store, &uid, 20).await;
    assert_eq!(stored.len(), 20, "every 201 is persisted");
    for post in &stored {
        let answered = accepted
            .iter()
            .find(|a| a["post_id"].as_str().and_then(|s| s.parse::<u64>().ok()) == Some(post.post_id))
            .expect("only accepted posts");
        assert_eq!(&serde_json::to_value(post).unwrap(), answered, "stored as answered");
    }
}

#[tokio::test]
async fn a_redelivered_message_stores_nothing_new() {
    let store = table().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk().await);
    let queue = stack_output("PostsQueueUrl").await;
    let uid = unique("redeliver").replace('-', "_");
    let id = 725_617_227_714_740_224u64 + (std::process::id() as u64 % 1_000);
    let body = |contents: &str| {
        json!({"v": 1, "post": {"user_id": uid, "post_id": id.to_string(), "contents": contents, "url": null, "scrap": null, "created_at": "2026-11-24T00:00:00Z"}})
            .to_string()
    };
    // The same message three times (SQS delivers at least once).
    for _ in 0..3 {
        sqs.send_message().queue_url(&queue).message_body(body("first")).send().await.unwrap();
    }
    let stored = wait_for(&store, &uid, 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // let the copies drain too
    let stored_after = store.page(&uid, None, 10).await.unwrap();
    assert_eq!((stored.len(), stored_after.len()), (1, 1));
    assert_eq!(stored_after[0].contents, "first");
}
