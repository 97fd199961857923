//! Ids per second of one generator on the system clock, against the layout's cap of
//! 4,096 ids per millisecond (4,096,000/s): a generator can do no better than the cap, so the
//! figure to read is the fraction of it reached. A second group, on a clock that never repeats a
//! millisecond, shows the raw cost of an id without the wait for the next millisecond.
//!
//! Baseline, in the same run: the reference service's approach (the sequence reset to 0 on every
//! call), which is fast per call but hands out one distinct id per millisecond; the bench prints
//! how many of its ids were distinct.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use snowflake::{Clock, Generator, SystemClock, WorkerSlot};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

const BATCH: u64 = 100_000;

/// A clock that moves one millisecond per read: no generator ever waits on it.
struct RacingClock(AtomicU64);

impl Clock for RacingClock {
    fn now_ms(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

fn generator(c: &mut Criterion) {
    let slot = WorkerSlot::new(1, 1).unwrap_or_else(|| unreachable!());
    let mut group = c.benchmark_group("snowflake");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(30);

    let mut g = Generator::new(slot, 0, u64::MAX, 10);
    group.bench_function("system_clock_100k_ids", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(g.next_id(&SystemClock).ok());
            }
        })
    });

    let racing = RacingClock(AtomicU64::new(snowflake::EPOCH_UNIX_MS + 1));
    let mut g = Generator::new(slot, 0, u64::MAX, 10);
    group.bench_function("uncapped_clock_100k_ids", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(g.next_id(&racing).ok());
            }
        })
    });

    let mut reference = ReferenceGenerator { slot_bits: 1 << 17 | 1 << 12 };
    group.bench_function("reference_sequence_reset_100k_calls", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(reference.next_id());
            }
        })
    });
    group.finish();

    let calls = 1_000_000;
    let mut ids: Vec<u64> = (0..calls).map(|_| reference.next_id()).collect();
    ids.dedup();
    println!(
        "reference approach: {} distinct ids in {calls} calls (1 in {})",
        ids.len(),
        calls / ids.len().max(1)
    );
}

/// The reference's generator: timestamp and worker bits, and a sequence reset to 0 on every call.
struct ReferenceGenerator {
    slot_bits: u64,
}

impl ReferenceGenerator {
    fn next_id(&mut self) -> u64 {
        let ms = SystemClock.now_ms() - snowflake::EPOCH_UNIX_MS;
        ms << 22 | self.slot_bits
    }
}

criterion_group!(benches, generator);
criterion_main!(benches);
