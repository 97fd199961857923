//! The composition root the functions share: each setting read from the environment once, in
//! one place, and the clients built from them. Functions whose work overlaps (post-write makes
//! ids like guid and previews like scrap) read the same variables the same way.
//!
//! - [`cache`]: the Redis nodes, fixed or discovered (`CACHE_NODES`, `CACHE_DISCOVERY_*`).
//! - [`preview`]: fetcher, preview cache and rate limiter settings (`CACHE_NODES`, `SCRAP_*`).
//! - [`ids`]: the worker-lease issuer (`LEASE_*`, `MAX_CLOCK_BACKWARDS_MS`).
//! - [`posts`]: tables, queue, list length, preview budget (`POSTS_*`, `POST_*`, ...).
//! - [`observability`]: logging and metrics, set up first thing in every `main`.

pub mod cache;
pub mod ids;
pub mod posts;
pub mod preview;

/// Logs and metrics, the same in every function: JSON log lines (chassis), and the domain's
/// counts recorded as EMF beside the adapters' own, flushed once per invocation.
pub fn observability() {
    chassis::logging::init();
    domain::telemetry::install(chassis::metrics::count_total);
}
