//! The composition root the functions share: each setting read from the environment once, in
//! one place, and the clients built from them. Functions whose work overlaps (post-write makes
//! ids like guid and previews like scrap) read the same variables the same way.
//!
//! - [`cache`]: the Redis nodes, fixed or discovered (`CACHE_NODES`, `CACHE_DISCOVERY_*`).
//! - [`scrap`]: fetcher, preview cache and rate limiter settings (`CACHE_NODES`, `SCRAP_*`).
//! - [`ids`]: the worker-lease issuer (`LEASE_*`, `MAX_CLOCK_BACKWARDS_MS`).
//! - [`posts`]: tables, queue, list length, preview budget (`POSTS_*`, `POST_*`, ...).

pub mod cache;
pub mod ids;
pub mod posts;
pub mod scrap;
