//! The operations the functions offer, one module each, all of one shape (after mini-redis's
//! `cmd/`): a transport-neutral input that `parse` builds from what the request carried and
//! checks, `apply` that does the work over the ports it names, and a typed outcome or error.
//! A handler only parses, calls and maps: routing is `chassis::routes`, every error's HTTP
//! answer is `chassis::errors`, so a new operation is one module here, one route and one
//! `From` impl (docs/architecture.md walks through one).
//!
//! | operation | function | input | outcome | error |
//! |---|---|---|---|---|
//! | [`issue_ids`] | guid | `count` | [`issue_ids::Issued`] | [`issue_ids::IssueIdsError`] |
//! | [`decode_id`] | guid | the id | [`decode_id::DecodedId`] | [`decode_id::InvalidId`] |
//! | [`preview_link`] | scrap | `url`, the caller | `Preview` | [`preview_link::PreviewLinkError`] |
//! | [`write_post`] | post-write | body, author, `Idempotency-Key` | [`write_post::Written`] | [`write_post::WritePostError`] |
//! | [`read_posts`] | post-read | user, cursor, limit | `Page` | [`read_posts::ReadPostsError`] |
//!
//! The SQS functions' operations are [`crate::posts::drain::drain`] (persist a batch) and
//! [`crate::posts::dead_letter::handle`] (retry or park dead letters): their input is a batch
//! the runtime already parsed, their outcome the batch's failures.

pub mod decode_id;
pub mod issue_ids;
pub mod preview_link;
pub mod read_posts;
pub mod write_post;

/// Echoes at most 40 characters of client input in messages.
pub(crate) fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}
