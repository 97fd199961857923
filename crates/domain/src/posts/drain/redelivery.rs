//! When a failed message is delivered again: sooner than the queue's visibility timeout, so a
//! permanent failure reaches the dead-letter queue in seconds and a transient one is retried
//! after a growing pause.

use crate::posts::QueueError;
use std::future::Future;

/// Makes failed messages visible again early (SQS ChangeMessageVisibility).
pub trait Redeliveries: Send + Sync {
    /// Each `(receipt handle, seconds)`: the message is delivered again after that delay.
    fn redeliver(&self, after: &[(String, u32)]) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// Longest wait before a transiently failed message is tried again.
pub const MAX_RETRY_DELAY_S: u32 = 16;

/// When a failed message is tried again: a permanent failure at once (no attempt can succeed,
/// so it goes on to the dead-letter queue without waiting), a transient one after a delay that
/// doubles with each receive (1, 2, 4 ... [`MAX_RETRY_DELAY_S`] s).
pub fn retry_delay_s(permanent: bool, receive_count: u32) -> u32 {
    if permanent {
        return 0;
    }
    1u32.checked_shl(receive_count.saturating_sub(1)).unwrap_or(u32::MAX).min(MAX_RETRY_DELAY_S)
}

/// The pauses between list-update tries: 2, 6, then 20 s, so the last try comes about 28 s
/// after the first. An unreachable node is an outage (seconds, a restart or a hang) and then
/// 5 s more during which every instance's breaker skips it; the 1, 2, 4 s of a table retry
/// spanned 7 s, which a 4 s hang plus the breaker outlasted, and a drain killed mid-batch
/// spends one of the receives too.
pub fn list_retry_delay_s(receive_count: u32) -> u32 {
    match receive_count {
        0 | 1 => 2,
        2 => 6,
        _ => 20,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_messages_come_back_early() {
        assert_eq!(retry_delay_s(true, 1), 0);
        assert_eq!(retry_delay_s(true, 9), 0);
        let transient: Vec<u32> = (0..=7).map(|n| retry_delay_s(false, n)).collect();
        assert_eq!(transient, [1, 1, 2, 4, 8, 16, 16, 16]);
        assert_eq!(retry_delay_s(false, u32::MAX), MAX_RETRY_DELAY_S);
    }
}
