//! The link fetcher: safe against server-side request forgery.
//!
//! - Every hop (the link and each redirect, at most `max_redirects`) passes `link::check_parsed`:
//!   http(s) only, bounded length, no credentials, literal addresses public.
//! - Host names resolve through [`GuardedResolver`], which refuses a name if *any* of its
//!   addresses is not public, and hands the HTTP client exactly the addresses it checked: the
//!   connection goes to a checked address, with no second lookup an attacker's DNS could answer
//!   differently (DNS rebinding).
//! - Connect and total timeouts; the body is read up to a cap (2 MiB), decompressed (gzip, br)
//!   as it streams so the cap bounds what is held, and reading stops early once the head holds
//!   all a preview needs. Proxies from the environment are ignored.

use domain::preview::link::{self, AddressPolicy, LinkError};
use domain::preview::{FetchError, Fetched, Fetcher};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

pub const USER_AGENT: &str = concat!(
    "post-service-scrap/",
    env!("CARGO_PKG_VERSION"),
    " (link preview bot; +https://github.com/post-service/post-service)"
);

#[derive(Debug, Clone, Copy)]
pub struct FetchConfig {
    pub policy: AddressPolicy,
    pub max_redirects: usize,
    pub max_body_bytes: usize,
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    /// Decides, from the bytes up to `</head>`, that the rest of the page is not needed.
    pub head_is_enough: Option<fn(&[u8]) -> bool>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            policy: AddressPolicy::default(),
            max_redirects: 5,
            max_body_bytes: 2 * 1024 * 1024,
            connect_timeout: Duration::from_secs(2),
            total_timeout: Duration::from_secs(5),
            head_is_enough: None,
        }
    }
}

/// The error a refused name carries through the HTTP client, recognised on the way out.
#[derive(Debug)]
struct BlockedAddress(String);

impl std::fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BlockedAddress {}

/// Resolves host names and keeps only names whose every address the policy allows.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    policy: AddressPolicy,
}

impl GuardedResolver {
    pub fn new(policy: AddressPolicy) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !policy.allows(a.ip())) {
                return Err(Box::new(BlockedAddress(format!(
                    "{host} resolves to {}, not a public address",
                    bad.ip()
                ))) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[derive(Debug, Clone)]
pub struct SafeFetcher {
    client: reqwest::Client,
    config: FetchConfig,
}

impl SafeFetcher {
    pub fn new(config: FetchConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { policy: config.policy }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(config.connect_timeout)
            .timeout(config.total_timeout)
            .user_agent(USER_AGENT)
            .gzip(true)
            .brotli(true)
            .build()?;
        Ok(Self { client, config })
    }

    async fn follow(&self, start: &Url) -> Result<Fetched, FetchError> {
        let mut url = start.clone();
        for _ in 0..=self.config.max_redirects {
            link::check_parsed(&url, self.config.policy).map_err(|e| match e {
                LinkError::NotAllowed(m) => FetchError::NotAllowed(m),
                LinkError::Invalid(m) => FetchError::BadRedirect(m),
            })?;
            let response = self
                .client
                .get(url.clone())
                .header(ACCEPT, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5")
                .send()
                .await
                .map_err(classify)?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response.headers().get(LOCATION)
            {
                let location =
                    location.to_str().map_err(|_| FetchError::BadRedirect("unreadable Location".into()))?;
                url = url.join(location).map_err(|e| FetchError::BadRedirect(e.to_string()))?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            let content_type =
                response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body = self.read_body(response).await?;
            return Ok(Fetched { final_url: url, content_type, body });
        }
        Err(FetchError::TooManyRedirects(self.config.max_redirects))
    }

    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        let cap = self.config.max_body_bytes;
        let mut body = Vec::new();
        let mut head_checked = false;
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            let room = cap.saturating_sub(body.len());
            body.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
            if body.len() >= cap {
                break;
            }
            if let Some(enough) = self.config.head_is_enough
                && !head_checked
                && let Some(end) = find_ci(&body, b"</head>")
            {
                head_checked = true;
                if enough(body.get(..end).unwrap_or_default()) {
                    break;
                }
            }
        }
        Ok(body)
    }
}

impl Fetcher for SafeFetcher {
    async fn fetch(&self, url: &Url) -> Result<Fetched, FetchError> {
        let result = tokio::time::timeout(self.config.total_timeout, self.follow(url))
            .await
            .map_err(|_| FetchError::Timeout)
            .and_then(|r| r);
        chassis::metrics::count(
            if result.is_ok() { "PreviewFetches" } else { "PreviewFetchFailures" },
            &[],
            1,
        );
        result
    }
}

/// Maps a client error: timeouts, refused addresses, everything else unreachable.
fn classify(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(blocked) = s.downcast_ref::<BlockedAddress>() {
            return FetchError::NotAllowed(blocked.0.clone());
        }
        source = s.source();
    }
    FetchError::Unreachable(cause(&e))
}

/// The error's causes as text: the client's own message repeats the URL the caller knows.
fn cause(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    if parts.is_empty() { e.to_string() } else { parts.join(": ") }
}

/// Position of `needle` in `hay`, ASCII case-insensitive.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}
