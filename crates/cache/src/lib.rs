//! Cache sharding, free of any Redis client: which node holds a key.
//!
//! - [`ring`]: a ketama-style consistent-hash ring; adding or removing a node moves only that
//!   node's share of the keys.
//!
//! The key scheme lives in `domain::keys`, beside the rules that use the keys.

pub mod ring;

pub use ring::Ring;
