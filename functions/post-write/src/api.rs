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
//! safe.

use chassis::{ApiError, json_response};
use domain::posts::idempotency::{self, Decision, IdempotencyStore};
use domain::posts::write::{IdSource, PostWriter, Previewer};
use domain::posts::{NewPost, PostCache, PostInput, PostQueue, PostStore, Trace};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, RequestExt, Response};

pub const MAX_BODY_BYTES: usize = 64 * 1024;
const MAX_IDEMPOTENCY_KEY: usize = 255;
/// How long a claimed key stays in progress when the invocation's deadline is unknown (tests):
/// beyond the function's timeout, so a live request is never run twice.
const IN_PROGRESS_MS: u64 = 60_000;
/// Kept beyond the deadline for clock differences between functions.
const DEADLINE_SLACK_MS: u64 = 1_000;

pub struct Deps<I, P, C, S, Q, D> {
    pub writer: PostWriter<I, P, C, S, Q>,
    pub idempotency: D,
    pub compat_write_enabled: bool,
}

pub async fn handle<I, P, C, S, Q, D>(
    deps: &Deps<I, P, C, S, Q, D>,
    req: Request,
) -> Result<Response<Body>, Error>
where
    I: IdSource,
    P: Previewer,
    C: PostCache,
    S: PostStore,
    Q: PostQueue,
    D: IdempotencyStore,
{
    let segments = chassis::request::segments(&req);
    let method = req.method().clone();
    let response = match segments.as_slice() {
        ["v1", "posts"] if method == Method::POST => create(deps, &req).await,
        ["api", "v1", "write_post", uid] if method == Method::GET => compat_write(deps, &req, uid).await,
        ["v1", "posts"] | ["api", "v1", "write_post", _] => {
            Err(ApiError::method_not_allowed(method.as_str(), req.uri().path()))
        }
        _ => Err(ApiError::route_not_found(method.as_str(), req.uri().path())),
    };
    Ok(response.unwrap_or_else(ApiError::into_response))
}

async fn create<I: IdSource, P: Previewer, C: PostCache, S: PostStore, Q: PostQueue, D: IdempotencyStore>(
    deps: &Deps<I, P, C, S, Q, D>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body must be at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    let shape = |e: &dyn std::fmt::Display| {
        ApiError::bad_request(
            "invalid_body",
            format!("the body must be a JSON object {{\"user_id\", \"contents\", \"url\"?}}: {e}"),
        )
    };
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}")))?;
    // serde would read a struct from an array too; only an object is a post.
    if !value.is_object() {
        return Err(shape(&"got another JSON type"));
    }
    let input: PostInput = serde_json::from_value(value).map_err(|e| shape(&e))?;
    let author = author(req)?;
    let request_hash = idempotency::hash(&[author, &input.contents, input.url.as_deref().unwrap_or("")]);
    let new = as_author(input, author)?;
    let trace = trace(req);

    let Some(key) = idempotency_key(req)? else {
        let post = deps.writer.write(new, &trace).await?;
        return Ok(json_response(StatusCode::CREATED, &post));
    };
    let key = idempotency::hash(&["POST /v1/posts", &new.user_id, &key]);
    let now_ms = domain::clock_text::now_unix_ms();
    // The id is chosen before the claim and recorded with it (see domain::posts::idempotency).
    let offered = deps.writer.reserve_id().await?;
    let decision = idempotency::decide(
        &deps.idempotency,
        &key,
        &request_hash,
        offered,
        now_ms,
        in_progress_ms(req, now_ms),
    )
    .await
    .map_err(|e| ApiError::unavailable("idempotency_unavailable", "retry shortly", e))?;
    match decision {
        Decision::Replay { status, body } => Ok(replay(status, body)),
        Decision::KeyReused => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with another request body",
        )),
        Decision::InProgress => Err(ApiError::new(
            StatusCode::CONFLICT,
            "request_in_progress",
            "a request with this Idempotency-Key is still running; retry shortly",
        )
        .with_retry_after(1)),
        Decision::Run { post_id } => match deps.writer.write_as(new, post_id, &trace).await {
            Ok(post) => {
                let response = json_response(StatusCode::CREATED, &post);
                let body = String::from_utf8_lossy(response.body().as_ref()).into_owned();
                let expires = now_ms / 1_000 + adapters::idempotency_table::RECORD_TTL_S;
                if let Err(e) = deps.idempotency.complete(&key, &request_hash, 201, &body, expires).await {
                    // The post is accepted; a retry inside IN_PROGRESS_MS is told to wait, a
                    // later one runs again under the same post id: the same post, not another.
                    tracing::error!(error = %e, post_id = post.post_id, "idempotency record not completed");
                }
                Ok(response)
            }
            Err(e) => {
                // The send may have been accepted all the same (a timeout, a lost answer): the
                // retry writes under this post id, at once rather than after the claim ran out.
                if let Err(expire) = deps.idempotency.expire(&key, post_id).await {
                    tracing::warn!(error = %expire, "idempotency claim not expired");
                }
                Err(e.into())
            }
        },
    }
}

