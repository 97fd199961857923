//! In-memory implementations of the ports, with the same semantics as the real stores, for
//! tests here and in other crates (feature `fakes`).

mod dead_letters;
mod idempotency;
mod leases;
pub mod posts;
mod preview;

pub use dead_letters::MemoryDeadLetters;
pub use idempotency::{MemoryIdempotency, MemoryRecord};
pub use leases::{LeaseRecord, MemoryLeaseStore};
pub use preview::{FakeFetcher, FixedLimiter, MemoryCache};
