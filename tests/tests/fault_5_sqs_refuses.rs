//! Fault 5: SQS refuses sends during part of a stream of writes (the queue is deleted, then
//! created again). Refused writes get 503 and appear nowhere; accepted ones are persisted once.

use integration::faults::{Writes, reconcile, report, when_sent, write_stream};
use integration::{get_json, http, sdk, stack_output, unique};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn sqs_refusing_sends_gives_503_and_leaves_no_trace() {
    let sqs = aws_sdk_sqs::Client::new(&sdk().await);
    let queue = stack_output("PostsQueueUrl").await;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let users: Vec<String> = (0..10).map(|i| unique(&format!("f5u{i}")).replace('-', "_")).collect();
    let writes = Arc::new(Writes::default());
    let load = tokio::spawn(write_stream(users.clone(), 200, 4, unique("f5"), Arc::clone(&writes)));
    when_sent(&writes, 50).await;
    sqs.delete_queue().queue_url(&queue).send().await.unwrap();
    when_sent(&writes, 120).await;
    let name = queue.rsplit('/').next().unwrap().to_owned();
    let mut create = sqs.create_queue().queue_name(&name);
    for (k, v) in attributes.attributes().into_iter().flatten() {
        if matches!(k.as_str(), "VisibilityTimeout" | "MessageRetentionPeriod" | "RedrivePolicy") {
            create = create.attributes(k.clone(), v.clone());
        }
    }
    create.send().await.unwrap();
    load.await.unwrap();

    let refused = writes.refused.lock().unwrap().clone();
    assert!(!refused.is_empty(), "some writes met the refusing queue");
    let other = writes.other.lock().unwrap().clone();
    assert!(other.is_empty(), "only 201 and 503 expected: {other:?}");
    let figures = reconcile(&users, &writes, Duration::from_secs(90)).await;
    // Refused writes show in no read either.
    let c = http();
    for uid in &users {
        let page = get_json(&c, &format!("/v1/users/{uid}/posts?limit=100")).await.1;
        for p in page["posts"].as_array().unwrap() {
            let contents = p["contents"].as_str().unwrap();
            assert!(!refused.iter().any(|r| r == contents), "a refused post shows: {contents}");
        }
    }
    report(&format!("sqs_refuses(refused_503={})", refused.len()), &figures);
    assert_eq!((figures.lost, figures.duplicates, figures.phantoms), (0, 0, 0), "{figures:?}");
}
