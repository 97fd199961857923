//! The contract checker's own tests: documents that must pass and answers that must fail.

use super::*;
use serde_json::json;

const JSON: Option<&str> = Some("application/json");

fn ok(method: &str, path: &str, status: u16, body: &Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    if let Err(e) = check(method, path, status, JSON, &bytes) {
        panic!("expected a match, got: {e}");
    }
}

/// Asserts a mismatch whose message names `wanted` (and, always, the route and status).
fn fails(method: &str, path: &str, status: u16, body: &Value, wanted: &str) {
    let bytes = serde_json::to_vec(body).unwrap();
    let e = check(method, path, status, JSON, &bytes).expect_err("expected a mismatch");
    assert!(e.contains(wanted), "{wanted:?} not in: {e}");
    assert!(e.contains(&format!("{} {path} -> {status}", method.to_uppercase())), "{e}");
}

fn preview() -> Value {
    json!({
        "title": "Example", "description": "An example page", "url": "https://example.com/",
        "image": null, "image_width": 1200, "image_height": null, "type": "website",
        "site_name": null, "author": null, "published_time": null, "lang": "en",
        "favicon": "https://example.com/favicon.ico"
    })
}

fn post() -> Value {
    json!({
        "user_id": "5c1d8e4a-0b7e-4c1e-9d4f-2a8b6f3e7d10",
        "post_id": "725617227714740224",
        "contents": "Hello",
        "url": "https://example.com/",
        "scrap": preview(),
        "created_at": "2026-11-24T07:43:48.123Z"
    })
}

fn without(mut value: Value, field: &str) -> Value {
    value.as_object_mut().unwrap().remove(field);
    value
}

fn with(mut value: Value, field: &str, v: Value) -> Value {
    value[field] = v;
    value
}

#[test]
fn the_document_loads_and_every_response_schema_compiles() {
    let c = contract().unwrap();
    let mut routes: Vec<String> = c.operations.iter().map(Operation::label).collect();
    routes.sort_unstable();
    assert_eq!(
        routes,
        [
            "GET /api/v1/guid",
            "GET /api/v1/posts/{uid}",
            "GET /api/v1/scrap",
            "GET /api/v1/write_post/{uid}",
            "GET /v1/guid",
            "GET /v1/guid/{id}",
            "GET /v1/scrap",
            "GET /v1/users/{user_id}/posts",
            "POST /v1/posts",
        ]
    );
    assert!(c.operations.iter().all(|op| op.responses.values().all(|r| r.json_schema.is_some())));
}

#[test]
fn a_created_post_matches() {
    ok("POST", "/v1/posts", 201, &post());
    ok("post", "/v1/posts", 201, &with(with(post(), "scrap", Value::Null), "url", Value::Null));
    let bytes = serde_json::to_vec(&post()).unwrap();
    check("POST", "/v1/posts", 201, Some("application/json; charset=utf-8"), &bytes).unwrap();
}

#[test]
fn a_list_page_matches() {
    let page =
        json!({"posts": [post(), with(post(), "scrap", Value::Null)], "next_cursor": "725617227714740223"});
    ok("GET", "/v1/users/abc/posts?limit=2", 200, &page);
    ok("GET", "/v1/users/abc/posts", 200, &json!({"posts": [], "next_cursor": null}));
    let reference = json!({"posts": [{"user_id": "42", "post_id": 725_617_227_714_740_224u64,
        "contents": "hi", "url": null, "scrap": null}], "next_id": null});
    ok("GET", "/api/v1/posts/42?f=", 200, &reference);
}

