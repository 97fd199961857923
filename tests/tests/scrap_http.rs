//! The scrap routes through the deployed HTTP API. The pages come from a site the test serves
//! on loopback, which only the local test stack lets the function fetch (`SCRAP_ALLOW_LOOPBACK`
//! in the function processes' environment; the template never sets it). A function in AWS
//! cannot reach the test's loopback, so these tests belong to the local stack.

use adapters::{RedisConfig, RedisShards};
use integration::site::Site;
use integration::{
    api_url, assert_error_body, cache_nodes, get_json, http, now_ms, redis_node, scrap_path, sdk, unique,
};
use std::sync::LazyLock;
use std::time::Duration;

/// Every scrap call in this binary is anonymous, and the emulator gives every HTTP API request
/// the source IP 127.0.0.1, so they all count against one rate-limit caller. The test that fills
/// that caller's window holds this exclusively; every other test holds it shared.
static ANONYMOUS_CALLER: LazyLock<tokio::sync::RwLock<()>> = LazyLock::new(|| tokio::sync::RwLock::new(()));

#[tokio::test]
async fn preview_of_a_page_and_cached_afterwards() {
    let _shared = ANONYMOUS_CALLER.read().await;
    let site = Site::start().await;
    let target = format!("/counted?run={}", unique("cache"));
    let c = http();
    let (s, b) = get_json(&c, &scrap_path("/v1/scrap", &site.url(&target))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["title"], "Loopback & friends");
    assert_eq!(b["description"], "A page served by the test site.");
    assert_eq!(b["image"], site.url("/img/cover.png"));
    assert_eq!(b["type"], "article");
    assert_eq!(b["author"], "Test Author");
    assert_eq!(b["lang"], "en");
    // Served from the cache: the site sees one request, whatever the fragment or tracking tags.
    for variant in [
        site.url(&target),
        format!("{}#top", site.url(&target)),
        format!("{}&utm_source=x", site.url(&target)),
    ] {
        let (s, again) = get_json(&c, &scrap_path("/v1/scrap", &variant)).await;
        assert_eq!((s, &again), (200, &b));
    }
    assert_eq!(site.hits(&target), 1);
}

#[tokio::test]
async fn concurrent_misses_fetch_once() {
    let _shared = ANONYMOUS_CALLER.read().await;
    let site = Site::start().await;
    let target = format!("/counted?run={}", unique("flight"));
    let c = http();
    let path = scrap_path("/v1/scrap", &site.url(&target));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (c, path) = (c.clone(), path.clone());
        tasks.spawn(async move { get_json(&c, &path).await });
    }
    while let Some(r) = tasks.join_next().await {
        let (s, b) = r.unwrap();
        assert_eq!(s, 200, "{b}");
    }
    assert_eq!(site.hits(&target), 1, "one fetch for six concurrent misses");
}

#[tokio::test]
async fn compat_route_answers_the_reference_shape() {
    let _shared = ANONYMOUS_CALLER.read().await;
    let site = Site::start().await;
    let (s, b) = get_json(&http(), &scrap_path("/api/v1/scrap", &site.url("/article"))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["code"], 0);
    let scrap = b["scrap"].as_object().unwrap();
    let mut keys: Vec<&str> = scrap.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["author", "description", "image", "title", "type", "url"]);
    assert_eq!(scrap["title"], "Loopback & friends");
}

#[tokio::test]
async fn upstream_failures_are_502_or_504_and_failures_are_cached() {
    let _shared = ANONYMOUS_CALLER.read().await;
    let site = Site::start().await;
    let c = http();
    let failing = format!("/status/500?run={}", unique("fail"));
    for _ in 0..2 {
        let (s, b) = get_json(&c, &scrap_path("/v1/scrap", &site.url(&failing))).await;
        assert_eq!(s, 502, "{b}");
        assert_error_body(&b, "upstream_status");
        assert!(b["message"].as_str().unwrap().contains("500"));
    }
    assert_eq!(site.hits(&failing), 1, "the failure was cached");

    let (s, b) =
        get_json(&c, &scrap_path("/v1/scrap", &site.url(&format!("/slow?run={}", unique("slow"))))).await;
    assert_eq!(s, 504, "{b}");
    assert_error_body(&b, "upstream_timeout");

    let (s, b) = get_json(&c, &scrap_path("/v1/scrap", &site.url("/redirect/6"))).await;
    assert_eq!(s, 502, "{b}");
    assert_error_body(&b, "too_many_redirects");
    let (s, b) = get_json(&c, &scrap_path("/v1/scrap", &site.url("/redirect/3"))).await;
    assert_eq!((s, b["url"].as_str()), (200, Some(site.url("/article").as_str())), "{b}");
}

