//! The scrap routes through the deployed HTTP API. The pages come from a site the test serves
//! on loopback, which only the local test stack lets the function fetch (`SCRAP_ALLOW_LOOPBACK`
//! in the function processes' environment; the template never sets it). A function in AWS
//! cannot reach the test's loopback, so these tests belong to the local stack.

use integration::site::Site;
use integration::{assert_error_body, get_json, http, scrap_path, unique};

#[tokio::test]
async fn preview_of_a_page_and_cached_afterwards() {
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
    let site = Site::start().await;
    let c = http();
    for hop in ["/to-metadata", "/to-private", "/to-file"] {
        let (s, b) = get_json(&c, &scrap_path("/v1/scrap", &site.url(hop))).await;
        assert_eq!(s, 400, "{hop}: {b}");
        assert_error_body(&b, "url_not_allowed");
    }
    // Loopback is allowed on this test stack only; every other private probe stays refused.
    for probe in domain::scrap::link::probes::PROBES {
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

/// Whether `link` points at this machine (allowed on the test stack).
fn is_loopback(link: &str) -> bool {
    match url::Url::parse(link).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase().ends_with("localhost"),
        None => false,
    }
}
