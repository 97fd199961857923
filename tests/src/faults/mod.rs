//! The fault tests' common part: a bounded stream of logical writes through the deployed API
//! (each with unique contents, optionally retried under its own `Idempotency-Key`), a watcher
//! that sees when each post reaches the table, and the reconciliation of every write with the
//! table by contents once the queues are empty.
//!
//! A write is *answered* (a 201, with its post id), *refused* (no 201 after its attempts), or a
//! *surprise* (an answer the API never gives for a write: a 4xx, a body that is not a post).
//! Reconciliation counts, per write and by contents: lost (answered, not stored), duplicated
//! (stored more than once), phantoms (stored but never answered, or not written at all),
//! mismatched (stored under another id or user than answered), and ids answered twice.

mod logs;
mod processes;
mod proxy;
mod reconcile;
mod redis_node;
mod report;
mod stream;
mod watcher;

pub use logs::{log_events, log_lines};
pub use processes::{function_pids, kill_function, kill_soon};
pub use proxy::{Proxy, injected};
pub use reconcile::{Figures, compare, queue_depth, queues_empty, reconcile};
pub use redis_node::RedisNode;
pub use report::{keep, report};
pub use stream::{Outcome, Retries, Stream, Write, Writes, when_sent};
pub use watcher::Watcher;

/// Epoch milliseconds now.
pub use crate::now_ms;
