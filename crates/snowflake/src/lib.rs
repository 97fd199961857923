//! 64-bit Snowflake ids, the layout of the reference service:
//!
//! ```text
//!  63   62 ............... 22  21 .. 17  16 .. 12  11 ...... 0
//!  0  | ms since 2021-06-01Z | datacenter | worker |  sequence
//!       41 bits                 5 bits      5 bits    12 bits
//! ```
//!
//! - [`layout`]: composing and decoding ids, the worker slot numbering.
//! - [`generator`]: a per-worker generator that never repeats an id, not even when the clock
//!   steps backwards or a worker id moves to another host.
//! - [`clock`]: the clock the generator reads, injected so tests can move time by hand.
//!
//! The crate is pure (std only): leasing a worker id is the caller's business.

pub mod clock;
pub mod generator;
pub mod layout;

pub use clock::{Clock, SystemClock};
pub use generator::{Generator, IdError};
pub use layout::{Decoded, EPOCH_UNIX_MS, WorkerSlot, decode};