async fn compat_write<I: IdSource, P: Previewer, C: PostCache, S: PostStore, Q: PostQueue, D>(
    deps: &Deps<I, P, C, S, Q, D>,
    req: &Request,
    uid: &str,
) -> Result<Response<Body>, ApiError> {
    if !deps.compat_write_enabled {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "the write-by-GET route is switched off",
        ));
    }
    let author = author(req)?;
    let input = PostInput {
        user_id: Some(uid.to_owned()),
        contents: chassis::request::query(req, "contents").unwrap_or_default().to_owned(),
        url: chassis::request::query(req, "url").map(str::to_owned),
    };
    let new = as_author(input, author)?;
    let post = deps.writer.write(new, &trace(req)).await?;
    Ok(json_response(StatusCode::OK, &post.as_reference()))
}

fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else { return Ok(None) };
    match value.to_str() {
        Ok(k) if !k.trim().is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY => Ok(Some(k.trim().to_owned())),
        _ => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        )),
    }
}

/// A claim lasts as long as the invocation can (Lambda ends it at its deadline), so a crashed
/// or killed one blocks its key's retries for seconds, not a minute.
fn in_progress_ms(req: &Request, now_ms: u64) -> u64 {
    req.lambda_context_ref()
        .map(|c| c.deadline)
        .filter(|deadline| *deadline > now_ms)
        .map_or(IN_PROGRESS_MS, |deadline| (deadline - now_ms + DEADLINE_SLACK_MS).min(IN_PROGRESS_MS))
}

fn replay(status: u16, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
    response
        .headers_mut()
        .insert("content-type", lambda_http::http::HeaderValue::from_static("application/json"));
    response.headers_mut().insert("idempotent-replayed", lambda_http::http::HeaderValue::from_static("true"));
    response
}

/// The signed-in caller, who writes the post.
fn author(req: &Request) -> Result<&str, ApiError> {
    chassis::request::subject(req).ok_or_else(ApiError::unauthorized)
}

/// The post `author` asked for. A malformed request is 400 whoever it names; a well-formed one
/// naming someone else is 403.
fn as_author(input: PostInput, author: &str) -> Result<NewPost, ApiError> {
    let someone_else = input.names_other_user(author);
    let new = input.validate(author).map_err(|v| ApiError::bad_request(v.code, v.message))?;
    if someone_else {
        return Err(ApiError::forbidden(
            "posts are written as the signed-in user; user_id names someone else",
        ));
    }
    Ok(new)
}

fn trace(req: &Request) -> Trace {
    Trace { trace_id: chassis::request::trace_id(req), xray_trace_id: chassis::request::xray_trace_id(req) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::fakes::MemoryIdempotency;
    use domain::fakes::posts::{CountingIds, FixedPreviews, MemoryPostCache, MemoryQueue, MemoryTable};
    use std::sync::atomic::{AtomicU64, Ordering};

    type TestDeps =
        Deps<CountingIds, FixedPreviews, MemoryPostCache, MemoryTable, MemoryQueue, MemoryIdempotency>;

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
        ev["body"] = format!(r#"{{"contents":"{}"}}"#, "x".repeat(MAX_BODY_BYTES)).into();
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

    #[tokio::test]
    async fn a_claim_lasts_until_the_invocation_deadline() {
        let ev = event("post-write-idempotent.json");
        let mut req = lambda_http::request::from_str(&ev.to_string()).unwrap();
        assert_eq!(in_progress_ms(&req, 1_000), IN_PROGRESS_MS, "no context: the fixed window");
        let mut context = lambda_http::Context::default();
        context.deadline = 11_000;
        req.extensions_mut().insert(context);
        assert_eq!(in_progress_ms(&req, 1_000), 10_000 + DEADLINE_SLACK_MS);
        assert_eq!(in_progress_ms(&req, 20_000), IN_PROGRESS_MS, "a deadline passed: the fixed window");
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
