//! The clock a generator reads: Unix milliseconds, and a way to let time pass.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Clock {
    /// Wall-clock Unix milliseconds. May step backwards (NTP corrections).
    fn now_ms(&self) -> u64;

    /// Lets a little time pass while the generator waits for the next millisecond. The system
    /// clock yields the thread; a test clock advances itself.
    fn relax(&self) {
        std::thread::yield_now();
    }
}

/// The host's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        // A clock before 1970 reads as 0, which the generator refuses as before its epoch.
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis() as u64
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
    fn relax(&self) {
        (**self).relax()
    }
}

/// A clock that moves only when told to (and by `relax_step_ms` each time a generator waits),
/// for tests of time-dependent behaviour.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: std::sync::atomic::AtomicU64,
    relax_step_ms: u64,
}

impl ManualClock {
    pub fn new(now_ms: u64, relax_step_ms: u64) -> Self {
        Self { now: now_ms.into(), relax_step_ms }
    }

    pub fn set(&self, now_ms: u64) {
        self.now.store(now_ms, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn advance(&self, ms: u64) {
        self.now.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now.load(std::sync::atomic::Ordering::SeqCst)
    }
    fn relax(&self) {
        self.advance(self.relax_step_ms);
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
    fn relax(&self) {
        (**self).relax()
    }
}
