//! The ports of `domain` over real services.
//!
//! - [`aws`]: one SDK configuration for every client, from the standard AWS environment
//!   (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials), with timeouts on every call.
//! - [`lease_table`]: the worker-lease store on DynamoDB, with conditional writes.

pub mod aws;
pub mod lease_table;

pub use lease_table::DynamoLeaseStore;
