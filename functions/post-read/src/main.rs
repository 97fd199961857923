//! The post-read function: a user's posts, newest first (and the reference's read route).
//!
//! Cold start: settings from the environment, the posts cache on the Redis ring and the posts
//! table, built once and reused. Each request is routed by [`api::handle`].

mod api;

use adapters::{DynamoPosts, PostCacheConfig, RedisPosts};
use domain::posts::read::PostReader;
use lambda_http::{Error, run, service_fn};
use wiring::posts::PostSettings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::observability();
    let env = chassis::Env::process();
    let posts = PostSettings::from_env(&env)?;
    let sdk = adapters::aws::load(adapters::aws::Timeouts::default()).await;
    let shards = wiring::cache::shards(&env, &sdk)?;
    let reader = PostReader {
        cache: RedisPosts::new(
            shards,
            PostCacheConfig { list_max: posts.list_max, ..PostCacheConfig::default() },
        ),
        store: DynamoPosts::from_sdk(&sdk, &posts.posts_table),
        list_max: posts.list_max,
        repair_grace_ms: posts.repair_grace_ms,
    };
    tracing::info!("post-read ready");
    run(service_fn(|req| chassis::http::measured("post-read", req, |req| api::handle(&reader, req)))).await
}
