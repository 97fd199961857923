//! What to do with a dead letter: a message the drain failed `maxReceiveCount` times.
//!
//! A message that can never become a post is parked at once, with the reason. Any other failure
//! is taken as transient (the table throttled or was down): the message goes back to the posts
//! queue with an exponentially growing delay (SQS `DelaySeconds`, at most 900 s), its attempt
//! count carried in the `attempt` message attribute, up to [`MAX_ATTEMPTS`] (Sidekiq's default,
//! the reference's queue); after that it is parked too. Nothing is ever dropped: parking is a
//! write to the parked table, and a message whose park or re-send fails is reported failed so
//! SQS delivers it again.

use super::message::decode;
use std::collections::HashMap;
use std::future::Future;

pub const MAX_ATTEMPTS: u32 = 25;
pub const MAX_DELAY_S: u32 = 900;

/// A dead letter as the handler sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetter {
    pub message_id: String,
    pub body: String,
    /// String message attributes (`attempt`, `trace_id`, `original_message_id`).
    pub attributes: HashMap<String, String>,
    /// The `AWSTraceHeader` system attribute, kept when the message goes back.
    pub trace_header: Option<String>,
}

impl DeadLetter {
    pub fn attempt(&self) -> u32 {
        self.attributes.get("attempt").and_then(|a| a.parse().ok()).unwrap_or(0)
    }

    /// The trace id the post was written under ([`super::Trace`]), or `""`.
    pub fn trace_id(&self) -> &str {
        self.attributes.get(super::TRACE_ATTRIBUTE).map_or("", String::as_str)
    }

    /// The id the message had when it first reached the dead-letter queue: re-sends get new
    /// ids, parking and logs use this one.
    pub fn original_id(&self) -> &str {
        self.attributes.get("original_message_id").map_or(&self.message_id, String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Retry { attempt: u32, delay_s: u32 },
    Park { reason: String, attempts: u32 },
}

/// The delay before attempt `n` (1-based): 5 s, 10 s, 20 s, ... capped at 900 s.
pub fn delay_for(attempt: u32) -> u32 {
    5u32.saturating_mul(1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX)).min(MAX_DELAY_S)
}

pub fn decide(letter: &DeadLetter) -> Action {
    if let Err(reason) = decode(&letter.body) {
        return Action::Park { reason: format!("permanent: {reason}"), attempts: letter.attempt() };
    }
    let attempt = letter.attempt() + 1;
    if attempt > MAX_ATTEMPTS {
        return Action::Park {
            reason: format!("out of attempts ({MAX_ATTEMPTS})"),
            attempts: letter.attempt(),
        };
    }
    Action::Retry { attempt, delay_s: delay_for(attempt) }
}

/// A parked message, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    pub id: String,
    pub reason: String,
    pub body: String,
    pub attributes: HashMap<String, String>,
    pub attempts: u32,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeadLetterError(pub String);

/// Where messages go back to (the posts queue), and where they are parked (a table).
pub trait Requeue: Send + Sync {
    fn send(
        &self,
        letter: &DeadLetter,
        attempt: u32,
        delay_s: u32,
    ) -> impl Future<Output = Result<(), DeadLetterError>> + Send;
}

pub trait ParkedStore: Send + Sync {
    /// Stores (or refreshes `last_seen`, `reason` and `attempts` of) a parked message.
    fn park(
        &self,
        letter: &DeadLetter,
        reason: &str,
        attempts: u32,
        now: &str,
    ) -> impl Future<Output = Result<(), DeadLetterError>> + Send;
}

impl<T: Requeue> Requeue for &T {
    async fn send(&self, letter: &DeadLetter, attempt: u32, delay_s: u32) -> Result<(), DeadLetterError> {
        (**self).send(letter, attempt, delay_s).await
    }
}

impl<T: ParkedStore> ParkedStore for &T {
    async fn park(
        &self,
        letter: &DeadLetter,
        reason: &str,
        attempts: u32,
        now: &str,
    ) -> Result<(), DeadLetterError> {
        (**self).park(letter, reason, attempts, now).await
    }
}

/// Handles one dead letter: re-send or park. `Err` means SQS should deliver it again.
pub async fn handle<Q: Requeue, P: ParkedStore>(
    queue: &Q,
    parked: &P,
    letter: &DeadLetter,
    now: &str,
) -> Result<Action, DeadLetterError> {
    let action = decide(letter);
    match &action {
        Action::Retry { attempt, delay_s } => queue.send(letter, *attempt, *delay_s).await?,
        Action::Park { reason, attempts } => parked.park(letter, reason, *attempts, now).await?,
    }
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST: &str = r#"{"v":1,"post":{"user_id":"u","post_id":"725617227714740224","contents":"c","url":null,"scrap":null,"created_at":""}}"#;

    fn letter(body: &str, attempt: Option<u32>) -> DeadLetter {
        let mut attributes = HashMap::new();
        if let Some(a) = attempt {
            attributes.insert("attempt".to_owned(), a.to_string());
        }
        DeadLetter { message_id: "m1".into(), body: body.into(), attributes, trace_header: None }
    }

    #[test]
    fn delays_grow_and_cap() {
        let delays: Vec<u32> = (1..=10).map(delay_for).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 900, 900]);
        assert_eq!(delay_for(40), 900);
    }

    #[test]
    fn transient_failures_go_back_until_out_of_attempts() {
        assert_eq!(decide(&letter(POST, None)), Action::Retry { attempt: 1, delay_s: 5 });
        assert_eq!(decide(&letter(POST, Some(3))), Action::Retry { attempt: 4, delay_s: 40 });
        assert!(matches!(decide(&letter(POST, Some(25))), Action::Park { attempts: 25, .. }));
    }

    #[test]
    fn malformed_messages_are_parked_at_once_with_the_reason() {
        match decide(&letter("{oops", None)) {
            Action::Park { reason, attempts } => {
                assert!(reason.starts_with("permanent:"), "{reason}");
                assert_eq!(attempts, 0);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_original_id_survives_resends() {
        let mut l = letter(POST, Some(2));
        assert_eq!(l.original_id(), "m1");
        l.attributes.insert("original_message_id".into(), "first".into());
        assert_eq!(l.original_id(), "first");
    }
}
