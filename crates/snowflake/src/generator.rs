//! One worker's id generator.
//!
//! Ids are strictly increasing: within a millisecond the sequence counts up, and when all 4,096
//! are used the generator waits for the next millisecond (the reference reset the sequence on
//! every call and handed out duplicates). Two bounds make ids unique across hosts that share a
//! worker slot over time:
//!
//! - the *floor*: the generator never issues an id at or below it. A new holder of a slot starts
//!   from the last timestamp its previous holder recorded, whatever its own clock says.
//! - the *ceiling*: the generator never issues an id above it. A holder records its ceiling in the
//!   lease before using it, so the next holder's floor is above everything this one issued.
//!
//! A clock that steps backwards is waited out for at most `max_backwards_ms`; past that the
//! generator refuses ([`IdError::ClockBehind`]) rather than risk a duplicate.

use crate::clock::Clock;
use crate::layout::{EPOCH_UNIX_MS, MAX_SEQUENCE, MAX_TIMESTAMP, WorkerSlot, compose};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("the clock is {behind_ms} ms behind the last id issued")]
    ClockBehind { behind_ms: u64 },
    #[error("the worker lease ends before the current millisecond")]
    LeaseEnded,
    #[error("the clock is outside the range ids can represent")]
    ClockOutOfRange,
}

#[derive(Debug, Clone)]
pub struct Generator {
    slot: WorkerSlot,
    /// Epoch-relative ms of the last id issued (or of the floor before the first).
    last: u64,
    sequence: u16,
    /// Epoch-relative ms of the last millisecond this generator may use.
    ceiling: u64,
    max_backwards_ms: u64,
}

impl Generator {
    /// A generator for `slot` issuing ids with timestamps in `(floor, ceiling]` (Unix ms).
    pub fn new(slot: WorkerSlot, floor_unix_ms: u64, ceiling_unix_ms: u64, max_backwards_ms: u64) -> Self {
        Self {
            slot,
            last: floor_unix_ms.saturating_sub(EPOCH_UNIX_MS),
            // The floor's millisecond counts as used up: the first id is strictly above it.
            sequence: MAX_SEQUENCE,
            ceiling: ceiling_unix_ms.saturating_sub(EPOCH_UNIX_MS),
            max_backwards_ms,
        }
    }

    pub fn slot(&self) -> WorkerSlot {
        self.slot
    }

    /// Moves the ceiling (Unix ms), after the lease that allows it was recorded.
    pub fn set_ceiling(&mut self, ceiling_unix_ms: u64) {
        self.ceiling = ceiling_unix_ms.saturating_sub(EPOCH_UNIX_MS);
    }

    /// Unix ms of the last id issued, or of the floor when none was.
    pub fn last_unix_ms(&self) -> u64 {
        EPOCH_UNIX_MS + self.last
    }

    /// The next id, strictly greater than every id this generator issued before.
    pub fn next_id(&mut self, clock: &impl Clock) -> Result<u64, IdError> {
        loop {
            let t = clock
                .now_ms()
                .checked_sub(EPOCH_UNIX_MS)
                .filter(|t| *t <= MAX_TIMESTAMP)
                .ok_or(IdError::ClockOutOfRange)?;
            if t > self.last {
                if t > self.ceiling {
                    return Err(IdError::LeaseEnded);
                }
                self.last = t;
                self.sequence = 0;
                return Ok(compose(t, self.slot, 0));
            }
            if t == self.last && self.sequence < MAX_SEQUENCE {
                self.sequence += 1;
                return Ok(compose(t, self.slot, self.sequence));
            }
            // The clock is behind the last id (stepped back, or below a new holder's floor),
            // or this millisecond's sequence is used up: wait for the clock, within bounds.
            let behind_ms = self.last - t;
            if behind_ms > self.max_backwards_ms {
                return Err(IdError::ClockBehind { behind_ms });
            }
            if self.last >= self.ceiling {
                return Err(IdError::LeaseEnded);
            }
            clock.relax();
        }
    }

    /// `n` ids in increasing order. On an error the ids drawn so far are discarded (and never
    /// issued again).
    pub fn take(&mut self, n: usize, clock: &impl Clock) -> Result<Vec<u64>, IdError> {
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            ids.push(self.next_id(clock)?);
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ManualClock, SystemClock};
    use crate::layout::{MAX_SEQUENCE, decode};
    use proptest::prelude::*;
    use std::collections::HashSet;

    const T0: u64 = EPOCH_UNIX_MS + 1_000_000;
    const FAR: u64 = u64::MAX;

    fn slot() -> WorkerSlot {
        WorkerSlot::new(2, 9).unwrap()
    }

    #[test]
    fn sequence_counts_up_within_a_millisecond() {
        let clock = ManualClock::new(T0, 1);
        let mut g = Generator::new(slot(), 0, FAR, 10);
        let ids = g.take(3, &clock).unwrap();
        let seqs: Vec<u16> = ids.iter().map(|id| decode(*id).unwrap().sequence).collect();
        assert_eq!(seqs, [0, 1, 2]);
        assert!(ids.iter().all(|id| decode(*id).unwrap().unix_ms == T0));
    }

