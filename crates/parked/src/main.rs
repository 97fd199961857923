//! `parked`: the operator's tool for dead letters that were parked.
//!
//! ```text
//! cargo run -p parked --bin parked -- list
//! cargo run -p parked --bin parked -- replay <id>
//! cargo run -p parked --bin parked -- replay-all
//! ```
//!
//! The stack is found by `STACK_NAME` (its outputs name the parked table and the posts queue),
//! or by `PARKED_TABLE` and `POSTS_QUEUE_URL` directly; AWS is reached through the standard
//! settings (`AWS_REGION`, `AWS_ENDPOINT_URL` for the local emulator, credentials), so the same
//! command works against the emulator (`set -a; . .local/endpoints.env`) and AWS.
//!
//! Replay sends the original body back to the posts queue with its attempt count reset; the
//! queue's drain writes idempotently, so replaying a message that was in fact persisted stores
//! nothing new. The parked record is deleted only after the send succeeded.

use adapters::{DynamoParked, SqsRequeue};
use std::process::ExitCode;

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parked: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), Error> {
    let usage = "usage: parked list | replay <id> | replay-all";
    let sdk = adapters::aws::load(adapters::aws::Timeouts::default()).await;
    let (table, queue_url) = locate(&sdk).await?;
    let parked = DynamoParked::from_sdk(&sdk, &table);
    let queue = SqsRequeue::from_sdk(&sdk, &queue_url);
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["list"] => {
            let all = parked.list().await?;
            for p in &all {
                println!(
                    "{}\tattempts={}\tfirst={}\tlast={}\t{}",
                    p.id, p.attempts, p.first_seen, p.last_seen, p.reason
                );
            }
            println!("{} parked", all.len());
        }
        ["replay", id] => {
            adapters::dead_letters::replay(&parked, &queue, id).await?;
            println!("replayed {id}");
        }
        ["replay-all"] => {
            let all = parked.list().await?;
            let mut failed = 0;
            for p in &all {
                if let Err(e) = adapters::dead_letters::replay(&parked, &queue, &p.id).await {
                    eprintln!("{}: {e}", p.id);
                    failed += 1;
                }
            }
            println!("replayed {} of {}", all.len() - failed, all.len());
            if failed > 0 {
                return Err(format!("{failed} not replayed").into());
            }
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}

/// The parked table and the posts queue: from the environment, else from the stack's outputs.
async fn locate(sdk: &aws_config::SdkConfig) -> Result<(String, String), Error> {
    if let (Ok(t), Ok(q)) = (std::env::var("PARKED_TABLE"), std::env::var("POSTS_QUEUE_URL")) {
        return Ok((t, q));
    }
    let stack =
        std::env::var("STACK_NAME").map_err(|_| "set STACK_NAME (or PARKED_TABLE and POSTS_QUEUE_URL)")?;
    let out = aws_sdk_cloudformation::Client::new(sdk).describe_stacks().stack_name(&stack).send().await?;
    let outputs = out.stacks().first().map(|s| s.outputs().to_vec()).unwrap_or_default();
    let find = |key: &str| {
        outputs
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value().map(str::to_owned))
            .ok_or_else(|| format!("stack {stack} has no output {key}"))
    };
    Ok((find("ParkedTableName")?, find("PostsQueueUrl")?))
}
