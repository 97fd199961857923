//! Fault 5: SQS refuses sends during part of a stream of writes (the test stack's fault proxy,
//! which sits between the functions and SQS, answers every SendMessage with a 500 for a while).
//! Every write inside that window gets 503 `queue_unavailable` with `Retry-After`, and refused
//! writes appear nowhere, neither in the table nor in reads; accepted ones are stored exactly
//! once, a post accepted before the fault is stored as it was answered, and writes are accepted
//! again once SQS takes them. (Deleting the queue would not do: it destroys the messages already
//! accepted, which a refusing SQS does not, and post-write answers every failed send alike, so a
//! missing queue takes no path of its own.)

use adapters::DynamoPosts;
use aws_sdk_sqs::types::QueueAttributeName;
use domain::posts::PostStore;
use integration::faults::{Outcome, Proxy, Stream, Watcher, Writes, injected, reconcile, report, when_sent};
use integration::{get_json, http, sdk, stack_output, unique, until, writer};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The queue's redrive policy, read through `url`: the one the functions send to.
async fn redrive_policy(sqs: &aws_sdk_sqs::Client, url: &str) -> Option<String> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap();
    out.attributes().and_then(|a| a.get(&QueueAttributeName::RedrivePolicy)).cloned()
}

#[tokio::test]
async fn sqs_refusing_sends_gives_503_and_leaves_no_trace() {
    let proxy = Proxy::from_env();
    proxy.reset().await;
    let c = http();
    let sqs = aws_sdk_sqs::Client::new(&sdk().await);
    let queue_url = stack_output("PostsQueueUrl").await;
    let redrive = redrive_policy(&sqs, &queue_url).await;
    assert!(redrive.is_some(), "the template gives the posts queue a redrive policy");

    // Accepted before the fault, and persisted exactly as answered. A user outside the stream:
    // reconciliation counts any other post of the stream's users as a phantom.
    let kept = writer("f5k").await;
    let (s, accepted, _) = kept.post(&c, "/v1/posts", &json!({"contents": "kept"}), &[]).await;
    assert_eq!(s, 201, "{accepted}");
    let store = DynamoPosts::from_sdk(&sdk().await, stack_output("PostsTableName").await);
    let stored = until("the accepted post is persisted", 60, || async {
        store.page(&kept.sub, None, 10).await.unwrap().into_iter().next()
    })
    .await;
    assert_eq!(serde_json::to_value(stored).unwrap(), accepted);

    let users = integration::writers("f5u", 10).await;
    let watcher = Watcher::start(&users).await;
    let writes = Arc::new(Writes::default());
    let load = tokio::spawn(Stream::new(&users, 200, 4, unique("f5")).run(Arc::clone(&writes)));
    when_sent(&writes, 50).await;
    proxy.configure(json!({"error500": 1.0, "only_target": ["SendMessage"]})).await;
    let refusing_from = Instant::now();
    when_sent(&writes, 120).await;
    let refusing_until = Instant::now();
    let stats = proxy.stats().await;
    proxy.reset().await;
    // Writes are accepted again.
    let (s, b, _) = kept.post(&c, "/v1/posts", &json!({"contents": "after"}), &[]).await;
    assert_eq!(s, 201, "{b}");
    load.await.unwrap();

    let all = writes.all();
    // Every 503 is the queue's, and tells the client when to come back.
    for w in all.iter().filter(|w| w.outcome == Outcome::Refused(503)) {
        assert_eq!(
            (w.code.as_deref(), w.retry_after.is_some()),
            (Some("queue_unavailable"), true),
            "a 503 without the queue's code or Retry-After: {w:?}"
        );
    }
    // A write wholly inside the window met nothing but refused sends: refused, every one.
    let inside: Vec<_> =
        all.iter().filter(|w| w.started_at >= refusing_from && w.finished_at <= refusing_until).collect();
    assert!(!inside.is_empty(), "no write ran wholly inside the refusing window");
    for w in inside {
        assert_eq!(w.outcome, Outcome::Refused(503), "a write while SQS refused: {w:?}");
    }
    let refused: Vec<String> =
        all.into_iter().filter(|w| w.outcome == Outcome::Refused(503)).map(|w| w.contents).collect();
    assert!(!refused.is_empty(), "some writes met the refusing queue");
    // Not in the table: a refused post stored would count as a phantom (`assert_exact`).
    let figures = reconcile(&watcher, &users, &writes, Duration::from_secs(90)).await;
    // Refused writes show in no read either.
    for user in &users {
        let page = get_json(&c, &format!("/v1/users/{}/posts?limit=100", user.sub)).await.1;
        for p in page["posts"].as_array().unwrap() {
            let contents = p["contents"].as_str().unwrap();
            assert!(!refused.iter().any(|r| r == contents), "a refused post shows: {contents}");
        }
    }
    // The queue came through as it was: the functions' URL still reaches it, redrive and all.
    assert_eq!(redrive_policy(&sqs, &queue_url).await, redrive, "the queue keeps its redrive policy");
    report(
        &format!(
            "sqs_refuses(refused_503={},send_500s={})",
            refused.len(),
            injected(&stats, "SendMessage", "error500")
        ),
        &figures,
    );
    assert_eq!(figures.refused, refused.len(), "only 201 and 503: {figures:?}");
    assert_eq!(figures.attempted, 200);
    figures.assert_exact();
}
