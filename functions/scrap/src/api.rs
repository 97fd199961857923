//! HTTP routes of the scrap function (API Gateway HTTP API, payload 2.0).
//!
//! | route | answer |
//! |---|---|
//! | `GET /v1/scrap?url=<link>` | the preview: `title`, `description`, `url`, `image`, `image_width`, `image_height`, `type`, `site_name`, `author`, `published_time`, `lang`, `favicon` |
//! | `GET /api/v1/scrap?url=<link>` | the reference's shape `{"code": 0, "scrap": {"title", "url", "type", "image", "description", "author"}}` |
//!
//! Each call counts against the caller's rate limit first (the caller is the signed-in user
//! when the API's authorizer names one, else the source IP).

use chassis::routes::{Route, get};
use chassis::{ApiError, json_response};
use domain::ops::preview_link::PreviewLink;
use domain::preview::{LinkPreviews, Preview, RateLimiter};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;

pub struct Deps<P, L> {
    pub previews: P,
    pub limiter: L,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Preview,
    CompatPreview,
}

const ROUTES: &[Route<Op>] = &[get("/v1/scrap", Op::Preview), get("/api/v1/scrap", Op::CompatPreview)];

#[derive(Serialize)]
struct CompatScrap<'a> {
    title: &'a Option<String>,
    url: &'a Option<String>,
    r#type: &'a Option<String>,
    image: &'a Option<String>,
    description: &'a Option<String>,
    author: &'a Option<String>,
}

#[derive(Serialize)]
struct Compat<'a> {
    code: u8,
    scrap: CompatScrap<'a>,
}

pub async fn handle<P: LinkPreviews, L: RateLimiter>(
    deps: &Deps<P, L>,
    req: Request,
) -> Result<Response<Body>, Error> {
    Ok(route(deps, &req).await.unwrap_or_else(ApiError::into_response))
}

async fn route<P: LinkPreviews, L: RateLimiter>(
    deps: &Deps<P, L>,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let route = chassis::routes::resolve(req, ROUTES)?;
    let caller = chassis::request::caller(req);
    let link = PreviewLink::parse(chassis::request::query(req, "url"), &caller)?;
    let preview = link.apply(&deps.previews, &deps.limiter, domain::clock_text::now_unix_ms()).await?;
    Ok(match route.op {
        Op::Preview => json_response(StatusCode::OK, &preview),
        Op::CompatPreview => json_response(StatusCode::OK, &compat_body(&preview)),
    })
}

