//! Drain throughput: posts persisted per second by queue-drain's batch path (decode, dedupe,
//! BatchWriteItem in chunks of 25 with retries) against a baseline of one PutItem per message,
//! side by side in one run, on the same table of the same emulator (or AWS).
//!
//! ```text
//! set -a; . .local/endpoints.env; set +a        # a stack from `make up`
//! cargo run --release -p integration --bin drain_bench -- [messages per round, default 2000] [rounds, default 3]
//! ```
//!
//! Each round writes fresh posts (new users) both ways; the report gives each round and the
//! median. Messages are processed in the batch size the event source delivers (100).

use adapters::DynamoPosts;
use domain::posts::drain::{Backoff, drain};
use domain::posts::{Post, PostStore};
use std::time::{Duration, Instant};

fn messages(run: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let post = Post {
                user_id: format!("bench_{run}_{}", i % 50),
                post_id: 725_617_227_714_740_224 + i as u64,
                contents: format!("bench post {i}"),
                url: None,
                scrap: None,
                created_at: "2026-11-24T00:00:00Z".into(),
            };
            let body = serde_json::json!({"v": 1, "post": post}).to_string();
            (format!("m{i}"), body)
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = args.first().copied().unwrap_or(2_000).clamp(100, 20_000);
    let rounds = args.get(1).copied().unwrap_or(3).clamp(1, 10);
    let sdk = integration::sdk().await;
    let table = integration::stack_output("PostsTableName").await;
    let store = DynamoPosts::from_sdk(&sdk, &table);
    let seed = integration::seed::SeedTable::new(&sdk, &table);
    let mut batch_rates = Vec::new();
    let mut single_rates = Vec::new();
    println!("| round | messages | queue-drain batches (posts/s) | one PutItem each (posts/s) | ratio |");
    println!("|---:|---:|---:|---:|---:|");
    for round in 0..rounds {
        let run = integration::unique("b").replace('-', "_");
        let batch_msgs = messages(&format!("{run}b"), n);
        let started = Instant::now();
        let mut failed = 0;
        for chunk in batch_msgs.chunks(100) {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
            failed += drain(&store, chunk, deadline, Backoff::default()).await.failed.len();
        }
        let batch_rate = n as f64 / started.elapsed().as_secs_f64();
        assert_eq!(failed, 0, "the batch path failed {failed} messages");

        let single_msgs = messages(&format!("{run}s"), n);
        let started = Instant::now();
        for (_, body) in &single_msgs {
            let post = domain::posts::message::decode(body).unwrap_or_else(|e| panic!("{e}"));
            seed.put(&post).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let single_rate = n as f64 / started.elapsed().as_secs_f64();

        // Both really stored everything.
        let sample = store.page(&format!("bench_{run}b_0"), None, 1_000).await.unwrap().len();
        assert_eq!(sample, n.div_ceil(50).min(n));
        println!(
            "| {} | {n} | {batch_rate:.0} | {single_rate:.0} | {:.1}x |",
            round + 1,
            batch_rate / single_rate
        );
        batch_rates.push(batch_rate);
        single_rates.push(single_rate);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (b, s) = (median(&mut batch_rates), median(&mut single_rates));
    println!("| median | {n} | {b:.0} | {s:.0} | {:.1}x |", b / s);
}
