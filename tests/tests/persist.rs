//! Posts accepted by the API reach the table through the queue and queue-drain, each exactly
//! once; a redelivered message stores nothing new.

use adapters::DynamoPosts;
use domain::posts::{Post, PostStore};
use integration::{http, sdk, stack_output, unique, writer};
use serde_json::{Value, json};
use snowflake::layout::{WorkerSlot, compose};
use std::collections::HashMap;
use std::time::{Duration, Instant};

async fn table() -> DynamoPosts {
    DynamoPosts::from_sdk(&sdk().await, stack_output("PostsTableName").await)
}

/// Polls the table until `user` has `n` posts (or the deadline passes); returns what is there.
async fn wait_for(store: &DynamoPosts, user: &str, n: usize) -> Vec<Post> {
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
    let run = unique("durable");
    // post id -> (what was sent, what was answered); every contents unique.
    let mut accepted: HashMap<u64, (String, Value)> = HashMap::new();
    for i in 0..20 {
        let contents = format!("{run} {i}");
        let (s, b, _) = w.post(&c, "/v1/posts", &json!({"contents": contents}), &[]).await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["contents"].as_str(), Some(contents.as_str()), "{b}");
        let id: u64 = b["post_id"].as_str().unwrap().parse().unwrap();
        assert!(accepted.insert(id, (contents, b)).is_none(), "post id {id} answered twice");
    }
    let stored = wait_for(&store, &uid, 20).await;
    assert_stored_exactly(&stored, &accepted);
}

/// The table holds exactly one item per sent post, under its id, with what was sent for that id.
fn assert_stored_exactly(stored: &[Post], sent: &HashMap<u64, (String, Value)>) {
    let mut by_id: HashMap<u64, &Post> = HashMap::new();
    for post in stored {
        assert!(by_id.insert(post.post_id, post).is_none(), "post {} stored twice", post.post_id);
    }
    let (mut stored_ids, mut sent_ids): (Vec<u64>, Vec<u64>) =
        (by_id.keys().copied().collect(), sent.keys().copied().collect());
    stored_ids.sort_unstable();
    sent_ids.sort_unstable();
    assert_eq!(stored_ids, sent_ids, "the table holds exactly the sent post ids");
    for (id, (contents, answered)) in sent {
        let post = by_id[id];
        assert_eq!(&post.contents, contents, "post {id} stored with another post's contents");
        assert_eq!(&serde_json::to_value(post).unwrap(), answered, "post {id} stored as answered");
    }
    assert_eq!(stored.len(), sent.len());
}

/// Polls the queue until it holds nothing, visible, in flight or delayed; gives up quietly after
/// 20 s, since the queue is shared (another test's retried messages may circulate for longer).
async fn until_drained(sqs: &aws_sdk_sqs::Client, queue: &str) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let counted = [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
        A::ApproximateNumberOfMessagesDelayed,
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let out = sqs
            .get_queue_attributes()
            .queue_url(queue)
            .set_attribute_names(Some(counted.to_vec()))
            .send()
            .await;
        let attrs = out.unwrap().attributes().cloned().unwrap_or_default();
        let left: u64 =
            counted.iter().map(|a| attrs.get(a).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)).sum();
        if left == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!("the posts queue did not empty within 20 s; checking the table anyway");
}

#[tokio::test]
async fn a_redelivered_message_stores_nothing_new() {
    let store = table().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk().await);
    let queue = stack_output("PostsQueueUrl").await;
    let uid = unique("redeliver").replace('-', "_");
    // Five posts of one user made in one millisecond by one worker: their ids differ only in the
    // sequence bits, so a key that lost any part of the id would store two of them as one.
    let base = compose(
        725_617_227_714_740_224u64 >> 22,
        WorkerSlot::new(3, (std::process::id() % 32) as u8).unwrap(),
        0,
    );
    let posts: Vec<Post> = (0..5u64)
        .map(|seq| Post {
            user_id: uid.clone(),
            post_id: base + seq,
            contents: format!("{uid} post {seq}"),
            url: None,
            scrap: None,
            created_at: domain::posts::write::created_at(base + seq),
        })
        .collect();
    let sent: HashMap<u64, (String, Value)> =
        posts.iter().map(|p| (p.post_id, (p.contents.clone(), serde_json::to_value(p).unwrap()))).collect();
    let body = |p: &Post| json!({"v": 1, "post": p}).to_string();
    // Each message three times (SQS delivers at least once): copies in one batch, and a copy later.
    for round in [&posts[..], &posts[..], &posts[..]] {
        let mut batch = sqs.send_message_batch().queue_url(&queue);
        for (i, p) in round.iter().enumerate() {
            let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .message_body(body(p))
                .build()
                .unwrap();
            batch = batch.entries(entry);
        }
        let out = batch.send().await.unwrap();
        assert!(out.failed().is_empty(), "{:?}", out.failed());
    }
    assert_stored_exactly(&wait_for(&store, &uid, posts.len()).await, &sent);
    // The later copies change nothing: once they were handled the table is still exactly that.
    until_drained(&sqs, &queue).await;
    assert_stored_exactly(&store.page(&uid, None, 100).await.unwrap(), &sent);
}
