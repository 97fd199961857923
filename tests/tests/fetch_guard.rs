//! The SSRF-safe fetcher against attacker probes and a loopback test site (no stack needed).

use adapters::fetch::GuardedResolver;
use adapters::{FetchConfig, SafeFetcher};
use domain::preview::link::probes::PROBES;
use domain::preview::link::{self, AddressPolicy};
use domain::preview::{FetchError, Fetcher};
use integration::site::Site;
use reqwest::dns::{Name, Resolve};
use std::str::FromStr;
use std::time::{Duration, Instant};
use url::Url;

const STRICT: AddressPolicy = AddressPolicy { allow_loopback: false };
const LOCAL: AddressPolicy = AddressPolicy { allow_loopback: true };

fn fetcher(policy: AddressPolicy) -> SafeFetcher {
    SafeFetcher::new(FetchConfig {
        policy,
        total_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_millis(500),
        ..FetchConfig::default()
    })
    .unwrap()
}

async fn get(policy: AddressPolicy, url: &str) -> Result<domain::preview::Fetched, FetchError> {
    fetcher(policy).fetch(&Url::parse(url).unwrap()).await
}

#[tokio::test]
async fn every_probe_is_refused_without_a_connection() {
    let f = fetcher(STRICT);
    let mut refused = 0;
    for probe in PROBES {
        // A probe is refused by the link check, or else by the fetcher itself; either way
        // nothing is fetched.
        match link::check(probe, STRICT) {
            Err(_) => refused += 1,
            Ok(url) => {
                let r = f.fetch(&url).await;
                assert!(matches!(r, Err(FetchError::NotAllowed(_))), "{probe}: {r:?}");
                refused += 1;
            }
        }
        // The fetcher refuses even when handed the parsed URL directly.
        if let Ok(url) = Url::parse(probe)
            && matches!(url.scheme(), "http" | "https")
        {
            let r = f.fetch(&url).await;
            assert!(matches!(r, Err(FetchError::NotAllowed(_))), "fetcher let {probe} through: {r:?}");
        }
    }
    assert!(refused >= 30, "{refused} probes");
}

#[tokio::test]
async fn names_resolving_to_private_addresses_are_refused() {
    let resolver = GuardedResolver::new(STRICT);
    for name in ["localhost", "ip6-localhost"] {
        let Ok(n) = Name::from_str(name) else { continue };
        assert!(resolver.resolve(n).await.is_err(), "{name} resolved");
    }
    // Through the fetcher: a name the link check cannot judge, caught at resolution.
    for host in ["vm", "runsc"] {
        if tokio::net::lookup_host((host, 80)).await.is_ok() {
            let r = get(STRICT, &format!("http://{host}/")).await;
            assert!(matches!(r, Err(FetchError::NotAllowed(_))), "{host}: {r:?}");
        }
    }
    let allowed = GuardedResolver::new(LOCAL);
    assert!(allowed.resolve(Name::from_str("localhost").unwrap()).await.is_ok());
}

#[tokio::test]
async fn loopback_site_is_refused_by_default() {
    let site = Site::start().await;
    assert!(matches!(get(STRICT, &site.url("/article")).await, Err(FetchError::NotAllowed(_))));
    assert_eq!(site.hits("/article"), 0);
}

#[tokio::test]
async fn page_fetch_and_preview() {
    let site = Site::start().await;
    let page = get(LOCAL, &site.url("/article")).await.unwrap();
    assert_eq!(page.final_url.as_str(), site.url("/article"));
    assert!(page.content_type.as_deref().unwrap().starts_with("text/html"));
    let p = opengraph::extract(&page.body, &page.final_url, page.content_type.as_deref());
    assert_eq!(p.title.as_deref(), Some("Loopback & friends"));
    assert_eq!(p.image.as_deref(), Some(site.url("/img/cover.png").as_str()));
}

