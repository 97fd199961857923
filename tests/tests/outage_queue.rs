//! SQS refusing sends: the write is answered 503 and leaves no trace in reads or in the table,
//! while an accepted post reaches the table. One test, so nothing else in this binary writes
//! while the queue is gone.

use integration::{get_json, http, sdk, stack_output, writer};
use serde_json::json;

#[tokio::test]
async fn a_refused_send_is_503_and_leaves_no_trace() {
    let c = http();
    let sqs = aws_sdk_sqs::Client::new(&sdk().await);
    let queue_url = stack_output("PostsQueueUrl").await;
    let w = writer("queue_outage").await;
    let uid = w.sub.clone();

    // Accepted: the message carries the post.
    let (s, accepted, _) = w.post(&c, "/v1/posts", &json!({"contents": "kept"}), &[]).await;
    assert_eq!(s, 201, "{accepted}");
    // Durable: queue-drain persists it (poll the table, with a deadline).
    let store = adapters::DynamoPosts::from_sdk(&sdk().await, stack_output("PostsTableName").await);
    let stored = integration::until("the accepted post is persisted", 60, || async {
        use domain::posts::PostStore;
        store.page(&uid, None, 10).await.unwrap().into_iter().next()
    })
    .await;
    assert_eq!(serde_json::to_value(stored).unwrap(), accepted);

    // The queue disappears: writes are refused with 503 and nothing shows in reads.
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let name = queue_url.rsplit('/').next().unwrap().to_owned();
    sqs.delete_queue().queue_url(&queue_url).send().await.unwrap();
    let mut refused = Vec::new();
    for i in 0..3 {
        let (s, b, h) = w.post(&c, "/v1/posts", &json!({"contents": format!("refused {i}")}), &[]).await;
        refused.push((s, b["code"].as_str().map(str::to_owned), h.get("retry-after").is_some()));
    }
    // Restore the queue (same name, same URL) before asserting, so a failure leaves the stack usable.
    let mut create = sqs.create_queue().queue_name(&name);
    for (k, v) in attributes.attributes().into_iter().flatten() {
        // Everything the template sets, above all the redrive policy: without it the stack's
        // later tests (and poison messages) would never reach the dead-letter queue.
        if matches!(
            k.as_str(),
            "VisibilityTimeout"
                | "MessageRetentionPeriod"
                | "RedrivePolicy"
                | "DelaySeconds"
                | "MaximumMessageSize"
                | "ReceiveMessageWaitTimeSeconds"
                | "SqsManagedSseEnabled"
        ) {
            create = create.attributes(k.clone(), v.clone());
        }
    }
    let recreated = create.send().await.unwrap();
    // Same account and name: the URL the function holds reaches it again (hosts may differ).
    assert!(recreated.queue_url().is_some_and(|u| u.ends_with(&format!("/{name}"))));
    let restored = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap();
    let redrive = |a: Option<&std::collections::HashMap<_, String>>| {
        a.and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)).cloned()
    };
    let before = redrive(attributes.attributes());
    assert!(before.is_some(), "the template gives the posts queue a redrive policy");
    assert_eq!(redrive(restored.attributes()), before, "the queue comes back with its redrive policy");
    for r in &refused {
        assert_eq!(r, &(503, Some("queue_unavailable".to_owned()), true));
    }
    let page = get_json(&c, &format!("/v1/users/{uid}/posts?limit=100")).await.1;
    let contents: Vec<&str> =
        page["posts"].as_array().unwrap().iter().map(|p| p["contents"].as_str().unwrap()).collect();
    {
        use domain::posts::PostStore;
        let table = store.page(&uid, None, 100).await.unwrap();
        assert!(table.iter().all(|p| !p.contents.starts_with("refused")), "no refused post in the table");
    }
    assert!(contents.iter().all(|c| !c.starts_with("refused")), "no refused post shows: {contents:?}");

    // And writes work again.
    let (s, b, _) = w.post(&c, "/v1/posts", &json!({"contents": "after"}), &[]).await;
    assert_eq!(s, 201, "{b}");
}
