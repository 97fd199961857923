//! Domain errors as the one error body, mapped here only: the same error gets the same status,
//! code and `Retry-After` in every function that can meet it (guid and post-write both issue
//! ids, so both answer an issuing failure alike).

use crate::http::ApiError;
use domain::posts::write::WriteError;
use domain::{IssueError, LeaseError};
use snowflake::IdError;

/// Every id-issuing failure is temporary: 503 with `Retry-After: 1`.
impl From<IssueError> for ApiError {
    fn from(e: IssueError) -> Self {
        let (code, message) = match &e {
            IssueError::Lease(LeaseError::AllTaken(n)) => {
                ("no_worker_id", format!("all {n} worker ids are in use; retry shortly"))
            }
            IssueError::Lease(_) => {
                ("lease_unavailable", "the worker id lease could not be confirmed; retry shortly".to_owned())
            }
            IssueError::Clock(IdError::ClockBehind { .. }) => {
                ("clock_behind", "the clock stepped backwards; retry shortly".to_owned())
            }
            IssueError::Clock(_) => {
                ("clock_unusable", "no id can be made at this time; retry shortly".to_owned())
            }
        };
        ApiError::unavailable(code, message, &e).with_retry_after(1)
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Ids(e) => e.into(),
            WriteError::Queue(e) => {
                ApiError::unavailable("queue_unavailable", "the post could not be accepted; retry shortly", e)
                    .with_retry_after(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::posts::QueueError;

    fn answer(e: impl Into<ApiError>) -> (u16, &'static str, Option<u64>) {
        let e = e.into();
        (e.status.as_u16(), e.code, e.retry_after_s)
    }

    #[test]
    fn issuing_failures_answer_the_same_wherever_they_happen() {
        let cases = [
            (IssueError::Lease(LeaseError::AllTaken(1024)), "no_worker_id"),
            (IssueError::Lease(LeaseError::Unavailable("timeout".into())), "lease_unavailable"),
            (IssueError::Lease(LeaseError::Lost(7)), "lease_unavailable"),
            (IssueError::Clock(IdError::ClockBehind { behind_ms: 9 }), "clock_behind"),
            (IssueError::Clock(IdError::LeaseEnded), "clock_unusable"),
            (IssueError::Clock(IdError::ClockOutOfRange), "clock_unusable"),
        ];
        for (e, code) in cases {
            // guid meets an IssueError itself; post-write meets it inside a WriteError.
            assert_eq!(answer(e.clone()), (503, code, Some(1)), "{e}");
            assert_eq!(answer(WriteError::Ids(e.clone())), (503, code, Some(1)), "{e}");
        }
        assert_eq!(
            answer(WriteError::Queue(QueueError("refused".into()))),
            (503, "queue_unavailable", Some(1))
        );
    }

    #[test]
    fn details_stay_in_the_log() {
        let e: ApiError = IssueError::Lease(LeaseError::Unavailable("secret endpoint".into())).into();
        assert!(!e.message.contains("secret"), "{}", e.message);
    }
}