fn compat_body(p: &Preview) -> Compat<'_> {
    Compat {
        code: 0,
        scrap: CompatScrap {
            title: &p.title,
            url: &p.url,
            r#type: &p.r#type,
            image: &p.image,
            description: &p.description,
            author: &p.author,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::cache::CacheError;
    use domain::fakes::{FakeFetcher, FixedLimiter, MemoryCache};
    use domain::preview::PreviewConfig;
    use domain::preview::{FetchError, PreviewService, RateDecision};

    const PAGE: &str = r#"<html lang="en"><head><title>Example</title>
        <meta property="og:description" content="An example page"></head></html>"#;

    fn deps(
        fetcher: FakeFetcher,
        limit: Result<RateDecision, CacheError>,
    ) -> Deps<PreviewService<FakeFetcher, MemoryCache>, FixedLimiter> {
        Deps {
            previews: PreviewService::new(fetcher, MemoryCache::default(), PreviewConfig::default()),
            limiter: FixedLimiter(limit),
        }
    }

    fn event(file: &str) -> serde_json::Value {
        chassis::fixtures::event(file)
    }

    fn with_url(mut ev: serde_json::Value, url: &str) -> Request {
        // lambda_http reads parameters from rawQueryString, API Gateway sends both.
        let encoded: String = url
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        ev["rawQueryString"] = format!("url={encoded}").into();
        ev["queryStringParameters"] = serde_json::json!({ "url": url });
        lambda_http::request::from_str(&ev.to_string()).unwrap()
    }

    async fn call<L: RateLimiter>(
        d: &Deps<PreviewService<FakeFetcher, MemoryCache>, L>,
        req: Request,
    ) -> (u16, serde_json::Value, Response<Body>) {
        let res = handle(d, req).await.unwrap();
        let body = serde_json::from_slice(res.body().as_ref()).unwrap();
        (res.status().as_u16(), body, res)
    }

    #[tokio::test]
    async fn preview_has_every_field() {
        let d = deps(FakeFetcher::default().page("https://example.com/", PAGE), Ok(RateDecision::Allowed));
        let (s, b, _) = call(&d, with_url(event("scrap-preview.json"), "https://example.com/")).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["title"], "Example");
        assert_eq!(b["description"], "An example page");
        assert_eq!(b["lang"], "en");
        // Every field a preview has, null or not (the names are pinned by openapi.yaml).
        let fields = serde_json::to_value(domain::preview::Preview::default()).unwrap();
        for field in fields.as_object().unwrap().keys() {
            assert!(b.get(field).is_some(), "missing {field}: {b}");
        }
    }

    #[tokio::test]
    async fn compat_route_has_the_reference_shape() {
        let d = deps(FakeFetcher::default().page("https://example.com/", PAGE), Ok(RateDecision::Allowed));
        let (s, b, _) = call(&d, with_url(event("scrap-compat.json"), "https://example.com/")).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["code"], 0);
        let keys: Vec<&str> = b["scrap"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 6, "{b}");
        assert_eq!(b["scrap"]["title"], "Example");
    }

    #[tokio::test]
    async fn client_mistakes_are_400() {
        let d = deps(FakeFetcher::default(), Ok(RateDecision::Allowed));
        let (s, b, _) =
            call(&d, lambda_http::request::from_str(&event("scrap-missing-url.json").to_string()).unwrap())
                .await;
        assert_eq!((s, b["code"].as_str()), (400, Some("invalid_url")));
        let (s, b, _) = call(
            &d,
            lambda_http::request::from_str(&event("scrap-metadata-probe.json").to_string()).unwrap(),
        )
        .await;
        assert_eq!((s, b["code"].as_str()), (400, Some("url_not_allowed")));
        for (url, code) in [
            ("file:///etc/passwd", "url_not_allowed"),
            ("not a url", "invalid_url"),
            ("http://10.1.2.3/", "url_not_allowed"),
        ] {
            let (s, b, _) = call(&d, with_url(event("scrap-preview.json"), url)).await;
            assert_eq!((s, b["code"].as_str()), (400, Some(code)), "{url}");
        }
        assert_eq!(d.scraper_fetches(), 0);
    }

    #[tokio::test]
    async fn upstream_failures_map_to_502_and_504() {
        let f = FakeFetcher::default()
            .answer("https://a.example/", Err(FetchError::Status(404)))
            .answer("https://b.example/", Err(FetchError::Timeout))
            .answer("https://c.example/", Err(FetchError::Unreachable("dns error: secret.internal".into())))
            .answer("https://d.example/", Err(FetchError::TooManyRedirects(5)))
            .answer("https://e.example/", Err(FetchError::NotAllowed("resolves to 10.0.0.1".into())));
        let d = deps(f, Ok(RateDecision::Allowed));
        let cases = [
            ("https://a.example/", 502, "upstream_status"),
            ("https://b.example/", 504, "upstream_timeout"),
            ("https://c.example/", 502, "upstream_unreachable"),
            ("https://d.example/", 502, "too_many_redirects"),
            ("https://e.example/", 400, "url_not_allowed"),
        ];
        for (url, status, code) in cases {
            let (s, b, _) = call(&d, with_url(event("scrap-preview.json"), url)).await;
            assert_eq!((s, b["code"].as_str()), (status, Some(code)), "{url}: {b}");
        }
        let (_, b, _) = call(&d, with_url(event("scrap-preview.json"), "https://a.example/")).await;
        assert!(b["message"].as_str().unwrap().contains("404"));
        let (_, b, _) = call(&d, with_url(event("scrap-preview.json"), "https://c.example/")).await;
        assert!(!b["message"].as_str().unwrap().contains("secret"), "no internal detail: {b}");
    }

    #[tokio::test]
    async fn rate_limited_is_429_with_retry_after() {
        let d = deps(FakeFetcher::default(), Ok(RateDecision::Limited { retry_after_s: 42 }));
        let (s, b, res) = call(&d, with_url(event("scrap-preview.json"), "https://example.com/")).await;
        assert_eq!((s, b["code"].as_str()), (429, Some("rate_limited")));
        assert_eq!(res.headers()["retry-after"], "42");
        assert_eq!(d.scraper_fetches(), 0);
    }

    #[tokio::test]
    async fn limiter_outage_fails_open() {
        let d =
            deps(FakeFetcher::default().page("https://example.com/", PAGE), Err(CacheError("down".into())));
        let (s, _, _) = call(&d, with_url(event("scrap-preview.json"), "https://example.com/")).await;
        assert_eq!(s, 200);
    }

    #[tokio::test]
    async fn unknown_route_and_method() {
        let d = deps(FakeFetcher::default(), Ok(RateDecision::Allowed));
        let mut ev = event("scrap-preview.json");
        ev["rawPath"] = "/v1/scrapes".into();
        ev["requestContext"]["http"]["path"] = "/v1/scrapes".into();
        let (s, b, _) = call(&d, lambda_http::request::from_str(&ev.to_string()).unwrap()).await;
        assert_eq!((s, b["code"].as_str()), (404, Some("not_found")));
        let mut ev = event("scrap-preview.json");
        ev["requestContext"]["http"]["method"] = "DELETE".into();
        let (s, _, _) = call(&d, lambda_http::request::from_str(&ev.to_string()).unwrap()).await;
        assert_eq!(s, 405);
    }

    impl<L> Deps<PreviewService<FakeFetcher, MemoryCache>, L> {
        fn scraper_fetches(&self) -> usize {
            self.previews.fetcher().calls()
        }
    }
}
