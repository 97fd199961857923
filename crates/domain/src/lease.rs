//! The worker-lease port.
//!
//! A lease gives one instance exclusive use of a worker slot until `expires_at_ms`. The store
//! records, with every lease it grants or extends, the slot's `last_ts`: the last millisecond the
//! holder may issue ids in, which is the lease's end. A holder never issues past its lease's
//! end, and a new holder starts strictly above the recorded `last_ts` (its `floor_ms`), so the
//! timestamps of successive holders never overlap, however far apart their clocks are.

use snowflake::WorkerSlot;
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub slot: WorkerSlot,
    /// Who holds it: unique per instance.
    pub holder: String,
    /// Unix ms at which the lease ends; also the `last_ts` recorded for the slot.
    pub expires_at_ms: u64,
    /// The `last_ts` the previous holder recorded: this holder issues only above it.
    pub floor_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    #[error("all {0} worker ids are leased")]
    AllTaken(u16),
    #[error("the lease on worker slot {0} was taken over or changed")]
    Lost(u16),
    #[error("the lease store is unavailable: {0}")]
    Unavailable(String),
}

/// Where leases live (a DynamoDB table in production).
pub trait LeaseStore: Send + Sync {
    /// Leases a slot that is free at `now_ms` (never leased, or its lease ended before `now_ms`)
    /// to `holder` until `expires_at_ms`, recording `last_ts = expires_at_ms`. The returned
    /// lease's `floor_ms` is the `last_ts` the slot had before (0 if none).
    fn acquire(
        &self,
        holder: &str,
        now_ms: u64,
        expires_at_ms: u64,
    ) -> impl Future<Output = Result<Lease, LeaseError>> + Send;

    /// Extends `lease` to `expires_at_ms` (also its new `last_ts`), only if the slot still holds
    /// exactly this lease (same holder, same end); otherwise [`LeaseError::Lost`].
    fn renew(
        &self,
        lease: &Lease,
        expires_at_ms: u64,
    ) -> impl Future<Output = Result<Lease, LeaseError>> + Send;
}

/// A shared store is a store.
impl<T: LeaseStore> LeaseStore for std::sync::Arc<T> {
    async fn acquire(&self, holder: &str, now_ms: u64, expires_at_ms: u64) -> Result<Lease, LeaseError> {
        (**self).acquire(holder, now_ms, expires_at_ms).await
    }
    async fn renew(&self, lease: &Lease, expires_at_ms: u64) -> Result<Lease, LeaseError> {
        (**self).renew(lease, expires_at_ms).await
    }
}