#[tokio::test]
async fn ssrf_attempts_are_400_url_not_allowed() {
    let _shared = ANONYMOUS_CALLER.read().await;
    let site = Site::start().await;
    let c = http();
    for hop in ["/to-metadata", "/to-private", "/to-file"] {
        let (s, b) = get_json(&c, &scrap_path("/v1/scrap", &site.url(hop))).await;
        assert_eq!(s, 400, "{hop}: {b}");
        assert_error_body(&b, "url_not_allowed");
    }
    // Loopback is allowed on this test stack only; every other private probe stays refused.
    for probe in domain::preview::link::probes::PROBES {
        if is_loopback(probe) {
            continue;
        }
        let (s, b) = get_json(&c, &scrap_path("/v1/scrap", probe)).await;
        assert_eq!(s, 400, "{probe}: {b}");
        let code = b["code"].as_str().unwrap();
        assert!(code == "url_not_allowed" || code == "invalid_url", "{probe}: {b}");
    }
    let (s, b) = get_json(&c, "/v1/scrap").await;
    assert_eq!(s, 400);
    assert_error_body(&b, "invalid_url");
}

#[tokio::test]
async fn every_extraction_fixture_previews_as_the_crate_extracts_it() {
    let _shared = ANONYMOUS_CALLER.read().await;
    let site = Site::start().await;
    let c = http();
    let names = integration::site::fixture_names();
    assert!(names.len() >= 15, "{names:?}");
    for name in names {
        let (body, ctype) = integration::site::fixture_case(&name).unwrap();
        let page = site.url(&format!("/fixture/{name}"));
        let expected = opengraph::extract(&body, &url::Url::parse(&page).unwrap(), ctype.as_deref());
        let (s, b) = get_json(&c, &scrap_path("/v1/scrap", &page)).await;
        assert_eq!(s, 200, "{name}: {b}");
        assert_eq!(b, serde_json::to_value(&expected).unwrap(), "{name}");
    }
}

#[tokio::test]
async fn non_html_and_messy_pages() {
    let _shared = ANONYMOUS_CALLER.read().await;
    let site = Site::start().await;
    let c = http();
    let (s, b) = get_json(&c, &scrap_path("/v1/scrap", &site.url("/image.png"))).await;
    assert_eq!(
        (s, b["type"].as_str(), b["image"].as_str()),
        (200, Some("image"), Some(site.url("/image.png").as_str()))
    );
    let (s, b) = get_json(&c, &scrap_path("/v1/scrap", &site.url("/sjis"))).await;
    assert_eq!((s, b["title"].as_str()), (200, Some("日本語")));
    let (s, b) = get_json(&c, &scrap_path("/v1/scrap", &site.url("/huge"))).await;
    assert_eq!((s, b["title"].as_str()), (200, Some("Huge page")));
    let (s, b) = get_json(&c, &scrap_path("/v1/scrap", &site.url("/gzip"))).await;
    assert_eq!((s, b["title"].as_str()), (200, Some("Loopback & friends")));
}

/// The caller the scrap function counts an anonymous request under (`chassis::request::caller`):
/// its source IP, which the local emulator always reports as 127.0.0.1.
const ANONYMOUS: &str = "ip:127.0.0.1";
/// `SCRAP_RATE_WINDOW_MINUTES` in template.yaml.
const WINDOW_MINUTES: u64 = 5;

/// A parameter of the stack under test (the limit the test stack deploys with).
async fn stack_parameter(key: &str) -> String {
    let stack = std::env::var("STACK_NAME").expect("STACK_NAME is not set");
    let cfn = aws_sdk_cloudformation::Client::new(&sdk().await);
    let out = cfn.describe_stacks().stack_name(&stack).send().await.unwrap();
    out.stacks()
        .first()
        .and_then(|s| s.parameters().iter().find(|p| p.parameter_key() == Some(key)))
        .and_then(|p| p.parameter_value().map(str::to_owned))
        .unwrap_or_else(|| panic!("stack {stack} has no parameter {key}"))
}

