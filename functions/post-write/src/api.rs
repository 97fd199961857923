//! HTTP routes of post-write.
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/posts` `{"contents", "url"?, "user_id"?}` | `201` the stored post `{"user_id", "post_id", "contents", "url", "scrap", "created_at"}` |
//! | `GET /api/v1/write_post/{uid}?contents=&url=` | the reference's shape `{"user_id", "post_id", "contents", "url", "scrap"}` |
//!
//! Both need a signed-in caller: API Gateway's JWT authorizer verifies the bearer token and
//! hands over its claims, and the post's author is the token's `sub`, never the body. A body
//! (or a compat path) naming another user is refused with 403; a request without verified
//! claims (a route that lost its authorizer) with 401.
//!
//! The reference wrote with GET and the content in the query string; the route exists so its
//! clients move over unchanged (a strangler migration). It is off unless
//! `COMPAT_WRITE_ENABLED=true`. An `Idempotency-Key` header on `POST /v1/posts` makes retries
//! safe (`domain::ops::write_post`).

use chassis::request::{query, subject};
use chassis::routes::{Route, get, post};
use chassis::{ApiError, json_response};
use domain::ops::write_post::{Invocation, WritePost, Written};
use domain::posts::Trace;
use domain::posts::idempotency::IdempotencyStore;
use domain::posts::write::PostWrites;
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Error, Request, RequestExt, Response};

pub struct Deps<W, D> {
    pub writer: W,
    pub idempotency: D,
    pub compat_write_enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Write,
    CompatWrite,
}

const ROUTES: &[Route<Op>] = &[post("/v1/posts", Op::Write), get("/api/v1/write_post/{}", Op::CompatWrite)];

pub async fn handle<W: PostWrites, D: IdempotencyStore>(
    deps: &Deps<W, D>,
    req: Request,
) -> Result<Response<Body>, Error> {
    Ok(route(deps, &req).await.unwrap_or_else(ApiError::into_response))
}

async fn route<W: PostWrites, D: IdempotencyStore>(
    deps: &Deps<W, D>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let route = chassis::routes::resolve(req, ROUTES)?;
    let write = match route.op {
        Op::Write => {
            let key = req.headers().get("idempotency-key").map(HeaderValue::as_bytes);
            WritePost::parse(req.body().as_ref(), subject(req), key)?
        }
        Op::CompatWrite if !deps.compat_write_enabled => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "the write-by-GET route is switched off",
            ));
        }
        Op::CompatWrite => {
            WritePost::compat(route.param(0), query(req, "contents"), query(req, "url"), subject(req))?
        }
    };
    let now_ms = domain::clock_text::now_unix_ms();
    let at = Invocation { now_ms, deadline_ms: req.lambda_context_ref().map(|c| c.deadline) };
    let trace = Trace {
        trace_id: chassis::request::trace_id(req),
        xray_trace_id: chassis::request::xray_trace_id(req),
    };
    Ok(match (write.apply(&deps.writer, &deps.idempotency, at, &trace).await?, route.op) {
        (Written::Created(post), Op::Write) => json_response(StatusCode::CREATED, &post),
        (Written::Created(post), Op::CompatWrite) => json_response(StatusCode::OK, &post.as_reference()),
        (Written::Replayed { status, body }, _) => replay(status, body),
    })
}

fn replay(status: u16, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::fakes::MemoryIdempotency;
    use domain::fakes::posts::{CountingIds, FixedPreviews, MemoryPostCache, MemoryQueue, MemoryTable};
    use domain::posts::write::PostWriter;
    use std::sync::atomic::{AtomicU64, Ordering};

    type TestDeps = Deps<
        PostWriter<CountingIds, FixedPreviews, MemoryPostCache, MemoryTable, MemoryQueue>,
        MemoryIdempotency,
    >;

    fn deps(compat: bool) -> TestDeps {
        Deps {
            writer: PostWriter {
                ids: CountingIds(AtomicU64::new(725_617_227_714_740_224)),
                previews: FixedPreviews::default(),
                cache: MemoryPostCache::new(100),
                store: MemoryTable::default(),
                queue: MemoryQueue::default(),
                list_max: 100,
            },
            idempotency: MemoryIdempotency::default(),
            compat_write_enabled: compat,
        }
    }

    fn event(file: &str) -> serde_json::Value {
        chassis::fixtures::event(file)
    }

    async fn call(d: &TestDeps, ev: &serde_json::Value) -> (u16, serde_json::Value, Response<Body>) {
        let res = handle(d, lambda_http::request::from_str(&ev.to_string()).unwrap()).await.unwrap();
        (res.status().as_u16(), serde_json::from_slice(res.body().as_ref()).unwrap(), res)
    }

    #[tokio::test]
    async fn sample_write_is_201_and_queued() {
        let d = deps(true);
        let (s, b, _) = call(&d, &event("post-write.json")).await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["post_id"], "725617227714740224");
        assert_eq!(d.writer.queue.sent().len(), 1);
    }

    #[tokio::test]
    async fn bad_bodies_are_400_or_413() {
        let d = deps(true);
        let (s, b, _) = call(&d, &event("post-write-bad-body.json")).await;
        assert_eq!((s, b["code"].as_str()), (400, Some("invalid_contents")));
        let mut ev = event("post-write.json");
        for (body, code) in [
            ("{not json", "invalid_json"),
            ("[1,2]", "invalid_body"),
            ("\"text\"", "invalid_body"),
            ("", "invalid_json"),
        ] {
            ev["body"] = body.into();
            let (s, b, _) = call(&d, &ev).await;
            assert_eq!((s, b["code"].as_str()), (400, Some(code)), "{body}");
        }
        ev["body"] =
            format!(r#"{{"contents":"{}"}}"#, "x".repeat(domain::ops::write_post::MAX_BODY_BYTES)).into();
        let (s, b, _) = call(&d, &ev).await;
        assert_eq!((s, b["code"].as_str()), (413, Some("body_too_large")));
        assert!(d.writer.queue.sent().is_empty());
    }

    #[tokio::test]
    async fn idempotency_key_replays_and_refuses_another_body() {
        let d = deps(true);
        let ev = event("post-write-idempotent.json");
        let (s1, b1, _) = call(&d, &ev).await;
        let (s2, b2, res) = call(&d, &ev).await;
        assert_eq!((s1, s2), (201, 201));
        assert_eq!(b1, b2);
        assert_eq!(res.headers()["idempotent-replayed"], "true");
        assert_eq!(d.writer.queue.sent().len(), 1, "stored once");
        let mut other = ev.clone();
        other["body"] = r#"{"contents":"Something else"}"#.into();
        let (s, b, _) = call(&d, &other).await;
        assert_eq!((s, b["code"].as_str()), (422, Some("idempotency_key_reused")));
    }

    #[tokio::test]
    async fn a_lost_answer_is_rewritten_under_the_same_post_id() {
        let d = deps(true);
        let ev = event("post-write-idempotent.json");
        // SQS takes the post, then the answer cannot be recorded.
        d.idempotency.fail_complete.store(true, Ordering::SeqCst);
        let (s1, b1, _) = call(&d, &ev).await;
        assert_eq!(s1, 201, "{b1}");
        d.idempotency.fail_complete.store(false, Ordering::SeqCst);
        // A retry while the claim is fresh waits.
        assert_eq!(call(&d, &ev).await.0, 409);
        // Once the claim expired, the retry runs again: under the first post id.
        d.idempotency.run_out_claims();
        let (s2, b2, _) = call(&d, &ev).await;
        assert_eq!(s2, 201, "{b2}");
        assert_eq!(b2["post_id"], b1["post_id"], "the same post, not a second one");
        let sent = d.writer.queue.sent();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].post_id, sent[1].post_id);
        // And that answer is recorded: the next retry replays it.
        let (s3, b3, res) = call(&d, &ev).await;
        assert_eq!((s3, &b3), (201, &b2));
        assert_eq!(res.headers()["idempotent-replayed"], "true");
    }

    #[tokio::test]
    async fn queue_refusal_is_503_and_the_retry_runs_at_once() {
        let d = deps(true);
        d.writer.queue.refuse.store(true, Ordering::SeqCst);
        let ev = event("post-write-idempotent.json");
        let (s, b, res) = call(&d, &ev).await;
        assert_eq!((s, b["code"].as_str()), (503, Some("queue_unavailable")));
        assert!(res.headers().contains_key("retry-after"));
        d.writer.queue.refuse.store(false, Ordering::SeqCst);
        let (s, _, _) = call(&d, &ev).await;
        assert_eq!(s, 201, "the retry runs");
    }

    #[tokio::test]
    async fn a_send_whose_answer_was_lost_is_retried_under_the_same_post_id() {
        let d = deps(true);
        let ev = event("post-write-idempotent.json");
        // SQS took the message, but post-write saw a timeout.
        d.writer.queue.lose_answer.store(true, Ordering::SeqCst);
        let (s, b, _) = call(&d, &ev).await;
        assert_eq!((s, b["code"].as_str()), (503, Some("queue_unavailable")));
        d.writer.queue.lose_answer.store(false, Ordering::SeqCst);
        let (s, b, _) = call(&d, &ev).await;
        assert_eq!(s, 201, "{b}");
        let sent = d.writer.queue.sent();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].post_id, sent[1].post_id, "one post, sent twice: the drain stores it once");
        assert_eq!(b["post_id"], sent[0].post_id.to_string());
    }

    const SUB: &str = "5c1d8e4a-0b7e-4c1e-9d4f-2a8b6f3e7d10";

    #[tokio::test]
    async fn compat_route_and_its_switch() {
        let (s, b, _) = call(&deps(true), &event("post-write-compat.json")).await;
        assert_eq!(s, 200, "{b}");
        assert!(b["post_id"].is_u64());
        assert_eq!((b["contents"].as_str(), b["user_id"].as_str()), (Some("hello old client"), Some(SUB)));
        let (s, b, _) = call(&deps(false), &event("post-write-compat.json")).await;
        assert_eq!((s, b["code"].as_str()), (404, Some("not_found")));
        // The path names another user than the token's subject.
        let mut ev = event("post-write-compat.json");
        ev["rawPath"] = "/api/v1/write_post/42".into();
        let (s, b, _) = call(&deps(true), &ev).await;
        assert_eq!((s, b["code"].as_str()), (403, Some("forbidden")));
    }

    #[tokio::test]
    async fn the_author_is_the_token_subject() {
        let d = deps(true);
        let mut ev = event("post-write.json");
        let (s, b, _) = call(&d, &ev).await;
        assert_eq!((s, b["user_id"].as_str()), (201, Some(SUB)));
        // Naming oneself is fine; naming anyone else is 403 and nothing is queued.
        ev["body"] = format!(r#"{{"user_id":"{SUB}","contents":"me"}}"#).into();
        assert_eq!(call(&d, &ev).await.0, 201);
        ev["body"] = r#"{"user_id":"42","contents":"as someone else"}"#.into();
        let (s, b, _) = call(&d, &ev).await;
        assert_eq!((s, b["code"].as_str()), (403, Some("forbidden")));
        // Malformed is 400 first, whoever the body names.
        ev["body"] = r#"{"user_id":"42","contents":""}"#.into();
        let (s, b, _) = call(&d, &ev).await;
        assert_eq!((s, b["code"].as_str()), (400, Some("invalid_contents")));
        assert_eq!(d.writer.queue.sent().len(), 2);
        assert!(d.writer.queue.sent().iter().all(|p| p.user_id == SUB));
    }

    #[tokio::test]
    async fn no_verified_caller_is_401() {
        let d = deps(true);
        for file in ["post-write.json", "post-write-compat.json"] {
            let mut ev = event(file);
            ev["requestContext"].as_object_mut().unwrap().remove("authorizer");
            let (s, b, _) = call(&d, &ev).await;
            assert_eq!((s, b["code"].as_str()), (401, Some("unauthorized")), "{file}");
        }
        assert!(d.writer.queue.sent().is_empty());
    }
}
