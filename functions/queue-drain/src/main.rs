//! The queue-drain function: SQS event source -> DynamoDB posts table, in batches.
//!
//! Cold start: settings from the environment, the table client, the queue client (for early
//! redeliveries) and the posts cache (whose lists get the persisted posts), built once. Each
//! batch is persisted by [`drain::handle`], which answers with exactly the messages that failed
//! (`ReportBatchItemFailures`), so one bad message never re-drives the whole batch.

mod drain;

use adapters::{DynamoPosts, PostCacheConfig, RedisPosts, SqsRedeliveries};
use lambda_runtime::{Error, run, service_fn};
use wiring::posts::{DrainSettings, PostSettings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::observability();
    let env = chassis::Env::process();
    let (posts, queue) = (PostSettings::from_env(&env)?, DrainSettings::from_env(&env)?);
    let sdk = adapters::aws::load(adapters::aws::Timeouts::default()).await;
    let shards = wiring::cache::shards(&env, &sdk)?;
    let cache = (!shards.is_empty()).then(|| {
        RedisPosts::new(shards, PostCacheConfig { list_max: posts.list_max, ..PostCacheConfig::default() })
    });
    let deps = drain::Deps {
        store: DynamoPosts::from_sdk(&sdk, &posts.posts_table),
        redeliveries: SqsRedeliveries::from_sdk(&sdk, &queue.queue_url),
        cache,
    };
    tracing::info!(table = %posts.posts_table, cache = deps.cache.is_some(), "queue-drain ready");
    run(service_fn(|event| drain::handle(&deps, event))).await
}
