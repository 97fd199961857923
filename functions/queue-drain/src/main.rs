//! The queue-drain function: SQS event source -> DynamoDB posts table, in batches.
//!
//! Cold start: settings from the environment and the table client, built once. Each batch is
//! persisted by [`drain::handle`], which answers with exactly the messages that failed
//! (`ReportBatchItemFailures`), so one bad message never re-drives the whole batch.

mod drain;

use adapters::DynamoPosts;
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::observability();
    let env = chassis::Env::process();
    let posts = wiring::posts::PostSettings::from_env(&env)?;
    let sdk = adapters::aws::load(adapters::aws::Timeouts::default()).await;
    let store = DynamoPosts::from_sdk(&sdk, &posts.posts_table);
    tracing::info!(table = %posts.posts_table, "queue-drain ready");
    run(service_fn(|event| drain::handle(&store, event))).await
}
