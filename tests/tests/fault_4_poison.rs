//! Fault 4: poison messages injected straight into the posts queue during a stream of writes.
//! Every poison message ends up parked with a reason; every accepted post is stored once.

use adapters::DynamoParked;
use integration::faults::{Stream, Watcher, Writes, reconcile, report, when_sent};
use integration::{sdk, stack_output, unique};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn poison_messages_are_parked_none_lost() {
    let config = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = stack_output("PostsQueueUrl").await;
    let parked = DynamoParked::from_sdk(&config, stack_output("ParkedTableName").await);
    let users = integration::writers("f4u", 5).await;
    let watcher = Watcher::start(&users).await;
    let writes = Arc::new(Writes::default());
    let load = tokio::spawn(Stream::new(&users, 120, 8, unique("f4")).run(Arc::clone(&writes)));
    when_sent(&writes, 30).await;
    let poisons = [
        "not json at all".to_owned(),
        "{}".to_owned(),
        r#"{"v":2,"post":{}}"#.to_owned(),
        r#"{"v":1,"post":{"user_id":"bad id!","post_id":"1","contents":"x","url":null,"scrap":null,"created_at":""}}"#.to_owned(),
        format!(r#"{{"v":1,"post":{{"user_id":"u","post_id":"725617227714740224","contents":"{}","url":null,"scrap":null,"created_at":""}}}}"#, "x".repeat(1_001)),
    ];
    let mut ids = Vec::new();
    for p in &poisons {
        for _ in 0..2 {
            let out = sqs.send_message().queue_url(&queue).message_body(p).send().await.unwrap();
            ids.push(out.message_id().unwrap().to_owned());
        }
    }
    load.await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut found = 0;
    while found < ids.len() && Instant::now() < deadline {
        found = 0;
        for id in &ids {
            if let Some(p) = parked.get(id).await.unwrap() {
                assert!(p.reason.starts_with("permanent:"), "{}", p.reason);
                found += 1;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut figures = reconcile(&watcher, &users, &writes, Duration::from_secs(60)).await;
    figures.parked = found;
    report("poison_messages", &figures);
    assert_eq!(figures.parked, ids.len(), "every poison message parked");
    assert_eq!(figures.attempted, 120);
    figures.assert_exact();
}