#[tokio::test]
async fn redirects_are_followed_up_to_five_and_rechecked() {
    let site = Site::start().await;
    let page = get(LOCAL, &site.url("/redirect/5")).await.unwrap();
    assert_eq!(page.final_url.as_str(), site.url("/article"));
    assert_eq!(get(LOCAL, &site.url("/redirect/6")).await.unwrap_err(), FetchError::TooManyRedirects(5));
    for hop in ["/to-metadata", "/to-private", "/to-file"] {
        let r = get(LOCAL, &site.url(hop)).await;
        assert!(matches!(r, Err(FetchError::NotAllowed(_))), "{hop}: {r:?}");
    }
}

#[tokio::test]
async fn slow_answers_time_out() {
    let site = Site::start().await;
    for path in ["/slow", "/slow-body"] {
        let started = Instant::now();
        assert_eq!(get(LOCAL, &site.url(path)).await.unwrap_err(), FetchError::Timeout, "{path}");
        assert!(started.elapsed() < Duration::from_secs(4), "{path} took {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn huge_bodies_are_capped_and_still_preview() {
    let site = Site::start().await;
    let page = get(LOCAL, &site.url("/huge")).await.unwrap();
    assert_eq!(page.body.len(), 2 * 1024 * 1024);
    let p = opengraph::extract(&page.body, &page.final_url, page.content_type.as_deref());
    assert_eq!(p.title.as_deref(), Some("Huge page"));
}

#[tokio::test]
async fn gzip_is_decoded() {
    let site = Site::start().await;
    let page = get(LOCAL, &site.url("/gzip")).await.unwrap();
    let p = opengraph::extract(&page.body, &page.final_url, page.content_type.as_deref());
    assert_eq!(p.title.as_deref(), Some("Loopback & friends"));
}

#[tokio::test]
async fn charsets_from_header_and_meta() {
    let site = Site::start().await;
    for (path, title) in [("/latin1", "Café Noël"), ("/sjis", "日本語")] {
        let page = get(LOCAL, &site.url(path)).await.unwrap();
        let p = opengraph::extract(&page.body, &page.final_url, page.content_type.as_deref());
        assert_eq!(p.title.as_deref(), Some(title), "{path}");
    }
}

#[tokio::test]
async fn non_html_answers_give_a_minimal_preview() {
    let site = Site::start().await;
    let page = get(LOCAL, &site.url("/image.png")).await.unwrap();
    let p = opengraph::extract(&page.body, &page.final_url, page.content_type.as_deref());
    assert_eq!(p.image.as_deref(), Some(site.url("/image.png").as_str()));
    assert_eq!(p.r#type.as_deref(), Some("image"));
    let page = get(LOCAL, &site.url("/doc.pdf")).await.unwrap();
    let p = opengraph::extract(&page.body, &page.final_url, page.content_type.as_deref());
    assert_eq!(p.url.as_deref(), Some(site.url("/doc.pdf").as_str()));
}

#[tokio::test]
async fn error_statuses_are_reported() {
    let site = Site::start().await;
    assert_eq!(get(LOCAL, &site.url("/status/404")).await.unwrap_err(), FetchError::Status(404));
    assert_eq!(get(LOCAL, &site.url("/status/500")).await.unwrap_err(), FetchError::Status(500));
}

#[tokio::test]
async fn closed_ports_are_unreachable() {
    let r = get(LOCAL, "http://127.0.0.1:1/").await;
    assert!(matches!(r, Err(FetchError::Unreachable(_))), "{r:?}");
}

#[tokio::test]
async fn reading_stops_once_the_head_gives_a_full_preview() {
    let site = Site::start().await;
    let f = SafeFetcher::new(FetchConfig {
        policy: LOCAL,
        total_timeout: Duration::from_secs(3),
        head_is_enough: Some(domain::preview::head_is_enough),
        ..FetchConfig::default()
    })
    .unwrap();
    let started = Instant::now();
    let page = f.fetch(&Url::parse(&site.url("/head-then-slow")).unwrap()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    let p = opengraph::extract(&page.body, &page.final_url, page.content_type.as_deref());
    assert_eq!(p.title.as_deref(), Some("Loopback & friends"));
    // Without the early stop the same page runs into the timeout.
    assert_eq!(get(LOCAL, &site.url("/head-then-slow")).await.unwrap_err(), FetchError::Timeout);
}
