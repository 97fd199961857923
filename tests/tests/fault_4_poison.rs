//! Fault 4: poison messages injected straight into the posts queue during a stream of writes.
//! Every poison message ends up parked with a reason; every accepted post is persisted once.

use adapters::DynamoParked;
use integration::faults::{Writes, reconcile, report, when_sent, write_stream};
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
    let writes = Arc::new(Writes::default());
    let load = tokio::spawn(write_stream(users.clone(), 120, 8, unique("f4"), Arc::clone(&writes)));
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
    let mut figures = reconcile(&users, &writes, Duration::from_secs(60)).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut found = 0;
        for id in &ids {
            if let Some(p) = parked.get(id).await.unwrap() {
                assert!(p.reason.starts_with("permanent:"), "{}", p.reason);
                found += 1;
            }
        }
        figures.parked = found;
        if found == ids.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    report("poison_messages", &figures);
    assert_eq!(figures.parked, ids.len(), "every poison message parked");
    assert_eq!((figures.lost, figures.duplicates, figures.phantoms), (0, 0, 0), "{figures:?}");
}
