//! Writing and reading posts through the deployed HTTP API, with the posts table seeded
//! directly where the queue's persister is not part of the stack yet.

use domain::posts::Post;
use integration::seed::SeedTable;
use integration::{
    api_url, assert_error_body, cache_nodes, get_json, get_json_with, http, page_ids, redis_node, unique,
    writer,
};
use serde_json::{Value, json};
use snowflake::layout::{WorkerSlot, compose};
use std::time::{SystemTime, UNIX_EPOCH};

fn user() -> String {
    unique("u").replace(['-'], "_")
}

async fn table() -> SeedTable {
    SeedTable::of_stack().await
}

/// Ids made an hour ago that differ only in their low (sequence) bits: above 2^53, where a
/// double cannot tell them apart.
fn low_bit_ids(n: u16) -> Vec<u64> {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64 - 3_600_000;
    let slot = WorkerSlot::new(3, 9).unwrap();
    (0..n).map(|seq| compose(ms - snowflake::EPOCH_UNIX_MS, slot, seq)).collect()
}

fn seeded(uid: &str, id: u64) -> Post {
    Post {
        user_id: uid.to_owned(),
        post_id: id,
        contents: format!("seeded {id}"),
        url: None,
        scrap: None,
        created_at: domain::posts::write::created_at(id),
    }
}

#[tokio::test]
async fn written_posts_show_in_the_next_read_newest_first() {
    let (c, w) = (http(), writer("read").await);
    let uid = &w.sub;
    let mut written = Vec::new();
    for i in 0..3 {
        let (s, b, _) = w.post(&c, "/v1/posts", &json!({"contents": format!("post {i}")}), &[]).await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["user_id"].as_str(), Some(uid.as_str()), "the author is the token's subject");
        assert_eq!(b["contents"], format!("post {i}"));
        assert!(b["created_at"].as_str().unwrap().ends_with('Z'));
        written.push(b["post_id"].as_str().unwrap().parse::<u64>().unwrap());
    }
    let (s, page) = get_json(&c, &format!("/v1/users/{uid}/posts")).await;
    assert_eq!(s, 200, "{page}");
    written.reverse();
    assert_eq!(page_ids(&page), written);
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn pages_follow_cursors_exactly_on_ids_differing_in_low_bits() {
    let (c, uid) = (http(), user());
    let store = table().await;
    let all = low_bit_ids(25);
    for id in &all {
        store.put(&seeded(&uid, *id)).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(cur) => format!("/v1/users/{uid}/posts?limit=4&cursor={cur}"),
            None => format!("/v1/users/{uid}/posts?limit=4"),
        };
        let (s, page) = get_json(&c, &path).await;
        assert_eq!(s, 200, "{page}");
        seen.extend(page_ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut expected = all.clone();
    expected.reverse();
    assert_eq!(seen, expected, "every post once, newest first, across pages");
}

#[tokio::test]
async fn a_missing_list_is_filled_and_missing_posts_are_repaired() {
    let (c, uid) = (http(), user());
    let store = table().await;
    let all = low_bit_ids(6);
    for id in &all {
        store.put(&seeded(&uid, *id)).await.unwrap();
    }
    let first = get_json(&c, &format!("/v1/users/{uid}/posts")).await.1;
    assert_eq!(page_ids(&first).len(), 6);
    // Drop two posts and the list from the cache: the next read repairs from the table.
    let nodes = cache_nodes();
    for node in &nodes {
        let mut r = redis_node(node).await;
        let _: () = redis::cmd("DEL")
            .arg(format!("post:{}", all[0]))
            .arg(format!("post:{}", all[3]))
            .query_async(&mut r)
            .await
            .unwrap();
    }
    // Every read answers the same page; the write-back is best effort (a cache call can time out
    // on a loaded machine), so poll a few reads for it, with a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let again = get_json(&c, &format!("/v1/users/{uid}/posts")).await.1;
        assert_eq!(again, first);
        let mut found = 0;
        for node in &nodes {
            let mut r = redis_node(node).await;
            let n: i64 =
                redis::cmd("EXISTS").arg(format!("post:{}", all[0])).query_async(&mut r).await.unwrap();
            found += n;
        }
        if found == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the repaired post never came back to the cache");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    for node in &nodes {
        let mut r = redis_node(node).await;
        let _: () = redis::cmd("DEL").arg(format!("pl:{uid}")).query_async(&mut r).await.unwrap();
    }
    assert_eq!(
        get_json(&c, &format!("/v1/users/{uid}/posts")).await.1,
        first,
        "list refilled from the table"
    );
}

