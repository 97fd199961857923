//! Business rules and the ports they need, free of AWS, Redis and Lambda crates.
//!
//! - [`lease`]: the worker-lease port: how an instance borrows a (datacenter, worker) pair.
//! - [`issuer`]: hands out Snowflake ids under a lease that it acquires, renews and replaces,
//!   so instances that come and go never issue the same id.
//! - [`preview`]: link checks and the cache-first preview service, with its ports.
//! - [`posts`]: posts, their validation, and the write and read flows over their ports.
//! - [`ops`]: the operations the functions offer, one module each: parse, apply, outcome.
//! - [`keys`]: every cache key, named in one place.
//! - [`cache`]: the error every cache port shares.
//! - [`clock_text`]: timestamps as RFC 3339 text.
//! - [`digest`]: hex SHA-256, for keys of bounded length.
//! - [`telemetry`]: counts of what the domain decided, recorded by what the function installs.
//! - `fakes` (feature `fakes`): in-memory implementations of the ports for tests.

pub mod cache;
pub mod clock_text;
pub mod digest;
pub mod issuer;
pub mod keys;
pub mod lease;
pub mod ops;
pub mod posts;
pub mod preview;
pub mod telemetry;

#[cfg(any(test, feature = "fakes"))]
pub mod fakes;

pub use issuer::{IdIssuer, IdSource, IssueError, IssuerConfig};
pub use lease::{Lease, LeaseError, LeaseStore};
