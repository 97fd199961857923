//! The deployed guid function issues ids only under a lease it holds in the stack's lease table.

use aws_sdk_dynamodb::types::AttributeValue;
use integration::{get_json, http, sdk, stack_output};
use std::time::{SystemTime, UNIX_EPOCH};

#[tokio::test]
async fn issued_ids_carry_the_worker_id_of_a_live_lease() {
    let (s, b) = get_json(&http(), "/v1/guid?count=10").await;
    assert_eq!(s, 200, "{b}");
    let ids: Vec<u64> =
        b["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().parse().unwrap()).collect();
    let d = snowflake::decode(ids[9]).unwrap();
    let slot = u16::from(d.datacenter) << 5 | u16::from(d.worker);

    let table = stack_output("LeaseTableName").await;
    let function = stack_output("GuidFunctionName").await;
    let db = aws_sdk_dynamodb::Client::new(&sdk().await);
    let item = db
        .get_item()
        .table_name(&table)
        .key("worker", AttributeValue::N(slot.to_string()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_else(|| panic!("no lease item for slot {slot}"));
    let num = |k: &str| item[k].as_n().unwrap().parse::<u64>().unwrap();
    let holder = item["holder"].as_s().unwrap();
    assert!(holder.starts_with(&format!("{function}/")), "holder {holder} is not an instance of {function}");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(num("expires_at") > now, "the lease is live");
    assert_eq!(num("last_ts"), num("expires_at"));
    assert!(d.unix_ms <= num("last_ts"), "no id beyond the recorded last_ts");
}
