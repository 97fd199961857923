//! Reconciliation: every write of a stream against what the table holds once the posts queue
//! and its dead-letter queue are empty, and the figures that come of it.

use super::{Outcome, Watcher, Write, Writes};
use crate::{Writer, sdk, stack_output};
use domain::posts::Post;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Figures {
    pub attempted: usize,
    pub answered: usize,
    pub refused: usize,
    pub surprises: usize,
    /// Requests sent in all (retries included).
    pub requests: usize,
    pub stored: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub phantoms: usize,
    pub mismatched: usize,
    pub answered_twice: usize,
    /// Both queues were seen empty before the final count.
    pub quiet: bool,
    /// 201 to first seen in the table, ms: p50, p99, max.
    pub recovery_ms: Option<(u64, u64, u64)>,
    pub parked: usize,
}

impl Figures {
    /// Nothing lost, stored twice, made up or changed; every write accounted for.
    pub fn assert_exact(&self) {
        assert_eq!(
            self.answered + self.refused + self.surprises,
            self.attempted,
            "every write is answered or refused: {self:?}"
        );
        assert_eq!(self.surprises, 0, "{self:?}");
        assert!(self.quiet, "the queues never emptied: {self:?}");
        assert_eq!(
            (self.lost, self.duplicated, self.phantoms, self.mismatched, self.answered_twice),
            (0, 0, 0, 0, 0),
            "lost, duplicated, phantoms, mismatched, answered twice: {self:?}"
        );
        assert_eq!(self.stored, self.answered, "{self:?}");
    }
}

/// Compares every write with what the table holds for the stream's users.
pub fn compare(users: &[Writer], writes: &[Write], stored: &[Post]) -> Figures {
    let mut by_contents: HashMap<&str, Vec<&Post>> = HashMap::new();
    for p in stored {
        by_contents.entry(p.contents.as_str()).or_default().push(p);
    }
    let mut f = Figures { attempted: writes.len(), stored: stored.len(), ..Figures::default() };
    let mut ids: HashMap<u64, usize> = HashMap::new();
    for w in writes {
        f.requests += w.attempts as usize;
        let found = by_contents.remove(w.contents.as_str()).unwrap_or_default();
        match &w.outcome {
            Outcome::Answered(id) => {
                f.answered += 1;
                *ids.entry(*id).or_default() += 1;
                match found.as_slice() {
                    [] => f.lost += 1,
                    [p] => {
                        let same = p.post_id == *id && p.user_id == users[w.user].sub && p.url.is_none();
                        f.mismatched += usize::from(!same);
                    }
                    [_, rest @ ..] => f.duplicated += rest.len(),
                }
            }
            Outcome::Refused(_) => {
                f.refused += 1;
                f.phantoms += found.len();
            }
            Outcome::Surprise(..) => {
                f.surprises += 1;
                f.phantoms += found.len();
            }
        }
    }
    // Stored posts that no write of the stream sent.
    f.phantoms += by_contents.values().map(Vec::len).sum::<usize>();
    f.answered_twice = ids.values().filter(|n| **n > 1).map(|n| n - 1).sum();
    f
}

/// Reconciles the stream with the table: waits until nothing answered is missing (or `wait`
/// passed), then until the posts queue and its dead-letter queue are empty (visible, in flight
/// and delayed), then counts again, so late duplicates and phantoms are seen too.
pub async fn reconcile(watcher: &Watcher, users: &[Writer], writes: &Writes, wait: Duration) -> Figures {
    let all = writes.all();
    let deadline = Instant::now() + wait;
    loop {
        let figures = compare(users, &all, &watcher.now().await);
        if figures.lost == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Watcher::EVERY).await;
    }
    let quiet = queues_empty(Duration::from_secs(120)).await;
    let mut figures = compare(users, &all, &watcher.now().await);
    figures.quiet = quiet;
    figures.recovery_ms = recovery(watcher, users, &all);
    figures
}

fn recovery(watcher: &Watcher, users: &[Writer], writes: &[Write]) -> Option<(u64, u64, u64)> {
    let mut ms: Vec<u64> = writes
        .iter()
        .filter_map(|w| {
            let Outcome::Answered(id) = w.outcome else { return None };
            let seen = watcher.first_seen(&users[w.user].sub, id)?;
            Some(seen.saturating_duration_since(w.answered_at?).as_millis() as u64)
        })
        .collect();
    ms.sort_unstable();
    let at = |q: f64| ms.get(((ms.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied();
    Some((at(0.5)?, at(0.99)?, *ms.last()?))
}

/// The messages a queue holds: visible, in flight, delayed.
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> [u64; 3] {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::All)
        .send()
        .await
        .expect("queue attributes");
    let attrs = out.attributes().cloned().unwrap_or_default();
    let n = |a: A| attrs.get(&a).and_then(|v| v.parse().ok()).unwrap_or(0);
    [
        n(A::ApproximateNumberOfMessages),
        n(A::ApproximateNumberOfMessagesNotVisible),
        n(A::ApproximateNumberOfMessagesDelayed),
    ]
}

/// Waits until the posts queue and the dead-letter queue are both empty on two reads a second
/// apart; false if they were not within `wait`.
pub async fn queues_empty(wait: Duration) -> bool {
    let sqs = aws_sdk_sqs::Client::new(&sdk().await);
    let queues = [stack_output("PostsQueueUrl").await, stack_output("PostsDeadLetterQueueUrl").await];
    let deadline = Instant::now() + wait;
    let mut empty_reads = 0;
    while Instant::now() < deadline {
        let mut total = 0;
        for q in &queues {
            total += queue_depth(&sqs, q).await.iter().sum::<u64>();
        }
        empty_reads = if total == 0 { empty_reads + 1 } else { 0 };
        if empty_reads >= 2 {
            return true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    false
}
