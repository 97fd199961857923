//! The guid routes through the deployed HTTP API.

use integration::{api_url, assert_error_body, get_json, http};
use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

fn ids_of(body: &serde_json::Value) -> Vec<u64> {
    body["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().parse().unwrap()).collect()
}

#[tokio::test]
async fn one_id_decodes_to_now() {
    let c = http();
    let (s, b) = get_json(&c, "/v1/guid").await;
    assert_eq!(s, 200, "{b}");
    let id = b["id"].as_str().unwrap();
    assert!(id.bytes().all(|c| c.is_ascii_digit()), "{b}");

    let (s, d) = get_json(&c, &format!("/v1/guid/{id}")).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["id"], id);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let ts = d["timestamp_ms"].as_u64().unwrap();
    assert!(now.abs_diff(ts) < 60_000, "id time {ts} vs now {now}");
    assert!(d["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(d["datacenter"].as_u64().unwrap() < 32 && d["worker"].as_u64().unwrap() < 32);
    assert!(d["sequence"].as_u64().unwrap() < 4096);
}

#[tokio::test]
async fn four_parallel_clients_get_4000_distinct_ids() {
    let c = http();
    let batches = futures_join((0..4).map(|_| {
        let c = c.clone();
        async move { get_json(&c, "/v1/guid?count=1000").await }
    }))
    .await;
    let mut all = HashSet::new();
    for (s, b) in &batches {
        assert_eq!(*s, 200, "{b}");
        let ids = ids_of(b);
        assert_eq!(ids.len(), 1_000);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "a batch is increasing");
        all.extend(ids);
    }
    assert_eq!(all.len(), 4_000);
}

#[tokio::test]
async fn compat_route_answers_the_reference_shape() {
    let (s, b) = get_json(&http(), "/api/v1/guid").await;
    assert_eq!(s, 200, "{b}");
    let n = b["guid"].as_u64().expect("guid is a JSON number");
    assert_eq!(b["guid_str"].as_str(), Some(n.to_string().as_str()));
}

#[tokio::test]
async fn bad_input_is_400_with_the_error_body() {
    let c = http();
    for q in ["count=0", "count=5000", "count=abc", "count=-3", "count=1.5"] {
        let (s, b) = get_json(&c, &format!("/v1/guid?{q}")).await;
        assert_eq!(s, 400, "{q}: {b}");
        assert_error_body(&b, "invalid_count");
    }
    for id in ["abc", "-1", "99999999999999999999", "9223372036854775808"] {
        let (s, b) = get_json(&c, &format!("/v1/guid/{id}")).await;
        assert_eq!(s, 400, "{id}: {b}");
        assert_error_body(&b, "invalid_id");
    }
}

#[tokio::test]
async fn unknown_routes_are_404_json() {
    let c = http();
    for p in ["/no/such/route", "/v1/guids", "/v1/guid/1/2", "/"] {
        let (s, b) = integration::get_json_unlisted(&c, p).await;
        assert_eq!(s, 404, "{p}: {b}");
        assert_error_body(&b, "not_found");
    }
    let res = c.post(format!("{}/v1/guid", api_url())).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 405);
    assert_error_body(&res.json().await.unwrap(), "method_not_allowed");
}

#[tokio::test]
async fn ids_increase_across_requests() {
    let c = http();
    let mut seen = HashSet::new();
    let mut last: Option<u64> = None;
    for call in 0..20 {
        let (s, b) = get_json(&c, "/v1/guid?count=50").await;
        assert_eq!(s, 200, "{b}");
        let ids = ids_of(&b);
        assert_eq!(ids.len(), 50, "{b}");
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "call {call}: ids strictly increase within a response: {ids:?}"
        );
        // Sequential requests may land on different instances (different workers), but the next
        // request's ids are made in a later millisecond than the previous answer's (that answer
        // had to travel back, and the next request forth), and the timestamp is the id's top bits.
        if let (Some(prev), Some(first)) = (last, ids.first()) {
            assert!(
                *first > prev,
                "call {call}: first id {first} is not above the previous call's last {prev}"
            );
        }
        for id in &ids {
            assert!(seen.insert(*id), "call {call}: id {id} was issued before");
        }
        last = ids.last().copied();
    }
    assert_eq!(seen.len(), 20 * 50);
}

async fn futures_join<F: std::future::Future + Send + 'static>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
