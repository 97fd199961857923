//! The ports of `domain` over real services.
//!
//! - [`aws`]: one SDK configuration for every client, from the standard AWS environment
//!   (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials), with timeouts on every call.
//! - [`lease_table`]: the worker-lease store on DynamoDB, with conditional writes.
//! - [`fetch`]: the SSRF-safe link fetcher.
//! - [`discovery`]: the Redis cache nodes of the stack, found through the ElastiCache API.
//! - [`redis_shards`]: sharded Redis: the ring, one connection per node, timeouts, breakers;
//!   the preview cache (`redis_previews`) and the rate limiter (`redis_rate_limit`) on it.
//! - [`posts_table`], [`posts_queue`], [`idempotency_table`]: posts in DynamoDB, the posts
//!   queue on SQS, idempotency records in DynamoDB.
//! - [`redeliveries`]: failed post messages made visible again early.
//! - [`dead_letters`]: re-sending dead letters with a delay, and the parked-messages table.
//! - [`redis_posts`]: the posts cache (posts and exactly ordered user lists) on those shards.

pub mod aws;
pub mod dead_letters;
pub mod discovery;
mod dynamo_item;
pub mod fetch;
pub mod idempotency_table;
pub mod lease_table;
pub mod posts_queue;
pub mod posts_table;
pub mod redeliveries;
pub mod redis_posts;
mod redis_previews;
mod redis_rate_limit;
pub mod redis_shards;
mod sqs_attributes;

pub use dead_letters::{DynamoParked, SqsRequeue};
pub use fetch::{FetchConfig, SafeFetcher};
pub use idempotency_table::DynamoIdempotency;
pub use lease_table::DynamoLeaseStore;
pub use posts_queue::SqsPosts;
pub use posts_table::DynamoPosts;
pub use redeliveries::SqsRedeliveries;
pub use redis_posts::{PostCacheConfig, RedisPosts};
pub use redis_rate_limit::RedisRateLimiter;
pub use redis_shards::{RedisConfig, RedisShards};
