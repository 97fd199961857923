//! The ports of `domain` over real services.
//!
//! - [`aws`]: one SDK configuration for every client, from the standard AWS environment
//!   (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials), with timeouts on every call.
//! - [`lease_table`]: the worker-lease store on DynamoDB, with conditional writes.
//! - [`fetch`]: the SSRF-safe link fetcher.
//! - [`redis_shards`]: sharded Redis (preview cache, rate limiter) with timeouts and breakers.

pub mod aws;
pub mod fetch;
pub mod lease_table;
pub mod redis_shards;

pub use fetch::{FetchConfig, SafeFetcher};
pub use lease_table::DynamoLeaseStore;
pub use redis_shards::{RedisConfig, RedisRateLimiter, RedisShards};
