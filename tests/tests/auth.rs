//! Who may write: API Gateway's JWT authorizer in front of the write routes, the token's
//! subject as the author, reads public. The refused tokens come from `scripts/test_tokens.py`,
//! which signs some with the user pool's real key, so each is refused for one reason only.

use adapters::DynamoPosts;
use domain::posts::PostStore;
use integration::{
    api_url, assert_error_body, get_json, http, post_json, run_script, sdk, stack_output, unique, writer,
};
use serde_json::{Value, json};

/// `scripts/test_tokens.py` for a new user: the valid token and the ones to refuse.
async fn tokens() -> Value {
    let args = vec![unique("auth"), "--instance".into(), "test".into()];
    serde_json::from_str(&run_script("test_tokens.py", args).await).unwrap()
}

async fn write_with(token: Option<&str>, body: &Value) -> (u16, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("Authorization", b.as_str())).collect();
    let (s, b, _) = post_json(&http(), "/v1/posts", body, &headers).await;
    (s, b)
}

#[tokio::test]
async fn writes_without_a_good_token_are_401_and_store_nothing() {
    let t = tokens().await;
    let sub = t["sub"].as_str().unwrap();
    let run = unique("refused");
    let unauthorized = json!({"message": "Unauthorized"});
    let mut refused = Vec::new();
    for (name, token) in [
        ("missing", None),
        ("garbage", Some("garbage")),
        ("expired", t["expired"].as_str()),
        ("bad signature", t["bad_signature"].as_str()),
        ("signed by another key", t["other_key"].as_str()),
        ("another app client (audience)", t["wrong_audience"].as_str()),
        ("another issuer", t["wrong_issuer"].as_str()),
    ] {
        let contents = format!("{run} {name}");
        let (s, b) = write_with(token, &json!({"contents": contents})).await;
        assert_eq!((s, &b), (401, &unauthorized), "{name} token");
        refused.push(contents);
    }
    // A header that is not a bearer token at all.
    let contents = format!("{run} basic");
    let res = http()
        .post(format!("{}/v1/posts", api_url()))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .json(&json!({"contents": contents}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    refused.push(contents);

    // The control: the expired token's claims, fresh and signed with the same key, are
    // accepted, so the expired one was refused for its expiry alone.
    let (s, fresh) = write_with(t["forged_fresh"].as_str(), &json!({"contents": "fresh"})).await;
    assert_eq!((s, fresh["user_id"].as_str()), (201, Some(sub)), "{fresh}");
    let (s, valid) = write_with(t["valid"].as_str(), &json!({"contents": "valid"})).await;
    assert_eq!((s, valid["user_id"].as_str()), (201, Some(sub)), "{valid}");

    // Nothing refused was stored. Posts reach the table through the queue, so only once the
    // control posts (written after every refused one) are in the table can the absence of the
    // refused ones mean anything.
    let store = DynamoPosts::from_sdk(&sdk().await, stack_output("PostsTableName").await);
    let control: Vec<u64> =
        [&fresh, &valid].iter().map(|b| b["post_id"].as_str().unwrap().parse().unwrap()).collect();
    let stored = integration::until("the control posts reach the table", 60, || async {
        let stored = store.page(sub, None, 1_000).await.unwrap();
        control.iter().all(|id| stored.iter().any(|p| p.post_id == *id)).then_some(stored)
    })
    .await;
    let leaked: Vec<&str> =
        stored.iter().map(|p| p.contents.as_str()).filter(|c| refused.iter().any(|r| r == c)).collect();
    assert!(leaked.is_empty(), "refused writes were stored: {leaked:?}");
    let stored_contents: Vec<&str> = stored.iter().map(|p| p.contents.as_str()).collect();
    assert_eq!(stored_contents, ["valid", "fresh"], "the table holds the control posts only");
    let (s, page) = get_json(&http(), &format!("/v1/users/{sub}/posts")).await;
    assert_eq!(s, 200, "{page}");
    let listed: Vec<&str> =
        page["posts"].as_array().unwrap().iter().filter_map(|p| p["contents"].as_str()).collect();
    assert!(!listed.iter().any(|c| refused.iter().any(|r| r == c)), "refused writes are listed: {page}");
    assert_eq!(listed, ["valid", "fresh"], "{page}");
}

#[tokio::test]
async fn the_author_is_the_token_subject_and_no_one_else() {
    let (c, w) = (http(), writer("author").await);
    // Naming oneself is allowed and changes nothing.
    let (s, b, _) = w.post(&c, "/v1/posts", &json!({"user_id": w.sub, "contents": "me"}), &[]).await;
    assert_eq!((s, b["user_id"].as_str()), (201, Some(w.sub.as_str())), "{b}");
    // Naming someone else is 403, and nothing is written for either user.
    let victim = unique("victim");
    let (s, b, _) = w.post(&c, "/v1/posts", &json!({"user_id": victim, "contents": "as you"}), &[]).await;
    assert_eq!(s, 403, "{b}");
    assert_error_body(&b, "forbidden");
    let (_, page) = get_json(&c, &format!("/v1/users/{victim}/posts")).await;
    assert_eq!(page["posts"], json!([]));
    let (_, page) = get_json(&c, &format!("/v1/users/{}/posts", w.sub)).await;
    let contents: Vec<&str> =
        page["posts"].as_array().unwrap().iter().filter_map(|p| p["contents"].as_str()).collect();
    assert_eq!(contents, ["me"]);
}

#[tokio::test]
async fn reads_stay_public() {
    let (c, w) = (http(), writer("public").await);
    let id = w.write(&c, "for everyone").await;
    let (s, page) = get_json(&c, &format!("/v1/users/{}/posts", w.sub)).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["posts"][0]["post_id"], id.to_string());
}
