//! Bit layout of an id and the numbering of worker slots.
//!
//! A worker slot is the pair (datacenter, worker) flattened into one number `0..1024`
//! (`datacenter << 5 | worker`), which is how leases name them.

/// 2021-06-01T00:00:00Z in Unix milliseconds: the reference's epoch, in UTC (the reference
/// computed it in local time, so its ids depended on the server's time zone).
pub const EPOCH_UNIX_MS: u64 = 1_622_505_600_000;

pub const TIMESTAMP_BITS: u32 = 41;
pub const DATACENTER_BITS: u32 = 5;
pub const WORKER_BITS: u32 = 5;
pub const SEQUENCE_BITS: u32 = 12;

pub const MAX_TIMESTAMP: u64 = (1 << TIMESTAMP_BITS) - 1;
pub const MAX_DATACENTER: u8 = (1 << DATACENTER_BITS) - 1;
pub const MAX_WORKER: u8 = (1 << WORKER_BITS) - 1;
pub const MAX_SEQUENCE: u16 = (1 << SEQUENCE_BITS) - 1;
/// Number of distinct (datacenter, worker) pairs.
pub const SLOT_COUNT: u16 = 1 << (DATACENTER_BITS + WORKER_BITS);

const WORKER_SHIFT: u32 = SEQUENCE_BITS;
const DATACENTER_SHIFT: u32 = SEQUENCE_BITS + WORKER_BITS;
const TIMESTAMP_SHIFT: u32 = SEQUENCE_BITS + WORKER_BITS + DATACENTER_BITS;

/// A (datacenter, worker) pair, always within its bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerSlot(u16);

impl WorkerSlot {
    /// The slot numbered `n` (`datacenter << 5 | worker`); `None` when `n >= 1024`.
    pub fn from_index(n: u16) -> Option<Self> {
        (n < SLOT_COUNT).then_some(Self(n))
    }

    /// The slot of a (datacenter, worker) pair; `None` when either is out of its 5 bits.
    pub fn new(datacenter: u8, worker: u8) -> Option<Self> {
        (datacenter <= MAX_DATACENTER && worker <= MAX_WORKER)
            .then(|| Self(u16::from(datacenter) << WORKER_BITS | u16::from(worker)))
    }

    pub fn index(self) -> u16 {
        self.0
    }

    pub fn datacenter(self) -> u8 {
        // Within 5 bits by construction, so the cast cannot truncate.
        (self.0 >> WORKER_BITS) as u8
    }

    pub fn worker(self) -> u8 {
        (self.0 & u16::from(MAX_WORKER)) as u8
    }
}

/// Builds an id from a timestamp (ms since [`EPOCH_UNIX_MS`], at most [`MAX_TIMESTAMP`]), a slot
/// and a sequence number (at most [`MAX_SEQUENCE`]). Callers keep the ranges; debug builds check.
pub fn compose(epoch_ms: u64, slot: WorkerSlot, sequence: u16) -> u64 {
    debug_assert!(epoch_ms <= MAX_TIMESTAMP && sequence <= MAX_SEQUENCE);
    epoch_ms << TIMESTAMP_SHIFT
        | u64::from(slot.datacenter()) << DATACENTER_SHIFT
        | u64::from(slot.worker()) << WORKER_SHIFT
        | u64::from(sequence)
}

/// The fields of an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Unix milliseconds of the id's timestamp.
    pub unix_ms: u64,
    pub datacenter: u8,
    pub worker: u8,
    pub sequence: u16,
}

/// Splits an id into its fields; `None` for a number with the sign bit set, which no generator
/// makes (it would be negative as a signed 64-bit integer in other languages).
pub fn decode(id: u64) -> Option<Decoded> {
    if id >> 63 != 0 {
        return None;
    }
    let field = |shift: u32, bits: u32| (id >> shift) & ((1 << bits) - 1);
    Some(Decoded {
        unix_ms: EPOCH_UNIX_MS + (id >> TIMESTAMP_SHIFT),
        datacenter: field(DATACENTER_SHIFT, DATACENTER_BITS) as u8,
        worker: field(WORKER_SHIFT, WORKER_BITS) as u8,
        sequence: field(0, SEQUENCE_BITS) as u16,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn epoch_is_june_first_2021_utc() {
        // 2021-06-01 is 18779 days after 1970-01-01.
        assert_eq!(EPOCH_UNIX_MS, 18_779 * 86_400_000);
    }

    #[test]
    fn known_id_decodes() {
        let slot = WorkerSlot::new(3, 17).unwrap();
        let id = compose(1_000, slot, 42);
        assert_eq!(id, 1_000 << 22 | 3 << 17 | 17 << 12 | 42);
        let d = decode(id).unwrap();
        assert_eq!((d.unix_ms, d.datacenter, d.worker, d.sequence), (EPOCH_UNIX_MS + 1_000, 3, 17, 42));
    }

    #[test]
    fn slots_out_of_range_are_refused() {
        assert!(WorkerSlot::new(32, 0).is_none());
        assert!(WorkerSlot::new(0, 32).is_none());
        assert!(WorkerSlot::from_index(1024).is_none());
        assert_eq!(WorkerSlot::from_index(1023).unwrap(), WorkerSlot::new(31, 31).unwrap());
    }

    #[test]
    fn sign_bit_is_not_an_id() {
        assert!(decode(u64::MAX).is_none());
        assert!(decode(1 << 63).is_none());
    }

    proptest! {
        #[test]
        fn compose_decode_round_trip(ts in 0..=MAX_TIMESTAMP, slot in 0..SLOT_COUNT, seq in 0..=MAX_SEQUENCE) {
            let slot = WorkerSlot::from_index(slot).unwrap();
            let id = compose(ts, slot, seq);
            let d = decode(id).unwrap();
            prop_assert_eq!(d.unix_ms - EPOCH_UNIX_MS, ts);
            prop_assert_eq!(WorkerSlot::new(d.datacenter, d.worker), Some(slot));
            prop_assert_eq!(d.sequence, seq);
            prop_assert!(d.datacenter <= MAX_DATACENTER && d.worker <= MAX_WORKER && d.sequence <= MAX_SEQUENCE);
        }

        #[test]
        fn any_63_bit_number_decodes_within_bits(id in 0..(1u64 << 63)) {
            let d = decode(id).unwrap();
            let slot = WorkerSlot::new(d.datacenter, d.worker).unwrap();
            prop_assert_eq!(compose(d.unix_ms - EPOCH_UNIX_MS, slot, d.sequence), id);
        }
    }
}