    #[test]
    fn waits_for_next_millisecond_when_sequence_is_used_up() {
        let clock = ManualClock::new(T0, 1);
        let mut g = Generator::new(slot(), 0, FAR, 10);
        let ids = g.take(usize::from(MAX_SEQUENCE) + 2, &clock).unwrap();
        let last = decode(*ids.last().unwrap()).unwrap();
        assert_eq!((last.unix_ms, last.sequence), (T0 + 1, 0));
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    }

    #[test]
    fn small_backward_step_is_waited_out() {
        let clock = ManualClock::new(T0, 1);
        let mut g = Generator::new(slot(), 0, FAR, 10);
        let a = g.next_id(&clock).unwrap();
        clock.set(T0 - 5);
        let b = g.next_id(&clock).unwrap();
        assert!(b > a);
    }

    #[test]
    fn large_backward_step_is_refused() {
        let clock = ManualClock::new(T0, 1);
        let mut g = Generator::new(slot(), 0, FAR, 10);
        let a = g.next_id(&clock).unwrap();
        clock.set(T0 - 1_000);
        assert_eq!(g.next_id(&clock), Err(IdError::ClockBehind { behind_ms: 1_000 }));
        clock.set(T0);
        assert!(g.next_id(&clock).unwrap() > a);
    }

    #[test]
    fn never_issues_at_or_below_the_floor() {
        // A new holder whose clock lags the previous holder's recorded timestamp.
        let clock = ManualClock::new(T0 - 3, 1);
        let mut g = Generator::new(slot(), T0, FAR, 10);
        let id = g.next_id(&clock).unwrap();
        assert_eq!(decode(id).unwrap().unix_ms, T0 + 1);
    }

    #[test]
    fn never_issues_above_the_ceiling() {
        let clock = ManualClock::new(T0, 1);
        let mut g = Generator::new(slot(), 0, T0, 10);
        assert_eq!(g.take(usize::from(MAX_SEQUENCE) + 1, &clock).unwrap().len(), 4_096);
        assert_eq!(g.next_id(&clock), Err(IdError::LeaseEnded));
        clock.set(T0 + 5);
        assert_eq!(g.next_id(&clock), Err(IdError::LeaseEnded));
        g.set_ceiling(T0 + 5);
        assert_eq!(decode(g.next_id(&clock).unwrap()).unwrap().unix_ms, T0 + 5);
    }

    #[test]
    fn clock_before_epoch_is_refused() {
        let clock = ManualClock::new(EPOCH_UNIX_MS - 1, 1);
        let mut g = Generator::new(slot(), 0, FAR, 10);
        assert_eq!(g.next_id(&clock), Err(IdError::ClockOutOfRange));
    }

    #[test]
    fn system_clock_ids_are_strictly_increasing() {
        let mut g = Generator::new(slot(), 0, FAR, 50);
        let ids = g.take(20_000, &SystemClock).unwrap();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    /// How the clock moves between two draws.
    #[derive(Debug, Clone)]
    enum Step {
        Same,
        Forward(u64),
        Back(u64),
        Draw(u16),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            Just(Step::Same),
            (1u64..5).prop_map(Step::Forward),
            (1u64..40).prop_map(Step::Back),
            (1u16..5_000).prop_map(Step::Draw),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Whatever the clock does, ids are unique, strictly increasing, above the floor, at or
        /// below the ceiling, and carry the generator's slot.
        #[test]
        fn unique_increasing_and_bounded(steps in prop::collection::vec(step(), 1..60), floor_off in 0u64..20) {
            let clock = ManualClock::new(T0, 1);
            let floor = T0 - 10 + floor_off;
            let ceiling = T0 + 200;
            let mut g = Generator::new(slot(), floor, ceiling, 20);
            let mut all: Vec<u64> = Vec::new();
            for s in steps {
                match s {
                    Step::Same => {}
                    Step::Forward(ms) => clock.advance(ms),
                    Step::Back(ms) => clock.set(clock.now_ms().saturating_sub(ms)),
                    Step::Draw(n) => {
                        for _ in 0..n {
                            match g.next_id(&clock) {
                                Ok(id) => all.push(id),
                                Err(IdError::ClockBehind { .. } | IdError::LeaseEnded) => break,
                                Err(e) => prop_assert!(false, "unexpected {e}"),
                            }
                        }
                    }
                }
            }
            prop_assert!(all.windows(2).all(|w| w[0] < w[1]));
            for id in &all {
                let d = decode(*id).unwrap();
                prop_assert!(d.unix_ms > floor && d.unix_ms <= ceiling);
                prop_assert_eq!(WorkerSlot::new(d.datacenter, d.worker), Some(slot()));
            }
        }
    }
}
