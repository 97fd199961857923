//! Domain errors as the one error body, mapped here only: the same error gets the same status,
//! code and `Retry-After` in every function that can meet it (guid and post-write both issue
//! ids, so both answer an issuing failure alike). One `From` impl per operation's error
//! (`domain::ops`); they live here, beside `ApiError`, because Rust lets a `From` between two
//! crates' types live only in one of theirs.

use crate::http::ApiError;
use domain::ops::decode_id::InvalidId;
use domain::ops::issue_ids::IssueIdsError;
use domain::ops::preview_link::PreviewLinkError;
use domain::ops::read_posts::ReadPostsError;
use domain::ops::write_post::WritePostError;
use domain::posts::Validation;
use domain::posts::write::WriteError;
use domain::preview::link::LinkError;
use domain::preview::{FetchError, PreviewError};
use domain::{IssueError, LeaseError};
use lambda_http::http::StatusCode;
use snowflake::IdError;

/// A request that breaks a rule of the domain's: 400 with the rule's code.
impl From<Validation> for ApiError {
    fn from(v: Validation) -> Self {
        ApiError::bad_request(v.code, v.message)
    }
}

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

impl From<IssueIdsError> for ApiError {
    fn from(e: IssueIdsError) -> Self {
        match e {
            IssueIdsError::InvalidCount(_) => ApiError::bad_request("invalid_count", e.to_string()),
            IssueIdsError::Issue(e) => e.into(),
        }
    }
}

impl From<InvalidId> for ApiError {
    fn from(e: InvalidId) -> Self {
        ApiError::bad_request("invalid_id", e.to_string())
    }
}

impl From<WritePostError> for ApiError {
    fn from(e: WritePostError) -> Self {
        let message = e.to_string();
        match e {
            WritePostError::BodyTooLarge => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", message)
            }
            WritePostError::NotJson(_) => ApiError::bad_request("invalid_json", message),
            WritePostError::BadShape(_) => ApiError::bad_request("invalid_body", message),
            WritePostError::Unauthenticated => ApiError::unauthorized(),
            WritePostError::Invalid(v) => v.into(),
            WritePostError::OtherAuthor => ApiError::forbidden(message),
            WritePostError::InvalidKey => ApiError::bad_request("invalid_idempotency_key", message),
            WritePostError::KeyReused => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused", message)
            }
            WritePostError::InProgress => {
                ApiError::new(StatusCode::CONFLICT, "request_in_progress", message).with_retry_after(1)
            }
            WritePostError::Records(e) => {
                ApiError::unavailable("idempotency_unavailable", "retry shortly", e)
            }
            WritePostError::Write(e) => e.into(),
        }
    }
}

impl From<ReadPostsError> for ApiError {
    fn from(e: ReadPostsError) -> Self {
        match e {
            ReadPostsError::Invalid(v) => v.into(),
            ReadPostsError::Unavailable(e) => {
                ApiError::unavailable("table_unavailable", "posts cannot be read now; retry shortly", e)
                    .with_retry_after(1)
            }
        }
    }
}

/// A page that cannot be previewed is the page's failure (502, 504), not ours.
impl From<PreviewLinkError> for ApiError {
    fn from(e: PreviewLinkError) -> Self {
        let bad_gateway = |code, message: String| ApiError::new(StatusCode::BAD_GATEWAY, code, message);
        let message = e.to_string();
        match e {
            PreviewLinkError::MissingUrl => ApiError::bad_request("invalid_url", message),
            PreviewLinkError::Limited { retry_after_s } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
                    .with_retry_after(retry_after_s)
            }
            PreviewLinkError::Preview(PreviewError::Link(LinkError::Invalid(m))) => {
                ApiError::bad_request("invalid_url", m)
            }
            PreviewLinkError::Preview(
                PreviewError::Link(LinkError::NotAllowed(m)) | PreviewError::Fetch(FetchError::NotAllowed(m)),
            ) => ApiError::bad_request("url_not_allowed", m),
            PreviewLinkError::Preview(PreviewError::Fetch(FetchError::Timeout)) => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                "the page did not answer in time",
            ),
            PreviewLinkError::Preview(PreviewError::Fetch(FetchError::Status(s))) => {
                bad_gateway("upstream_status", format!("the page answered {s}"))
            }
            PreviewLinkError::Preview(PreviewError::Fetch(FetchError::TooManyRedirects(n))) => {
                bad_gateway("too_many_redirects", format!("the page redirected more than {n} times"))
            }
            PreviewLinkError::Preview(PreviewError::Fetch(FetchError::BadRedirect(m))) => {
                bad_gateway("bad_redirect", format!("the page redirected to an unusable location: {m}"))
            }
            PreviewLinkError::Preview(PreviewError::Fetch(FetchError::Unreachable(detail))) => {
                tracing::info!(detail, "page unreachable");
                bad_gateway("upstream_unreachable", "the page could not be reached".to_owned())
            }
        }
    }
}

/// Why an SQS function fails a batch whole instead of reporting its failed messages: Lambda
/// then retries every message of it (writing is idempotent), which is better than one deleted
/// unhandled. Both SQS functions meet it, and report it to the runtime alike.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("record {index} of the batch has no message id; the whole batch is retried")]
    MissingMessageId { index: usize },
}

/// The runtime reports `error_type` to Lambda (and the function's error metrics and logs).
impl From<BatchError> for lambda_http::lambda_runtime::Diagnostic {
    fn from(e: BatchError) -> Self {
        let error_type = match e {
            BatchError::MissingMessageId { .. } => "MissingMessageId",
        };
        Self { error_type: error_type.into(), error_message: e.to_string() }
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
    fn a_batch_failure_reaches_the_runtime_with_its_own_type() {
        let d: lambda_http::lambda_runtime::Diagnostic = BatchError::MissingMessageId { index: 3 }.into();
        assert_eq!(d.error_type, "MissingMessageId");
        assert!(d.error_message.starts_with("record 3 "), "{}", d.error_message);
    }

    #[test]
    fn details_stay_in_the_log() {
        let e: ApiError = IssueError::Lease(LeaseError::Unavailable("secret endpoint".into())).into();
        assert!(!e.message.contains("secret"), "{}", e.message);
    }
}
