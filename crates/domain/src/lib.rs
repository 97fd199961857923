//! Business rules and the ports they need, free of AWS, Redis and Lambda crates.
//!
//! - [`lease`]: the worker-lease port: how an instance borrows a (datacenter, worker) pair.
//! - [`issuer`]: hands out Snowflake ids under a lease that it acquires, renews and replaces,
//!   so instances that come and go never issue the same id.
//! - `fakes` (feature `fakes`): in-memory implementations of the ports for tests.

pub mod issuer;
pub mod lease;

#[cfg(any(test, feature = "fakes"))]
pub mod fakes;

pub use issuer::{IdIssuer, IssueError, IssuerConfig};
pub use lease::{Lease, LeaseError, LeaseStore};
