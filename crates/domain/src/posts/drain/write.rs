//! Writing one chunk of a batch: one table call, then the items it left unprocessed (or the
//! whole chunk after a failed call) again, with jittered exponential backoff, until the
//! batch's deadline.

use super::PostBatchStore;
use crate::posts::Post;
use std::time::Duration;

/// Retry pacing for unprocessed items and failed requests.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { first: Duration::from_millis(25), max: Duration::from_secs(1) }
    }
}

/// Writes one chunk, retrying unprocessed items and errors with jittered exponential backoff
/// until the deadline; the result per entry, in order, and how many writes were retries.
pub(super) async fn write_chunk<S: PostBatchStore>(
    store: &S,
    chunk: &[(Post, Vec<String>)],
    deadline: tokio::time::Instant,
    backoff: Backoff,
) -> (Vec<Result<(), String>>, u64) {
    let mut retries = 0u64;
    let mut results: Vec<Result<(), String>> = vec![Ok(()); chunk.len()];
    let mut pending: Vec<usize> = (0..chunk.len()).collect();
    let mut pause = backoff.first;
    let mut last_error = String::from("unprocessed by the table");
    while !pending.is_empty() {
        let posts: Vec<Post> = pending.iter().filter_map(|i| chunk.get(*i).map(|(p, _)| p.clone())).collect();
        match tokio::time::timeout_at(deadline, store.put_batch(&posts)).await {
            Ok(Ok(unprocessed)) => {
                pending = unprocessed.iter().filter_map(|i| pending.get(*i).copied()).collect()
            }
            Ok(Err(e)) => last_error = e.to_string(),
            Err(_) => {
                last_error = "the table did not answer before the batch's deadline".into();
                break;
            }
        }
        if pending.is_empty() {
            break;
        }
        // Spread over [0.5, 1.5) of the pause, so chunks throttled together do not retry together.
        let jittered = pause.mul_f64(0.5 + rand::random::<f64>());
        if tokio::time::Instant::now() + jittered >= deadline {
            break;
        }
        tokio::time::sleep(jittered).await;
        pause = (pause * 2).min(backoff.max);
        retries += 1;
    }
    for i in pending {
        if let Some(r) = results.get_mut(i) {
            *r = Err(last_error.clone());
        }
    }
    (results, retries)
}
