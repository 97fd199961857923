//! Idempotency records in memory.

use std::sync::Mutex;

/// Idempotency records in memory, with the table's conditional writes: a claim is refused while
/// the key holds a completed record or an in-progress one that has not run out.
#[derive(Default)]
pub struct MemoryIdempotency {
    pub records: Mutex<std::collections::HashMap<String, MemoryRecord>>,
    /// Makes `complete` fail, as a table that took the claim and then went away.
    pub fail_complete: std::sync::atomic::AtomicBool,
}

/// A stored record and, for one in progress, when its claim runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryRecord {
    pub record: crate::posts::idempotency::Record,
    pub until_ms: u64,
}

impl MemoryIdempotency {
    /// Runs out every claim in progress, as if their invocations had ended.
    pub fn run_out_claims(&self) {
        for stored in self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values_mut() {
            stored.until_ms = 0;
        }
    }
}

impl crate::posts::idempotency::IdempotencyStore for MemoryIdempotency {
    async fn put_claim(
        &self,
        key: &str,
        request_hash: &str,
        post_id: u64,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<crate::posts::idempotency::Put, crate::posts::idempotency::RecordsError> {
        use crate::posts::idempotency::{Put, Record};
        let mut records = self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let live = |s: &MemoryRecord| matches!(s.record, Record::Completed { .. }) || s.until_ms >= now_ms;
        if let Some(held) = records.get(key).filter(|s| live(s)) {
            return Ok(Put::Refused { held: Some(held.record.clone()) });
        }
        let claim = Record::InProgress { request_hash: request_hash.to_owned(), post_id };
        let replaced = records.insert(key.to_owned(), MemoryRecord { record: claim, until_ms });
        Ok(Put::Claimed { replaced: replaced.map(|s| s.record) })
    }
    async fn swap_post_id(
        &self,
        key: &str,
        from: u64,
        to: u64,
    ) -> Result<bool, crate::posts::idempotency::RecordsError> {
        use crate::posts::idempotency::Record;
        let mut records = self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match records.get_mut(key).map(|s| &mut s.record) {
            Some(Record::InProgress { post_id, .. }) if *post_id == from => {
                *post_id = to;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    async fn complete(
        &self,
        key: &str,
        request_hash: &str,
        status: u16,
        body: &str,
        _: u64,
    ) -> Result<(), crate::posts::idempotency::RecordsError> {
        use crate::posts::idempotency::Record;
        if self.fail_complete.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(crate::posts::idempotency::RecordsError("table unavailable".into()));
        }
        let record =
            Record::Completed { request_hash: request_hash.to_owned(), status, body: body.to_owned() };
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.to_owned(), MemoryRecord { record, until_ms: 0 });
        Ok(())
    }
    async fn expire(&self, key: &str, post_id: u64) -> Result<(), crate::posts::idempotency::RecordsError> {
        use crate::posts::idempotency::Record;
        let mut records = self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(stored) = records.get_mut(key) {
            if matches!(stored.record, Record::InProgress { post_id: held, .. } if held == post_id) {
                stored.until_ms = 0;
            }
        }
        Ok(())
    }
}
