//! The queue-drain function: SQS event source -> DynamoDB posts table, in batches.
//!
//! Cold start: settings from the environment, the table client and the queue client (for early
//! redeliveries), built once. Each batch is persisted by [`drain::handle`], which answers with
//! exactly the messages that failed (`ReportBatchItemFailures`), so one bad message never
//! re-drives the whole batch.

mod drain;

use adapters::{DynamoPosts, SqsRedeliveries};
use lambda_runtime::{Error, run, service_fn};
use wiring::posts::{DrainSettings, PostSettings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::observability();
    let env = chassis::Env::process();
    let (posts, queue) = (PostSettings::from_env(&env)?, DrainSettings::from_env(&env)?);
    let sdk = adapters::aws::load(adapters::aws::Timeouts::default()).await;
    let deps = drain::Deps {
        store: DynamoPosts::from_sdk(&sdk, &posts.posts_table),
        redeliveries: SqsRedeliveries::from_sdk(&sdk, &queue.queue_url),
    };
    tracing::info!(table = %posts.posts_table, "queue-drain ready");
    run(service_fn(|event| drain::handle(&deps, event))).await
}