#[test]
fn other_routes_match_their_shapes() {
    ok("GET", "/v1/guid", 200, &json!({"id": "725617227974787072"}));
    ok("GET", "/v1/guid?count=2", 200, &json!({"ids": ["1", "2"]}));
    ok(
        "GET",
        "/v1/guid/301035209351393280",
        200,
        &json!({"id": "301035209351393280", "timestamp": "2023-07-20T11:15:02.336Z",
            "timestamp_ms": 1_689_851_702_336u64, "datacenter": 0, "worker": 0, "sequence": 0}),
    );
    ok(
        "GET",
        "/api/v1/guid",
        200,
        &json!({"guid": 725_617_228_394_217_472u64, "guid_str": "725617228394217472"}),
    );
    ok("GET", "/v1/scrap?url=https%3A%2F%2Fexample.com%2F", 200, &preview());
    let compat = json!({"code": 0, "scrap": {"title": "t", "url": null, "type": null, "image": null,
        "description": null, "author": null}});
    ok("GET", "/api/v1/scrap?url=x", 200, &compat);
    let reference_post =
        json!({"user_id": "u1", "post_id": 7, "contents": "old", "url": null, "scrap": null});
    ok("GET", "/api/v1/write_post/u1?contents=old", 200, &reference_post);
}

#[test]
fn the_gateway_401_matches_and_a_function_made_one_does_not() {
    ok("POST", "/v1/posts", 401, &json!({"message": "Unauthorized"}));
    ok("GET", "/api/v1/write_post/u1", 401, &json!({"message": "Unauthorized"}));
    // A function answering 401 itself means the route lost its authorizer.
    fails("POST", "/v1/posts", 401, &json!({"code": "unauthorized", "message": "sign in"}), "code");
}

#[test]
fn error_bodies_match() {
    ok("GET", "/v1/guid?count=0", 400, &json!({"code": "invalid_count", "message": "count must be..."}));
    ok("POST", "/v1/posts", 403, &json!({"code": "forbidden", "message": "not yours"}));
    ok("POST", "/v1/posts", 409, &json!({"code": "request_in_progress", "message": "retry shortly"}));
    ok("POST", "/v1/posts", 503, &json!({"code": "queue_unavailable", "message": "retry shortly"}));
    ok("GET", "/v1/scrap?url=x", 429, &json!({"code": "rate_limited", "message": "slow down"}));
    ok("GET", "/api/v1/write_post/u1", 404, &json!({"code": "not_found", "message": "switched off"}));
}

#[test]
fn a_missing_field_fails() {
    fails("POST", "/v1/posts", 201, &without(post(), "created_at"), "created_at");
    fails("GET", "/v1/users/abc/posts", 200, &json!({"posts": []}), "next_cursor");
    fails("GET", "/v1/scrap?url=x", 200, &without(preview(), "favicon"), "favicon");
    fails("GET", "/v1/guid", 400, &json!({"code": "invalid_count"}), "message");
}

#[test]
fn a_wrong_type_or_value_fails() {
    // v1 ids are strings; the reference routes' are numbers.
    fails("POST", "/v1/posts", 201, &with(post(), "post_id", json!(725_617_227_714_740_224u64)), "/post_id");
    let reference = json!({"posts": [], "next_id": "725617227714740224"});
    fails("GET", "/api/v1/posts/42", 200, &reference, "/next_id");
    fails("POST", "/v1/posts", 201, &with(post(), "created_at", json!("yesterday")), "/created_at");
    fails("POST", "/v1/posts", 201, &with(post(), "contents", json!("")), "/contents");
    fails("POST", "/v1/posts", 201, &with(post(), "user_id", json!("a b")), "/user_id");
    let page = json!({"posts": [with(post(), "scrap", json!({"title": "x"}))], "next_cursor": null});
    fails("GET", "/v1/users/abc/posts", 200, &page, "/posts/0/scrap");
    // A code the route cannot answer with that status.
    fails("GET", "/v1/guid", 400, &json!({"code": "invalid_id", "message": "m"}), "/code");
}

#[test]
fn an_extra_field_fails() {
    fails("POST", "/v1/posts", 201, &with(post(), "author", json!("x")), "author");
    fails("GET", "/v1/guid", 400, &json!({"code": "invalid_count", "message": "m", "detail": "x"}), "detail");
    fails("GET", "/v1/guid", 200, &json!({"id": "1", "ids": ["1"]}), "/");
}

