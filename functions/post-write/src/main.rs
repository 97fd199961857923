//! The post-write function: `POST /v1/posts` (and the reference's write-by-GET route).
//!
//! Cold start: settings from the environment; the id issuer (worker lease), the link previewer
//! (fetcher, Redis cache, rate limiter), the posts cache, table and queue, the idempotency
//! table, all built once and reused. Each request is routed by [`api::handle`].

// The write's futures nest deeply (handler, operation, writer, preview step, preview service, adapters):
// their layout is computed past the default query depth.
#![recursion_limit = "256"]

mod api;

use adapters::{
    DynamoIdempotency, DynamoLeaseStore, DynamoPosts, PostCacheConfig, RedisPosts, RedisRateLimiter,
    SafeFetcher, SqsPosts,
};
use domain::IdIssuer;
use domain::posts::write::{BudgetedPreviews, PostWriter};
use domain::preview::PreviewService;
use lambda_http::{Error, run, service_fn};
use snowflake::SystemClock;
use std::sync::Arc;
use wiring::{ids::IdSettings, posts::PostSettings, posts::WriteSettings, preview::PreviewSettings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::observability();
    let env = chassis::Env::process();
    let (ids, previews) = (IdSettings::from_env(&env)?, PreviewSettings::from_env(&env)?);
    let (posts, write) = (PostSettings::from_env(&env)?, WriteSettings::from_env(&env)?);
    let sdk = adapters::aws::load(adapters::aws::Timeouts::default()).await;
    let shards = wiring::cache::shards(&env, &sdk)?;

    let writer = PostWriter {
        ids: IdIssuer::new(
            DynamoLeaseStore::from_sdk(&sdk, &ids.lease_table),
            SystemClock,
            ids.holder(),
            ids.issuer,
        ),
        previews: BudgetedPreviews {
            service: PreviewService::new(
                SafeFetcher::new(previews.fetch)?,
                Arc::clone(&shards),
                previews.service,
            ),
            limiter: RedisRateLimiter::new(
                Arc::clone(&shards),
                previews.rate_limit,
                previews.rate_window_minutes,
            ),
            budget: write.preview_budget,
        },
        cache: RedisPosts::new(
            shards,
            PostCacheConfig { list_max: posts.list_max, ..PostCacheConfig::default() },
        ),
        store: DynamoPosts::from_sdk(&sdk, &posts.posts_table),
        queue: SqsPosts::from_sdk(&sdk, &write.queue_url),
        list_max: posts.list_max,
    };
    let idempotency = DynamoIdempotency::from_sdk(&sdk, &write.idempotency_table);
    tracing::info!(
        compat_write = write.compat_write_enabled,
        cache_nodes = previews.cache_nodes.len(),
        "post-write ready"
    );
    let deps = api::Deps { writer, idempotency, compat_write_enabled: write.compat_write_enabled };
    run(service_fn(|req| chassis::http::measured("post-write", req, |req| api::handle(&deps, req)))).await
}
