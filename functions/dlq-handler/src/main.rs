//! The dlq-handler function: consumes the posts dead-letter queue.
//!
//! Cold start: the posts queue URL and the parked table from the environment, clients built
//! once. Each batch is handled by [`letters::handle`].

mod letters;

use adapters::{DynamoParked, SqsRequeue};
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::observability();
    let env = chassis::Env::process();
    let queue_url = env.required("POSTS_QUEUE_URL")?;
    let parked_table = env.required("PARKED_TABLE")?;
    let sdk = adapters::aws::load(adapters::aws::Timeouts::default()).await;
    let deps = letters::Deps {
        queue: SqsRequeue::from_sdk(&sdk, &queue_url),
        parked: DynamoParked::from_sdk(&sdk, &parked_table),
    };
    tracing::info!(parked_table, "dlq-handler ready");
    run(service_fn(|event| letters::handle(&deps, event))).await
}
