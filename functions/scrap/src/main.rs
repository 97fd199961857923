//! The scrap function: link previews over HTTP.
//!
//! Cold start: configuration from the environment, the SSRF-safe fetcher, the sharded Redis
//! cache (connections made on first use and reused), the rate limiter. Each request is routed
//! by [`api::handle`].

mod api;

use adapters::{RedisRateLimiter, SafeFetcher};
use domain::preview::PreviewService;
use lambda_http::{Error, run, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::observability();
    let env = chassis::Env::process();
    let config = wiring::preview::PreviewSettings::from_env(&env)?;
    let sdk = adapters::aws::load(adapters::aws::Timeouts::default()).await;
    let shards = wiring::cache::shards(&env, &sdk)?;
    let limiter = RedisRateLimiter::new(Arc::clone(&shards), config.rate_limit, config.rate_window_minutes);
    let previews = PreviewService::new(SafeFetcher::new(config.fetch)?, shards, config.service);
    tracing::info!(
        cache_nodes = config.cache_nodes.len(),
        allow_loopback = config.fetch.policy.allow_loopback,
        "scrap function ready"
    );
    let deps = api::Deps { previews, limiter };
    run(service_fn(|req| chassis::http::measured("scrap", req, |req| api::handle(&deps, req)))).await
}
