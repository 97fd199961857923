//! HTTP routes of post-read.
//!
//! | route | answer |
//! |---|---|
//! | `GET /v1/users/{user_id}/posts?cursor=<post id>&limit=<1..100>` | `{"posts": [...], "next_cursor": "<id>" \| null}`, newest first, 10 by default |
//! | `GET /api/v1/posts/{uid}?f=<last post id>` | the reference's shape `{"posts": [...], "next_id": <number> \| null}`, 10 per page |
//!
//! Cursors are exclusive: a page holds the posts older than the cursor.

use chassis::request::query;
use chassis::routes::{Route, get};
use chassis::{ApiError, json_response};
use domain::ops::read_posts::ReadPosts;
use domain::posts::Post;
use domain::posts::read::PostPages;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    CompatRead,
}

const ROUTES: &[Route<Op>] = &[get("/v1/users/{}/posts", Op::Read), get("/api/v1/posts/{}", Op::CompatRead)];

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

pub async fn handle(reader: &impl PostPages, req: Request) -> Result<Response<Body>, Error> {
    Ok(route(reader, &req).await.unwrap_or_else(ApiError::into_response))
}

async fn route(reader: &impl PostPages, req: &Request) -> Result<Response<Body>, ApiError> {
    let route = chassis::routes::resolve(req, ROUTES)?;
    let uid = route.param(0);
    let read = match route.op {
        Op::Read => ReadPosts::parse(uid, query(req, "cursor"), query(req, "limit"))?,
        Op::CompatRead => ReadPosts::compat(uid, query(req, "f"))?,
    };
    let page = read.apply(reader, domain::clock_text::now_unix_ms()).await?;
    Ok(match route.op {
        Op::Read => {
            let body = PageBody { posts: &page.posts, next_cursor: page.next_cursor.map(|c| c.to_string()) };
            json_response(StatusCode::OK, &body)
        }
        Op::CompatRead => {
            let posts = page.posts.iter().map(Post::as_reference).collect();
            json_response(StatusCode::OK, &ReferencePage { posts, next_id: page.next_cursor })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::fakes::posts::{MemoryPostCache, MemoryTable};
    use domain::posts::read::PostReader;

    fn reader() -> PostReader<MemoryPostCache, MemoryTable> {
        let r = PostReader {
            cache: MemoryPostCache::new(100),
            store: MemoryTable::default(),
            list_max: 100,
            repair_grace_ms: 1,
        };
        for i in 0..12u64 {
            r.store.insert(Post {
                user_id: "42".into(),
                post_id: 725_617_227_714_740_224 + i,
                contents: format!("p{i}"),
                url: None,
                scrap: None,
                created_at: String::new(),
            });
        }
        r
    }

    fn event(file: &str) -> serde_json::Value {
        chassis::fixtures::event(file)
    }

    async fn call(
        r: &PostReader<MemoryPostCache, MemoryTable>,
        ev: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let res = handle(r, lambda_http::request::from_str(&ev.to_string()).unwrap()).await.unwrap();
        (res.status().as_u16(), serde_json::from_slice(res.body().as_ref()).unwrap())
    }

    #[tokio::test]
    async fn first_page_and_cursor_as_strings() {
        let (s, b) = call(&reader(), &event("post-read.json")).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["posts"].as_array().unwrap().len(), 10);
        assert_eq!(b["posts"][0]["post_id"], "725617227714740235");
        assert_eq!(b["next_cursor"], "725617227714740226");
    }

    #[tokio::test]
    async fn compat_page_has_numbers_and_next_id() {
        let (s, b) = call(&reader(), &event("post-read-compat.json")).await;
        assert_eq!(s, 200, "{b}");
        assert!(b["posts"][0]["post_id"].is_u64());
        assert_eq!(b["next_id"], 725_617_227_714_740_226u64);
        assert!(b["posts"][0].get("created_at").is_none(), "the reference's shape");
    }

    #[tokio::test]
    async fn bad_queries_are_400() {
        let r = reader();
        for (q, code) in
            [("limit=0", "invalid_limit"), ("limit=abc", "invalid_limit"), ("cursor=x1", "invalid_cursor")]
        {
            let mut ev = event("post-read.json");
            ev["rawQueryString"] = q.into();
            let (s, b) = call(&r, &ev).await;
            assert_eq!((s, b["code"].as_str()), (400, Some(code)), "{q}");
        }
        let mut ev = event("post-read.json");
        ev["rawPath"] = "/v1/users/a%20b/posts".into();
        ev["requestContext"]["http"]["path"] = "/v1/users/a%20b/posts".into();
        let (s, b) = call(&r, &ev).await;
        assert_eq!((s, b["code"].as_str()), (400, Some("invalid_user_id")));
    }

    #[tokio::test]
    async fn table_down_is_503() {
        let r = reader();
        r.store.down.store(true, std::sync::atomic::Ordering::SeqCst);
        r.cache.down.store(true, std::sync::atomic::Ordering::SeqCst);
        let (s, b) = call(&r, &event("post-read.json")).await;
        assert_eq!((s, b["code"].as_str()), (503, Some("table_unavailable")));
    }
}