#[tokio::test]
async fn ids_unknown_to_cache_and_table_are_dropped_from_the_list() {
    let (c, uid) = (http(), user());
    let store = table().await;
    let all = low_bit_ids(3);
    store.put(&seeded(&uid, all[0])).await.unwrap();
    store.put(&seeded(&uid, all[2])).await.unwrap();
    // A list naming an id the table never had (an hour old: past the repair grace).
    let members: Vec<String> = ["00000000000000000000".to_owned()]
        .into_iter()
        .chain(all.iter().map(|id| format!("{id:020}")))
        .collect();
    let placement_node = {
        // Write the list on every node: only the one the ring picks is read.
        cache_nodes()
    };
    for node in &placement_node {
        let mut r = redis_node(node).await;
        for m in &members {
            let _: () =
                redis::cmd("ZADD").arg(format!("pl:{uid}")).arg(0).arg(m).query_async(&mut r).await.unwrap();
        }
    }
    let page = get_json(&c, &format!("/v1/users/{uid}/posts")).await.1;
    assert_eq!(page_ids(&page), vec![all[2], all[0]]);
    for node in &placement_node {
        let mut r = redis_node(node).await;
        let _: () = redis::cmd("DEL").arg(format!("pl:{uid}")).query_async(&mut r).await.unwrap();
    }
}

#[tokio::test]
async fn idempotent_retries_answer_the_first_result() {
    let (c, w) = (http(), writer("idem").await);
    let uid = &w.sub;
    let key = unique("key");
    let body = json!({"contents": "once"});
    let (s1, b1, _) = w.post(&c, "/v1/posts", &body, &[("Idempotency-Key", &key)]).await;
    assert_eq!(s1, 201, "{b1}");
    let (s2, b2, h2) = w.post(&c, "/v1/posts", &body, &[("Idempotency-Key", &key)]).await;
    assert_eq!((s2, &b2), (201, &b1));
    assert_eq!(h2.get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    let (s3, b3, _) =
        w.post(&c, "/v1/posts", &json!({"contents": "twice"}), &[("Idempotency-Key", &key)]).await;
    assert_eq!(s3, 422, "{b3}");
    assert_error_body(&b3, "idempotency_key_reused");
    let page = get_json(&c, &format!("/v1/users/{uid}/posts")).await.1;
    assert_eq!(page_ids(&page).len(), 1, "stored once");
}

#[tokio::test]
async fn bad_input_is_4xx_with_the_error_body() {
    let (c, w) = (http(), writer("bad").await);
    let cases = [
        (json!({"contents": ""}), "invalid_contents"),
        (json!({"contents": "x".repeat(1_001)}), "invalid_contents"),
        (json!({"contents": "x", "url": "javascript:alert(1)"}), "invalid_url"),
        (json!({"contents": "x", "url": format!("https://e.com/{}", "a".repeat(2_100))}), "invalid_url"),
        (json!({"user_id": 1, "contents": "x"}), "invalid_body"),
        (json!({"contents": "x", "extra": true}), "invalid_body"),
        (json!({"url": "https://e.com/"}), "invalid_body"),
        (json!(["not", "an", "object"]), "invalid_body"),
    ];
    for (body, code) in cases {
        let (s, b, _) = w.post(&c, "/v1/posts", &body, &[]).await;
        assert_eq!(s, 400, "{body}: {b}");
        assert_error_body(&b, code);
    }
    let res = c
        .post(format!("{}/v1/posts", api_url()))
        .header("Authorization", w.bearer())
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_error_body(&res.json().await.unwrap(), "invalid_json");
    let huge = json!({"contents": "x".repeat(70_000)});
    let (s, b, _) = w.post(&c, "/v1/posts", &huge, &[]).await;
    assert_eq!(s, 413, "{b}");
    assert_error_body(&b, "body_too_large");
    for q in ["limit=0", "limit=101", "limit=x", "cursor=abc", "cursor=-1"] {
        let (s, b) = get_json(&c, &format!("/v1/users/1/posts?{q}")).await;
        assert_eq!(s, 400, "{q}: {b}");
    }
    let (s, b) = get_json(&c, "/v1/users/bad%20id/posts").await;
    assert_eq!((s, b["code"].as_str()), (400, Some("invalid_user_id")));
}

#[tokio::test]
async fn compatibility_routes_keep_the_reference_shapes() {
    let (c, writer) = (http(), writer("compat").await);
    let uid = &writer.sub;
    let auth = [("Authorization", writer.bearer())];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let path = format!("/api/v1/write_post/{uid}?contents=from%20the%20old%20client");
    let (s, b) = get_json(&c, &path).await;
    assert_eq!((s, &b), (401, &json!({"message": "Unauthorized"})), "the old route needs a token too");
    let (s, b) = get_json_with(&c, "/api/v1/write_post/someone_else?contents=x", &auth).await;
    assert_eq!(s, 403, "{b}");
    assert_error_body(&b, "forbidden");
    let (s, w) = get_json_with(&c, &path, &auth).await;
    assert_eq!(s, 200, "{w}");
    let mut keys: Vec<&str> = w.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["contents", "post_id", "scrap", "url", "user_id"]);
    assert!(w["post_id"].is_u64(), "the reference's number");
    let (s, r) = get_json(&c, &format!("/api/v1/posts/{uid}")).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["posts"][0]["post_id"], w["post_id"]);
    assert_eq!(r["next_id"], Value::Null);
}
