//! Fault 5: SQS refuses sends during part of a stream of writes (the test stack's fault proxy,
//! which sits between the functions and SQS, answers every SendMessage with a 500 for a while).
//! Refused writes get 503 and appear nowhere; accepted ones are stored exactly once.
//! (Deleting the queue would not do: it destroys the messages already accepted, which a
//! refusing SQS does not.)

use integration::faults::{Outcome, Proxy, Stream, Watcher, Writes, injected, reconcile, report, when_sent};
use integration::{get_json, http, unique};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn sqs_refusing_sends_gives_503_and_leaves_no_trace() {
    let proxy = Proxy::from_env();
    proxy.reset().await;
    let users = integration::writers("f5u", 10).await;
    let watcher = Watcher::start(&users).await;
    let writes = Arc::new(Writes::default());
    let load = tokio::spawn(Stream::new(&users, 200, 4, unique("f5")).run(Arc::clone(&writes)));
    when_sent(&writes, 50).await;
    proxy.configure(serde_json::json!({"error500": 1.0, "only_target": ["SendMessage"]})).await;
    when_sent(&writes, 120).await;
    let stats = proxy.stats().await;
    proxy.reset().await;
    load.await.unwrap();

    let refused: Vec<String> =
        writes.all().into_iter().filter(|w| w.outcome == Outcome::Refused(503)).map(|w| w.contents).collect();
    assert!(!refused.is_empty(), "some writes met the refusing queue");
    let figures = reconcile(&watcher, &users, &writes, Duration::from_secs(90)).await;
    // Refused writes show in no read either.
    let c = http();
    for user in &users {
        let page = get_json(&c, &format!("/v1/users/{}/posts?limit=100", user.sub)).await.1;
        for p in page["posts"].as_array().unwrap() {
            let contents = p["contents"].as_str().unwrap();
            assert!(!refused.iter().any(|r| r == contents), "a refused post shows: {contents}");
        }
    }
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
