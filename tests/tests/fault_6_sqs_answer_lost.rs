//! Fault 6: SQS accepts a post but its answer is lost, the case that loses or doubles posts in
//! real systems. The fault proxy forwards a share of SendMessage calls and then answers 500, or
//! holds the answer past the SDK's attempt timeout; the SDK retries, post-write may answer 503
//! although the message is in the queue, and clients retry under their `Idempotency-Key`.
//! Each logical write ends answered 201 and stored exactly once, under the id it was answered
//! with, however many copies of it the queue received.

use integration::faults::{Proxy, Stream, Watcher, Writes, injected, reconcile, report, when_sent};
use integration::unique;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn lost_sqs_answers_with_client_retries_store_each_write_once() {
    let proxy = Proxy::from_env();
    proxy.reset().await;
    let users = integration::writers("f6u", 8).await;
    let watcher = Watcher::start(&users).await;
    let writes = Arc::new(Writes::default());
    let stream = Stream::new(&users, 200, 8, unique("f6")).with_retries(10);
    let load = tokio::spawn(stream.run(Arc::clone(&writes)));
    when_sent(&writes, 20).await;
    proxy
        .configure(json!({"lost_answer": 0.35, "lost_timeout": 0.15, "hang_ms": 2000, "only_target": ["SendMessage"], "seed": 6}))
        .await;
    when_sent(&writes, 170).await;
    let stats = proxy.stats().await;
    proxy.reset().await;
    load.await.unwrap();

    let figures = reconcile(&watcher, &users, &writes, Duration::from_secs(120)).await;
    let (lost, hung) =
        (injected(&stats, "SendMessage", "lost_answer"), injected(&stats, "SendMessage", "lost_timeout"));
    let retried = writes.count(|w| w.attempts > 1);
    let answered_after_503 = writes.count(|w| w.statuses.contains(&503) && w.statuses.last() == Some(&201));
    report(
        &format!(
            "sqs_answer_lost(lost_answers={lost},timeouts={hung},writes_retried={retried},answered_after_503={answered_after_503})"
        ),
        &figures,
    );
    assert!(lost > 0 && hung > 0, "the proxy lost no answer: {stats}");
    assert!(
        answered_after_503 > 0,
        "no write was answered 503 after SQS took it, then retried: the fault never reached a client"
    );
    assert_eq!((figures.attempted, figures.answered), (200, 200), "every write ends answered: {figures:?}");
    figures.assert_exact();
}