/// The count in one of the caller's per-minute rate-limit keys, on the node the functions'
/// ring places the caller on.
async fn count(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> u64 {
    let v: Option<u64> = redis::cmd("GET").arg(key).query_async(conn).await.unwrap();
    v.unwrap_or(0)
}

/// GET a scrap path: status, Retry-After, JSON body (held to openapi.yaml).
async fn scrap_raw(c: &reqwest::Client, path: &str) -> (u16, Option<u64>, serde_json::Value) {
    let res = c.get(format!("{}{path}", api_url())).send().await.unwrap();
    let status = res.status().as_u16();
    let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    let ctype = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let text = res.text().await.unwrap();
    integration::contract::check("GET", path, status, ctype.as_deref(), text.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    (status, retry, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status} not JSON ({e}): {text}")))
}

/// A caller whose window is full gets 429 with the JSON error body and a Retry-After of what
/// remains until the oldest counted minute leaves the window, and no fetch happens. The test
/// stack's limit is far too high to reach by volume, so the test fills the caller's counter
/// itself, through the key the limiter reads (`domain::keys::rate_minute`), after checking with
/// one real call that this is the key the function counts the caller under.
#[tokio::test]
async fn a_caller_over_the_limit_is_429_with_the_retry_after_left() {
    let _alone = ANONYMOUS_CALLER.write().await;
    let limit: u64 = stack_parameter("ScrapRateLimit").await.parse().unwrap();
    let site = Site::start().await;
    let c = http();
    // Stay inside one minute from here to the 429 (the counters are per minute).
    if now_ms() % 60_000 > 40_000 {
        tokio::time::sleep(Duration::from_millis(60_000 - now_ms() % 60_000 + 100)).await;
    }
    let m = now_ms() / 60_000;
    let shards = RedisShards::new(&cache_nodes(), RedisConfig::default()).unwrap();
    let node = shards.topology().await.node_for(&domain::keys::rate_placement(ANONYMOUS)).unwrap().to_owned();
    let mut conn = redis_node(&node).await;
    let this_minute = domain::keys::rate_minute(ANONYMOUS, m);
    let counted = count(&mut conn, &this_minute).await;
    let (s, b) = get_json(&c, &scrap_path("/v1/scrap", &site.url("/article"))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        count(&mut conn, &this_minute).await,
        counted + 1,
        "the call counted under {this_minute} on {node}"
    );

    // Fill the window: the limit's worth of calls two minutes ago (on top of what is there).
    let filled = domain::keys::rate_minute(ANONYMOUS, m - 2);
    let had: Option<u64> = redis::cmd("GET").arg(&filled).query_async(&mut conn).await.unwrap();
    let _: () = redis::cmd("SET")
        .arg(&filled)
        .arg(had.unwrap_or(0) + limit)
        .arg("KEEPTTL")
        .query_async(&mut conn)
        .await
        .unwrap();
    if had.is_none() {
        let _: () =
            redis::cmd("EXPIRE").arg(&filled).arg(WINDOW_MINUTES * 60).query_async(&mut conn).await.unwrap();
    }
    let target = format!("/counted?run={}", unique("limited"));
    let outcome = tokio::spawn({
        let (c, site) = (c.clone(), site.url(&target));
        let mut conn = conn.clone();
        async move {
            // The oldest minute with a count in the window (earlier tests may have left some).
            let mut oldest = m;
            for age in 0..WINDOW_MINUTES {
                if count(&mut conn, &domain::keys::rate_minute(ANONYMOUS, m - age)).await > 0 {
                    oldest = m - age;
                }
            }
            let frees_at = (oldest + WINDOW_MINUTES) * 60_000;
            let before = now_ms();
            let (s, retry, b) = scrap_raw(&c, &scrap_path("/v1/scrap", &site)).await;
            let after = now_ms();
            assert_eq!(after / 60_000, m, "the minute turned during the test");
            assert_eq!(s, 429, "{b}");
            assert_error_body(&b, "rate_limited");
            let (latest, earliest) =
                ((frees_at - before).div_ceil(1_000), (frees_at - after).div_ceil(1_000));
            let retry = retry.expect("a 429 carries Retry-After");
            assert!(
                (earliest..=latest).contains(&retry),
                "Retry-After {retry}, expected {earliest}..={latest}"
            );
            let (s, _, b) = scrap_raw(&c, &scrap_path("/api/v1/scrap", &site)).await;
            assert_eq!(s, 429, "the compat route shares the limit: {b}");
        }
    })
    .await;
    // Take the filled calls back out, so no later test is limited.
    match had {
        None => {
            let _: () = redis::cmd("DEL").arg(&filled).query_async(&mut conn).await.unwrap();
        }
        Some(_) => {
            let _: () = redis::cmd("DECRBY").arg(&filled).arg(limit).query_async(&mut conn).await.unwrap();
        }
    }
    outcome.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    assert_eq!(site.hits(&target), 0, "a limited call fetches nothing");
    let (s, b) = get_json(&c, &scrap_path("/v1/scrap", &site.url("/article"))).await;
    assert_eq!(s, 200, "allowed again once the filled calls are gone: {b}");
}

/// Whether `link` points at this machine (allowed on the test stack).
fn is_loopback(link: &str) -> bool {
    match url::Url::parse(link).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase().ends_with("localhost"),
        None => false,
    }
}
