//! Worker leases against a real DynamoDB API (the emulator, or AWS). Each test makes its own
//! table and deletes it.

use adapters::DynamoLeaseStore;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PutRequest,
    ScalarAttributeType, WriteRequest,
};
use domain::{IdIssuer, IssueError, IssuerConfig, LeaseError, LeaseStore};
use integration::{now_ms, sdk, unique};
use snowflake::clock::ManualClock;
use snowflake::decode;
use std::collections::HashSet;
use std::sync::Arc;

/// Runs `body` with a fresh lease table, deleting the table afterwards even if `body` panics.
async fn with_table<F, Fut>(body: F)
where
    F: FnOnce(Client, String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let client = Client::new(&sdk().await);
    let table = unique("leases-test");
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("worker")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder().attribute_name("worker").key_type(KeyType::Hash).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    client
        .wait_until_table_exists()
        .table_name(&table)
        .wait(std::time::Duration::from_secs(120))
        .await
        .unwrap();
    let outcome = tokio::spawn(body(client.clone(), table.clone())).await;
    client.delete_table().table_name(&table).send().await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Marks every slot except `free` as held far into the future by someone else.
async fn occupy_all_but(client: &Client, table: &str, free: &[u16]) {
    let far = (now_ms() + 3_600_000).to_string();
    let writes: Vec<WriteRequest> = (0..1024u16)
        .filter(|s| !free.contains(s))
        .map(|s| {
            let item = PutRequest::builder()
                .item("worker", AttributeValue::N(s.to_string()))
                .item("holder", AttributeValue::S("someone-else".into()))
                .item("expires_at", AttributeValue::N(far.clone()))
                .item("last_ts", AttributeValue::N(far.clone()))
                .build()
                .unwrap();
            WriteRequest::builder().put_request(item).build()
        })
        .collect();
    for chunk in writes.chunks(25) {
        let mut pending = Some(chunk.to_vec());
        while let Some(batch) = pending.take().filter(|b| !b.is_empty()) {
            let out = client.batch_write_item().request_items(table, batch).send().await.unwrap();
            pending = out.unprocessed_items.and_then(|mut m| m.remove(table));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_starts_get_distinct_slots_until_all_are_taken() {
    with_table(|client, table| async move {
        let store = Arc::new(DynamoLeaseStore::new(client, table));
        let now = now_ms();
        // Real cold starts are separate processes, one connection each. One test process opening
        // 1,024 connections at once overflows the emulator's listen backlog (connects time out and
        // the SDK's retry budget runs dry), so 64 race at a time: still far more than ever collide.
        let in_flight = Arc::new(tokio::sync::Semaphore::new(64));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..1024 {
            let store = Arc::clone(&store);
            let in_flight = Arc::clone(&in_flight);
            tasks.spawn(async move {
                let _permit = in_flight.acquire().await.expect("never closed");
                store.acquire(&format!("instance-{i}"), now, now + 600_000).await
            });
        }
        let mut slots = HashSet::new();
        while let Some(r) = tasks.join_next().await {
            let lease = r.unwrap().unwrap_or_else(|e| panic!("acquire failed: {e}"));
            assert_eq!(lease.floor_ms, 0, "a never-used slot has no floor");
            assert!(slots.insert(lease.slot), "slot {:?} leased twice", lease.slot);
        }
        assert_eq!(slots.len(), 1024);
        // The 1,025th instance is refused, never given a slot someone holds.
        assert_eq!(
            store.acquire("one-too-many", now + 1, now + 600_000).await,
            Err(LeaseError::AllTaken(1024))
        );
    })
    .await;
}

#[tokio::test]
async fn lease_that_expires_while_its_holder_idles_is_taken_over_and_never_reused() {
    with_table(|client, table| async move {
        occupy_all_but(&client, &table, &[77]).await;
        let store = Arc::new(DynamoLeaseStore::new(client.clone(), table.clone()));
        let clock = Arc::new(ManualClock::new(now_ms(), 1));
        let config = IssuerConfig { ttl_ms: 30_000, margin_ms: 2_000, max_backwards_ms: 100 };
        let a = IdIssuer::new(Arc::clone(&store), Arc::clone(&clock), "instance-a", config);
        let a_ids = a.issue(500).await.unwrap();
        let a_lease = a.lease().await.unwrap();
        assert_eq!(a_lease.slot.index(), 77, "the only free slot");

        // `a` is frozen past its lease; a cold start takes the slot over.
        clock.advance(config.ttl_ms + 1);
        let b = IdIssuer::new(Arc::clone(&store), Arc::clone(&clock), "instance-b", config);
        let b_ids = b.issue(500).await.unwrap();
        let b_lease = b.lease().await.unwrap();
        assert_eq!(b_lease.slot, a_lease.slot);
        assert_eq!(b_lease.floor_ms, a_lease.expires_at_ms, "b starts above a's recorded last_ts");
        assert!(b_ids[0] > *a_ids.last().unwrap());
        assert!(decode(b_ids[0]).unwrap().unix_ms > a_lease.expires_at_ms);

        // `a` thaws: its old slot is gone and no other is free, so it refuses instead of
        // issuing under a worker id someone else holds.
        assert_eq!(a.issue(1).await, Err(IssueError::Lease(LeaseError::AllTaken(1024))));

        // Once a slot frees up (its holder's lease ended long ago), `a` continues there.
        client
            .update_item()
            .table_name(&table)
            .key("worker", AttributeValue::N("5".into()))
            .update_expression("SET expires_at = :past, last_ts = :past")
            .expression_attribute_values(":past", AttributeValue::N((now_ms() - 3_600_000).to_string()))
            .send()
            .await
            .unwrap();
        let a_more = a.issue(500).await.unwrap();
        assert_eq!(a.lease().await.unwrap().slot.index(), 5);
        let all: HashSet<u64> = a_ids.iter().chain(&b_ids).chain(&a_more).copied().collect();
        assert_eq!(all.len(), 1_500);

        // The table records each holder's last_ts as the end of its lease.
        let item = client
            .get_item()
            .table_name(&table)
            .key("worker", AttributeValue::N("77".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(item["holder"].as_s().unwrap(), "instance-b");
        assert_eq!(item["last_ts"], item["expires_at"]);
    })
    .await;
}

#[tokio::test]
async fn renewal_extends_in_place_and_a_changed_lease_is_lost() {
    with_table(|client, table| async move {
        let store = DynamoLeaseStore::new(client, table);
        let now = now_ms();
        let lease = store.acquire("me", now, now + 10_000).await.unwrap();
        let renewed = store.renew(&lease, now + 20_000).await.unwrap();
        assert_eq!((renewed.slot, renewed.expires_at_ms), (lease.slot, now + 20_000));
        // Renewing with the stale expiry fails: the slot changed since that lease was read.
        assert_eq!(store.renew(&lease, now + 30_000).await, Err(LeaseError::Lost(lease.slot.index())));
        // A live lease cannot be taken by another holder.
        let other = store.acquire("other", now + 1, now + 10_000).await.unwrap();
        assert_ne!(other.slot, lease.slot);
    })
    .await;
}
