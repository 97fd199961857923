//! The dead-letter handler's ports in memory: what was sent back to the posts queue and what
//! was parked, or both down at once.

use crate::posts::dead_letter::{DeadLetter, DeadLetterError, ParkedStore, Requeue};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub struct MemoryDeadLetters {
    /// (original message id, attempt, delay in seconds) of each re-send.
    pub sent: Mutex<Vec<(String, u32, u32)>>,
    /// (original message id, reason) of each parked letter.
    pub parked: Mutex<Vec<(String, String)>>,
    /// Makes the queue and the table fail.
    pub down: AtomicBool,
}

impl MemoryDeadLetters {
    fn check(&self, what: &str) -> Result<(), DeadLetterError> {
        if self.down.load(Ordering::SeqCst) { Err(DeadLetterError(format!("{what} down"))) } else { Ok(()) }
    }
}

impl Requeue for MemoryDeadLetters {
    async fn send(&self, letter: &DeadLetter, attempt: u32, delay_s: u32) -> Result<(), DeadLetterError> {
        self.check("queue")?;
        let mut sent = self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        sent.push((letter.original_id().to_owned(), attempt, delay_s));
        Ok(())
    }
}

impl ParkedStore for MemoryDeadLetters {
    async fn park(&self, letter: &DeadLetter, reason: &str, _: u32, _: &str) -> Result<(), DeadLetterError> {
        self.check("table")?;
        let mut parked = self.parked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        parked.push((letter.original_id().to_owned(), reason.to_owned()));
        Ok(())
    }
}