#[test]
fn an_undocumented_status_fails() {
    let e = check("GET", "/v1/guid", 418, JSON, br#"{"code":"teapot","message":"m"}"#).unwrap_err();
    assert!(e.contains("status 418 is not documented for GET /v1/guid"), "{e}");
    assert!(e.contains(r#"body: {"code":"teapot""#), "{e}");
    // Reads need no token: a 401 there is not part of the contract.
    fails("GET", "/v1/users/abc/posts", 401, &json!({"message": "Unauthorized"}), "not documented");
}

#[test]
fn an_unknown_route_or_method_fails() {
    for path in ["/no/such/route", "/v1/guids", "/v1/guid/1/2", "/", "/v1/users/abc"] {
        fails("GET", path, 404, &json!({"code": "not_found", "message": "m"}), "no documented route");
    }
    fails("DELETE", "/v1/guid", 405, &json!({"code": "method_not_allowed", "message": "m"}), "GET /v1/guid");
    fails("GET", "/v1/posts", 200, &post(), "POST /v1/posts");
}

#[test]
fn a_wrong_content_type_or_a_body_that_is_not_json_fails() {
    let bytes = serde_json::to_vec(&json!({"id": "1"})).unwrap();
    let e = check("GET", "/v1/guid", 200, Some("text/plain"), &bytes).unwrap_err();
    assert!(e.contains("text/plain"), "{e}");
    let e = check("GET", "/v1/guid", 200, None, &bytes).unwrap_err();
    assert!(e.contains("no Content-Type"), "{e}");
    let e = check("GET", "/v1/guid", 200, JSON, b"<html>oops</html>").unwrap_err();
    assert!(e.contains("not JSON") && e.contains("<html>oops</html>"), "{e}");
}

#[test]
fn paths_match_templates_whatever_their_query_or_slashes() {
    let c = contract().unwrap();
    let template = |m: &str, p: &str| c.operation(m, p).map(|op| op.template.clone());
    assert_eq!(template("GET", "/v1/guid?count=3").unwrap(), "/v1/guid");
    assert_eq!(template("GET", "/v1/guid/").unwrap(), "/v1/guid");
    assert_eq!(template("GET", "/v1/guid/123").unwrap(), "/v1/guid/{id}");
    assert_eq!(template("GET", "/v1/users/a%20b/posts?cursor=1#x").unwrap(), "/v1/users/{user_id}/posts");
    assert_eq!(template("GET", "/api/v1/write_post/u1?contents=a%2Fb").unwrap(), "/api/v1/write_post/{uid}");
}

#[test]
fn long_bodies_are_quoted_by_a_prefix() {
    let body = format!(r#"{{"id": 1, "pad": "{}"}}"#, "x".repeat(1_000));
    let e = check("GET", "/v1/guid", 200, JSON, body.as_bytes()).unwrap_err();
    assert!(e.ends_with("..."), "{e}");
    assert!(e.len() < 1_500, "{e}");
    // Which alternative of the `oneOf` failed, and why.
    assert!(e.contains("alternative 1: at /id:") && e.contains("alternative 2: at /:"), "{e}");
}

/// The examples written into the document are answers too; they must follow it.
#[test]
fn the_documents_own_examples_match() {
    let doc: Value = yaml_serde::from_str(&std::fs::read_to_string(SPEC_PATH).unwrap()).unwrap();
    let c = contract().unwrap();
    let mut seen = 0;
    for op in &c.operations {
        let responses = &doc["paths"][&op.template][&op.method]["responses"];
        for (status, response) in responses.as_object().unwrap() {
            let response = resolve(&doc, response).unwrap();
            let media = &response["content"]["application/json"];
            let mut examples: Vec<&Value> = media.get("example").into_iter().collect();
            if let Some(named) = media.get("examples").and_then(Value::as_object) {
                examples.extend(named.values().map(|e| &e["value"]));
            }
            for example in examples {
                let bytes = serde_json::to_vec(example).unwrap();
                let status: u16 = status.parse().unwrap();
                check(&op.method, &op.template, status, JSON, &bytes).unwrap();
                seen += 1;
            }
        }
    }
    assert!(seen >= 3, "only {seen} examples checked");
}
