//! HTTP routes of post-read.
//!
//! | route | answer |
//! |---|---|
//! | `GET /v1/users/{user_id}/posts?cursor=<post id>&limit=<1..100>` | `{"posts": [...], "next_cursor": "<id>" \| null}`, newest first, 10 by default |
//! | `GET /api/v1/posts/{uid}?f=<last post id>` | the reference's shape `{"posts": [...], "next_id": <number> \| null}`, 10 per page |
//!
//! Cursors are exclusive: a page holds the posts older than the cursor.

use chassis::{ApiError, json_response};
use domain::posts::model::{check_user_id, parse_id, parse_limit};
use domain::posts::read::{Page, PostReader};
use domain::posts::{Post, PostCache, PostStore};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;

#[derive(Serialize)]
struct PageBody<'a> {
    posts: &'a [Post],
    next_cursor: Option<String>,
}

#[derive(Serialize)]
struct ReferencePage<'a> {
    posts: Vec<domain::posts::model::ReferencePost<'a>>,
    next_id: Option<u64>,
}

pub async fn handle<C: PostCache, S: PostStore>(
    reader: &PostReader<C, S>,
    req: Request,
) -> Result<Response<Body>, Error> {
    let segments = chassis::request::segments(&req);
    let response = match segments.as_slice() {
        _ if req.method() != Method::GET
            && matches!(segments.as_slice(), ["v1", "users", _, "posts"] | ["api", "v1", "posts", _]) =>
        {
            Err(ApiError::method_not_allowed(req.method().as_str(), req.uri().path()))
        }
        ["v1", "users", uid, "posts"] => {
            let cursor =
                chassis::request::query(&req, "cursor").map(|c| parse_id(c, "invalid_cursor")).transpose();
            let limit = parse_limit(chassis::request::query(&req, "limit"));
            match (check_user_id(uid), cursor, limit) {
                (Ok(()), Ok(cursor), Ok(limit)) => read(reader, uid, cursor, limit).await.map(|page| {
                    let body =
                        PageBody { posts: &page.posts, next_cursor: page.next_cursor.map(|c| c.to_string()) };
                    json_response(StatusCode::OK, &body)
                }),
                (Err(v), _, _) | (_, Err(v), _) | (_, _, Err(v)) => {
                    Err(ApiError::bad_request(v.code, v.message))
                }
            }
        }
        ["api", "v1", "posts", uid] => {
            let cursor = chassis::request::query(&req, "f")
                .filter(|f| !f.is_empty())
                .map(|c| parse_id(c, "invalid_cursor"))
                .transpose();
            match (check_user_id(uid), cursor) {
                (Ok(()), Ok(cursor)) => read(reader, uid, cursor, 10).await.map(|page| {
                    let body = ReferencePage {
                        posts: page.posts.iter().map(Post::as_reference).collect(),
                        next_id: page.next_cursor,
                    };
                    json_response(StatusCode::OK, &body)
                }),
                (Err(v), _) | (_, Err(v)) => Err(ApiError::bad_request(v.code, v.message)),
            }
        }
        _ => Err(ApiError::route_not_found(req.method().as_str(), req.uri().path())),
    };
    Ok(response.unwrap_or_else(ApiError::into_response))
}

async fn read<C: PostCache, S: PostStore>(
    reader: &PostReader<C, S>,
    uid: &str,
    cursor: Option<u64>,
    limit: usize,
) -> Result<Page, ApiError> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    reader.page(uid, cursor, limit, now_ms).await.map_err(|e| {
        ApiError::unavailable("table_unavailable", "posts cannot be read now; retry shortly", e)
            .with_retry_after(1)
    })
}
