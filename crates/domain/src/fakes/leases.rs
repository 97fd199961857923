//! The lease table in memory, with its conditional writes.

use crate::lease::{Lease, LeaseError, LeaseStore};
use snowflake::WorkerSlot;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    pub holder: String,
    pub expires_at: u64,
    pub last_ts: u64,
}

/// A lease table in memory over `slot_count` slots; hands out the lowest free slot.
#[derive(Debug, Default)]
pub struct MemoryLeaseStore {
    slot_count: u16,
    records: Mutex<BTreeMap<u16, LeaseRecord>>,
    down: AtomicBool,
    writes: AtomicUsize,
}

impl MemoryLeaseStore {
    pub fn new(slot_count: u16) -> Self {
        Self { slot_count, ..Self::default() }
    }

    /// Makes every call fail as unavailable (or work again).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Successful acquires and renewals so far.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    pub fn record(&self, slot: u16) -> Option<LeaseRecord> {
        self.lock().get(&slot).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u16, LeaseRecord>> {
        self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn check_up(&self) -> Result<(), LeaseError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(LeaseError::Unavailable("store is down".into()));
        }
        Ok(())
    }
}

impl LeaseStore for MemoryLeaseStore {
    async fn acquire(&self, holder: &str, now_ms: u64, expires_at_ms: u64) -> Result<Lease, LeaseError> {
        self.check_up()?;
        let mut records = self.lock();
        let free = (0..self.slot_count).find(|s| records.get(s).is_none_or(|r| r.expires_at < now_ms));
        let Some(index) = free else { return Err(LeaseError::AllTaken(self.slot_count)) };
        let slot = WorkerSlot::from_index(index).ok_or(LeaseError::AllTaken(self.slot_count))?;
        let floor_ms = records.get(&index).map_or(0, |r| r.last_ts);
        records.insert(
            index,
            LeaseRecord { holder: holder.to_owned(), expires_at: expires_at_ms, last_ts: expires_at_ms },
        );
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(Lease { slot, holder: holder.to_owned(), expires_at_ms, floor_ms })
    }

    async fn renew(&self, lease: &Lease, expires_at_ms: u64) -> Result<Lease, LeaseError> {
        self.check_up()?;
        let mut records = self.lock();
        let index = lease.slot.index();
        match records.get_mut(&index) {
            Some(r) if r.holder == lease.holder && r.expires_at == lease.expires_at_ms => {
                r.expires_at = expires_at_ms;
                r.last_ts = expires_at_ms;
                self.writes.fetch_add(1, Ordering::SeqCst);
                Ok(Lease { expires_at_ms, ..lease.clone() })
            }
            _ => Err(LeaseError::Lost(index)),
        }
    }
}
