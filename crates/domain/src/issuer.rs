//! Issues Snowflake ids under a worker lease.
//!
//! Lambda freezes idle instances, so nothing can renew a lease in the background: the lease is
//! checked on every call instead. Before handing out ids the issuer makes sure its lease runs at
//! least `margin_ms` past now, renewing it (or, if another instance took the slot over while this
//! one was frozen, leasing another slot) first. Past half its life a lease is renewed
//! opportunistically, so a busy instance rarely waits on the store.

use crate::lease::{Lease, LeaseError, LeaseStore};
use snowflake::{Clock, Generator, IdError};
use std::future::Future;
use tokio::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuerConfig {
    /// How long a lease lasts from its last renewal.
    pub ttl_ms: u64,
    /// A lease with less than this left is renewed before any id is issued under it.
    pub margin_ms: u64,
    /// How far the clock may step back before the issuer refuses instead of waiting.
    pub max_backwards_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Lease(#[from] LeaseError),
    #[error(transparent)]
    Clock(#[from] IdError),
}

/// Where ids come from: the port the id operations and the post writer need.
pub trait IdSource: Send + Sync {
    /// `n` ids, strictly increasing.
    fn issue(&self, n: usize) -> impl Future<Output = Result<Vec<u64>, IssueError>> + Send;

    fn next_id(&self) -> impl Future<Output = Result<u64, IssueError>> + Send {
        async {
            let ids = self.issue(1).await?;
            ids.first().copied().ok_or(IssueError::Clock(IdError::ClockOutOfRange))
        }
    }
}

impl<S: LeaseStore, C: Clock + Send + Sync> IdSource for IdIssuer<S, C> {
    async fn issue(&self, n: usize) -> Result<Vec<u64>, IssueError> {
        IdIssuer::issue(self, n).await
    }
}

struct Held {
    lease: Lease,
    generator: Generator,
}

pub struct IdIssuer<S, C> {
    store: S,
    clock: C,
    holder: String,
    config: IssuerConfig,
    held: Mutex<Option<Held>>,
}

impl<S: LeaseStore, C: Clock + Send + Sync> IdIssuer<S, C> {
    /// An issuer with no lease yet: the first call acquires one.
    pub fn new(store: S, clock: C, holder: impl Into<String>, config: IssuerConfig) -> Self {
        Self { store, clock, holder: holder.into(), config, held: Mutex::new(None) }
    }

    /// `n` ids, strictly increasing and above every id this issuer handed out before.
    pub async fn issue(&self, n: usize) -> Result<Vec<u64>, IssueError> {
        let mut guard = self.held.lock().await;
        let held = self.ensure_lease(&mut guard).await?;
        match held.generator.take(n, &self.clock) {
            Err(IdError::LeaseEnded) => {
                // The batch ran into the lease's end (only possible with a margin shorter than
                // the batch takes): extend, then draw the batch afresh.
                self.renew(held).await?;
                Ok(held.generator.take(n, &self.clock)?)
            }
            other => Ok(other?),
        }
    }

    /// The lease currently held, if any.
    pub async fn lease(&self) -> Option<Lease> {
        self.held.lock().await.as_ref().map(|h| h.lease.clone())
    }

    async fn ensure_lease<'a>(&self, held: &'a mut Option<Held>) -> Result<&'a mut Held, IssueError> {
        let now = self.clock.now_ms();
        let current = match held.take() {
            None => self.acquire().await?,
            Some(mut h) if now.saturating_add(self.config.margin_ms) >= h.lease.expires_at_ms => {
                match self.renew(&mut h).await {
                    Ok(()) => h,
                    Err(LeaseError::Lost(slot)) => {
                        tracing::warn!(slot, "worker lease taken over while idle; leasing another");
                        self.acquire().await?
                    }
                    Err(e) => {
                        // Keep the (expiring) lease so the next call tries to renew it again.
                        *held = Some(h);
                        return Err(e.into());
                    }
                }
            }
            Some(mut h) if now.saturating_add(self.config.ttl_ms / 2) >= h.lease.expires_at_ms => {
                match self.renew(&mut h).await {
                    Ok(()) => h,
                    Err(LeaseError::Lost(slot)) => {
                        tracing::warn!(slot, "worker lease lost before its end; leasing another");
                        self.acquire().await?
                    }
                    // Still valid beyond the margin: carry on, renew on a later call.
                    Err(e) => {
                        tracing::warn!(error = %e, "early lease renewal failed");
                        h
                    }
                }
            }
            Some(h) => h,
        };
        Ok(held.insert(current))
    }

    async fn acquire(&self) -> Result<Held, LeaseError> {
        let now = self.clock.now_ms();
        let lease = self.store.acquire(&self.holder, now, now.saturating_add(self.config.ttl_ms)).await?;
        tracing::info!(
            slot = lease.slot.index(),
            datacenter = lease.slot.datacenter(),
            worker = lease.slot.worker(),
            floor_ms = lease.floor_ms,
            expires_at_ms = lease.expires_at_ms,
            "worker id leased"
        );
        let generator =
            Generator::new(lease.slot, lease.floor_ms, lease.expires_at_ms, self.config.max_backwards_ms);
        Ok(Held { lease, generator })
    }

    async fn renew(&self, held: &mut Held) -> Result<(), LeaseError> {
        // Never move the recorded end backwards (a clock that stepped back): the next holder's
        // floor must stay above every id this one issued.
        let end = self.clock.now_ms().saturating_add(self.config.ttl_ms).max(held.lease.expires_at_ms);
        let lease = self.store.renew(&held.lease, end).await?;
        held.generator.set_ceiling(lease.expires_at_ms);
        held.lease = lease;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::MemoryLeaseStore;
    use snowflake::clock::ManualClock;
    use snowflake::{EPOCH_UNIX_MS, decode};
    use std::collections::HashSet;
    use std::sync::Arc;

    const T0: u64 = EPOCH_UNIX_MS + 10_000_000;
    const CONFIG: IssuerConfig = IssuerConfig { ttl_ms: 10_000, margin_ms: 1_000, max_backwards_ms: 50 };

    fn issuer(
        store: &Arc<MemoryLeaseStore>,
        clock: &Arc<ManualClock>,
        name: &str,
    ) -> IdIssuer<Arc<MemoryLeaseStore>, Arc<ManualClock>> {
        IdIssuer::new(Arc::clone(store), Arc::clone(clock), name, CONFIG)
    }

    #[tokio::test]
    async fn first_call_leases_and_later_calls_reuse_the_lease() {
        let store = Arc::new(MemoryLeaseStore::new(4));
        let clock = Arc::new(ManualClock::new(T0, 1));
        let a = issuer(&store, &clock, "a");
        let first = a.issue(3).await.unwrap();
        clock.advance(100);
        let second = a.issue(3).await.unwrap();
        assert!(first.windows(2).chain(second.windows(2)).all(|w| w[0] < w[1]) && first[2] < second[0]);
        assert_eq!(store.writes(), 1, "one acquire, no renewal yet");
    }

    #[tokio::test]
    async fn lease_is_renewed_past_half_life_and_keeps_its_slot() {
        let store = Arc::new(MemoryLeaseStore::new(4));
        let clock = Arc::new(ManualClock::new(T0, 1));
        let a = issuer(&store, &clock, "a");
        a.issue(1).await.unwrap();
        let before = a.lease().await.unwrap();
        clock.advance(CONFIG.ttl_ms / 2 + 1);
        a.issue(1).await.unwrap();
        let after = a.lease().await.unwrap();
        assert_eq!(after.slot, before.slot);
        assert!(after.expires_at_ms > before.expires_at_ms);
        assert_eq!(store.record(after.slot.index()).unwrap().last_ts, after.expires_at_ms);
    }

    #[tokio::test]
    async fn thawed_instance_whose_slot_was_taken_over_leases_another() {
        let store = Arc::new(MemoryLeaseStore::new(1 + 1));
        let clock = Arc::new(ManualClock::new(T0, 1));
        let a = issuer(&store, &clock, "a");
        let a_ids = a.issue(5).await.unwrap();
        let a_slot = a.lease().await.unwrap().slot;

        // `a` is frozen past its lease; `b` starts and takes the expired slot over.
        clock.advance(CONFIG.ttl_ms + 1);
        let b = issuer(&store, &clock, "b");
        let b_ids = b.issue(5).await.unwrap();
        assert_eq!(b.lease().await.unwrap().slot, a_slot, "the memory store hands out the lowest free slot");
        assert!(b_ids[0] > a_ids[4], "the new holder starts above the old holder's last_ts");

        // `a` thaws: it must not use its old worker id again.
        let a_more = a.issue(5).await.unwrap();
        let a_new_slot = a.lease().await.unwrap().slot;
        assert_ne!(a_new_slot, a_slot);
        assert!(a_more.iter().all(|id| decode(*id).unwrap().worker == a_new_slot.worker()));
        let all: HashSet<u64> = a_ids.iter().chain(&b_ids).chain(&a_more).copied().collect();
        assert_eq!(all.len(), 15);
    }

    #[tokio::test]
    async fn expired_but_untouched_lease_is_renewed_in_place() {
        let store = Arc::new(MemoryLeaseStore::new(4));
        let clock = Arc::new(ManualClock::new(T0, 1));
        let a = issuer(&store, &clock, "a");
        let before = a.issue(1).await.unwrap();
        let slot = a.lease().await.unwrap().slot;
        clock.advance(CONFIG.ttl_ms * 3);
        let after = a.issue(1).await.unwrap();
        assert_eq!(a.lease().await.unwrap().slot, slot);
        assert!(after[0] > before[0]);
    }

    #[tokio::test]
    async fn new_holder_with_a_slower_clock_stays_above_the_old_holders_ids() {
        let store = Arc::new(MemoryLeaseStore::new(1));
        let fast = Arc::new(ManualClock::new(T0 + 5_000, 1));
        let slow = Arc::new(ManualClock::new(T0, 1));
        let a = issuer(&store, &fast, "a");
        // `a` issues as late in its lease as it can without renewing it, by its (fast) clock.
        a.issue(1).await.unwrap();
        let end = a.lease().await.unwrap().expires_at_ms;
        fast.set(end - CONFIG.ttl_ms / 2 - 1);
        let a_last = *a.issue(1).await.unwrap().last().unwrap();
        // `b`'s clock is 5 s behind: it may take over once *its* clock passes the end.
        slow.set(end + 1);
        let b = issuer(&store, &slow, "b");
        let b_first = b.issue(1).await.unwrap()[0];
        assert!(b_first > a_last);
        assert!(decode(b_first).unwrap().unix_ms > end);
    }

    #[tokio::test]
    async fn all_slots_taken_is_an_error_not_a_duplicate() {
        let store = Arc::new(MemoryLeaseStore::new(2));
        let clock = Arc::new(ManualClock::new(T0, 1));
        let a = issuer(&store, &clock, "a");
        let b = issuer(&store, &clock, "b");
        let c = issuer(&store, &clock, "c");
        a.issue(1).await.unwrap();
        b.issue(1).await.unwrap();
        assert_eq!(c.issue(1).await, Err(IssueError::Lease(LeaseError::AllTaken(2))));
    }

    #[tokio::test]
    async fn store_outage_during_required_renewal_is_an_error_and_retried_later() {
        let store = Arc::new(MemoryLeaseStore::new(2));
        let clock = Arc::new(ManualClock::new(T0, 1));
        let a = issuer(&store, &clock, "a");
        a.issue(1).await.unwrap();
        clock.advance(CONFIG.ttl_ms - CONFIG.margin_ms);
        store.set_down(true);
        assert!(matches!(a.issue(1).await, Err(IssueError::Lease(LeaseError::Unavailable(_)))));
        store.set_down(false);
        assert!(a.issue(1).await.is_ok());
    }

    #[tokio::test]
    async fn store_outage_during_early_renewal_is_tolerated() {
        let store = Arc::new(MemoryLeaseStore::new(2));
        let clock = Arc::new(ManualClock::new(T0, 1));
        let a = issuer(&store, &clock, "a");
        a.issue(1).await.unwrap();
        clock.advance(CONFIG.ttl_ms / 2 + 1);
        store.set_down(true);
        assert!(a.issue(1).await.is_ok());
    }

    #[tokio::test]
    async fn many_issuers_over_time_never_repeat_an_id() {
        // Instances come and go on 3 slots for many lease lifetimes.
        let store = Arc::new(MemoryLeaseStore::new(3));
        let clock = Arc::new(ManualClock::new(T0, 1));
        let mut seen = HashSet::new();
        let mut live: Vec<IdIssuer<_, _>> = Vec::new();
        for round in 0..60u64 {
            if round % 4 == 0 {
                live.push(issuer(&store, &clock, &format!("i{round}")));
            }
            if round % 7 == 0 && !live.is_empty() {
                live.remove(0); // dies without releasing its lease
            }
            for i in &live {
                match i.issue(50).await {
                    Ok(ids) => assert!(ids.into_iter().all(|id| seen.insert(id))),
                    Err(IssueError::Lease(LeaseError::AllTaken(_))) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            clock.advance(CONFIG.ttl_ms / 3);
        }
        assert!(seen.len() > 1_000);
    }
}
