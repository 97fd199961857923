//! Fault 5: SQS refuses sends during part of a stream of writes (the test stack's fault proxy,
//! which sits between the functions and SQS, answers every SendMessage with a 500 for a while).
//! Refused writes get 503 and appear nowhere; accepted ones are persisted exactly once.
//! (Deleting the queue would not do: it destroys the messages already accepted, which a
//! refusing SQS does not.)

use integration::faults::{Writes, reconcile, report, when_sent, write_stream};
use integration::{get_json, http, unique};
use std::sync::Arc;
use std::time::Duration;

async fn configure(proxy: &str, config: serde_json::Value) {
    let res =
        reqwest::Client::new().post(format!("{proxy}/_fault/config")).json(&config).send().await.unwrap();
    assert!(res.status().is_success());
}

#[tokio::test]
async fn sqs_refusing_sends_gives_503_and_leaves_no_trace() {
    let Ok(proxy) = std::env::var("FAULT_PROXY_URL") else {
        panic!("FAULT_PROXY_URL is not set: this test needs the local test stack (make test)");
    };
    let users = integration::writers("f5u", 10).await;
    let writes = Arc::new(Writes::default());
    let load = tokio::spawn(write_stream(users.clone(), 200, 4, unique("f5"), Arc::clone(&writes)));
    when_sent(&writes, 50).await;
    configure(&proxy, serde_json::json!({"error500": 1.0, "throttle": 0.0, "slow": 0.0, "unprocessed": 0.0, "only_target": ["SendMessage"]})).await;
    when_sent(&writes, 120).await;
    configure(&proxy, serde_json::json!({"error500": 0.0, "only_target": []})).await;
    load.await.unwrap();

    let refused = writes.refused.lock().unwrap().clone();
    assert!(!refused.is_empty(), "some writes met the refusing queue");
    let other = writes.other.lock().unwrap().clone();
    assert!(other.is_empty(), "only 201 and 503 expected: {other:?}");
    let figures = reconcile(&users, &writes, Duration::from_secs(90)).await;
    // Refused writes show in no read either.
    let c = http();
    for user in &users {
        let page = get_json(&c, &format!("/v1/users/{}/posts?limit=100", user.sub)).await.1;
        for p in page["posts"].as_array().unwrap() {
            let contents = p["contents"].as_str().unwrap();
            assert!(!refused.iter().any(|r| r == contents), "a refused post shows: {contents}");
        }
    }
    report(&format!("sqs_refuses(refused_503={})", refused.len()), &figures);
    assert_eq!((figures.lost, figures.duplicates, figures.phantoms), (0, 0, 0), "{figures:?}");
}
