//! The cache failing under the posts API: flushed, and a node stopped in the middle of writes
//! and reads. Requests keep succeeding. One test, so nothing else in this binary runs while
//! the cache is disturbed (test binaries run one after another).

use adapters::DynamoPosts;
use domain::posts::Post;
use integration::{cache_nodes, get_json, http, page_ids, redis_node, sdk, stack_output, writer};
use serde_json::json;
use snowflake::layout::{WorkerSlot, compose};
use std::time::{SystemTime, UNIX_EPOCH};

#[tokio::test]
async fn flushed_or_stopped_cache_nodes_never_fail_a_request() {
    let (c, w) = (http(), writer("cache_outage").await);
    let store = DynamoPosts::from_sdk(&sdk().await, stack_output("PostsTableName").await);
    let uid = w.sub.clone();
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64 - 3_600_000;
    let seeded: Vec<u64> =
        (0..4).map(|s| compose(ms - snowflake::EPOCH_UNIX_MS, WorkerSlot::new(1, 2).unwrap(), s)).collect();
    for id in &seeded {
        let post = Post {
            user_id: uid.clone(),
            post_id: *id,
            contents: "seeded".into(),
            url: None,
            scrap: None,
            created_at: domain::posts::write::created_at(*id),
        };
        store.put(&post).await.unwrap();
    }

    // Flushed: the page comes back the same, from the table.
    let before = get_json(&c, &format!("/v1/users/{uid}/posts")).await.1;
    for node in cache_nodes() {
        let _: () = redis::cmd("FLUSHALL").query_async(&mut redis_node(&node).await).await.unwrap();
    }
    assert_eq!(get_json(&c, &format!("/v1/users/{uid}/posts")).await.1, before);

    // One node stopped (SIGSTOP: it holds connections and answers nothing, the worst case for
    // timeouts) while writes and reads go on.
    let node = cache_nodes().into_iter().next().unwrap();
    let mut conn = redis_node(&node).await;
    let info: String = redis::cmd("INFO").arg("server").query_async(&mut conn).await.unwrap();
    let pid: i32 = info.lines().find_map(|l| l.strip_prefix("process_id:")).unwrap().trim().parse().unwrap();
    drop(conn);
    let stop = std::process::Command::new("kill").args(["-STOP", &pid.to_string()]).status().unwrap();
    assert!(stop.success());
    let outcome = tokio::spawn({
        let (c, uid, w) = (c.clone(), uid.clone(), w.clone());
        async move {
            let mut statuses = Vec::new();
            for i in 0..8 {
                let (s, b, _) =
                    w.post(&c, "/v1/posts", &json!({"contents": format!("during {i}")}), &[]).await;
                assert!(b.is_object());
                statuses.push(s);
                let (s, _) = get_json(&c, &format!("/v1/users/{uid}/posts")).await;
                statuses.push(s);
            }
            statuses
        }
    })
    .await;
    let cont = std::process::Command::new("kill").args(["-CONT", &pid.to_string()]).status().unwrap();
    assert!(cont.success());
    let statuses = outcome.unwrap();
    assert!(statuses.iter().all(|s| *s == 201 || *s == 200), "{statuses:?}");

    // After the node is back, reads still show the seeded posts.
    let after = get_json(&c, &format!("/v1/users/{uid}/posts?limit=100")).await.1;
    for id in seeded {
        assert!(page_ids(&after).contains(&id), "{after}");
    }

    // And the cache serves again once the functions' breakers close: a new post shows at the
    // top of the next read (poll, with a deadline).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let id = w.write(&c, "back").await;
        let page = get_json(&c, &format!("/v1/users/{uid}/posts")).await.1;
        if page_ids(&page).first() == Some(&id) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the cache did not recover within 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
