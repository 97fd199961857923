//! Write a post: the body checked, its author the signed-in caller, then the writer (id,
//! preview, queue, cache: `posts::write`). With an `Idempotency-Key` the write runs inside the
//! idempotency protocol (`posts::idempotency`): the key is claimed under a post id chosen
//! first, an unfinished earlier claim's id is adopted, the answer is recorded on success, and
//! the claim is expired (not deleted) on failure, since a failed send may still have reached
//! the queue and its retry must write under the same id.

use crate::posts::idempotency::{self, Decision, IdempotencyStore, RECORD_TTL_S, RecordsError};
use crate::posts::write::{PostWrites, WriteError};
use crate::posts::{NewPost, Post, PostInput, Trace, Validation};

/// The largest body a write takes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_IDEMPOTENCY_KEY: usize = 255;
/// How long a claimed key stays in progress when the invocation's deadline is unknown (tests):
/// beyond the function's timeout, so a live request is never run twice.
const IN_PROGRESS_MS: u64 = 60_000;
/// Kept beyond the deadline for clock differences between functions.
const DEADLINE_SLACK_MS: u64 = 1_000;
/// Keys are scoped to the operation, so another operation's key never replays a write.
const KEY_SCOPE: &str = "POST /v1/posts";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WritePostError {
    #[error("the body must be at most {MAX_BODY_BYTES} bytes")]
    BodyTooLarge,
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body must be a JSON object {{\"user_id\", \"contents\", \"url\"?}}: {0}")]
    BadShape(String),
    /// No verified caller: API Gateway's authorizer refuses such requests first; this is the
    /// operation's own check, in case a route lost its authorizer.
    #[error("sign in: send Authorization: Bearer <token>")]
    Unauthenticated,
    #[error(transparent)]
    Invalid(#[from] Validation),
    #[error("posts are written as the signed-in user; user_id names someone else")]
    OtherAuthor,
    #[error("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters")]
    InvalidKey,
    #[error("this Idempotency-Key was used with another request body")]
    KeyReused,
    #[error("a request with this Idempotency-Key is still running; retry shortly")]
    InProgress,
    #[error(transparent)]
    Records(RecordsError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// A checked write: the post to make, the hash of the request that asked for it, and its
/// scoped idempotency key, if it carried one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePost {
    new: NewPost,
    request_hash: String,
    key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Created(Box<Post>),
    /// A retry of a request already answered: its recorded answer.
    Replayed {
        status: u16,
        body: String,
    },
}

/// When the invocation runs: a claim lasts until its deadline (Lambda ends it there), so a
/// crashed or killed one blocks its key's retries for seconds, not a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invocation {
    pub now_ms: u64,
    pub deadline_ms: Option<u64>,
}

impl Invocation {
    fn in_progress_ms(self) -> u64 {
        self.deadline_ms.filter(|deadline| *deadline > self.now_ms).map_or(IN_PROGRESS_MS, |deadline| {
            (deadline - self.now_ms + DEADLINE_SLACK_MS).min(IN_PROGRESS_MS)
        })
    }
}

impl WritePost {
    /// `POST /v1/posts`: the body as sent, the verified caller, the `Idempotency-Key` header's
    /// bytes. Checked in this order: size, JSON, shape, caller, the post's rules (400 whoever it
    /// names), then its author (403), then the key.
    pub fn parse(body: &[u8], author: Option<&str>, key: Option<&[u8]>) -> Result<Self, WritePostError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(WritePostError::BodyTooLarge);
        }
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| WritePostError::NotJson(e.to_string()))?;
        // serde would read a struct from an array too; only an object is a post.
        if !value.is_object() {
            return Err(WritePostError::BadShape("got another JSON type".into()));
        }
        let input: PostInput =
            serde_json::from_value(value).map_err(|e| WritePostError::BadShape(e.to_string()))?;
        let author = author.ok_or(WritePostError::Unauthenticated)?;
        let request_hash = idempotency::hash(&[author, &input.contents, input.url.as_deref().unwrap_or("")]);
        let new = as_author(input, author)?;
        let key = key.map(check_key).transpose()?.map(|k| idempotency::hash(&[KEY_SCOPE, &new.user_id, k]));
        Ok(Self { new, request_hash, key })
    }

    /// The reference's write-by-GET: the user from the path, contents and link from the query.
    pub fn compat(
        user_id: &str,
        contents: Option<&str>,
        url: Option<&str>,
        author: Option<&str>,
    ) -> Result<Self, WritePostError> {
        let author = author.ok_or(WritePostError::Unauthenticated)?;
        let input = PostInput {
            user_id: Some(user_id.to_owned()),
            contents: contents.unwrap_or_default().to_owned(),
            url: url.map(str::to_owned),
        };
        Ok(Self { new: as_author(input, author)?, request_hash: String::new(), key: None })
    }

    pub async fn apply(
        self,
        writer: &impl PostWrites,
        records: &impl IdempotencyStore,
        at: Invocation,
        trace: &Trace,
    ) -> Result<Written, WritePostError> {
        // The id is chosen first; with a key, it is recorded with the claim (posts::idempotency).
        let offered = writer.reserve_id().await?;
        let Some(key) = self.key else {
            return Ok(Written::Created(Box::new(writer.write_as(self.new, offered, trace).await?)));
        };
        let hash = &self.request_hash;
        let decision = idempotency::decide(records, &key, hash, offered, at.now_ms, at.in_progress_ms())
            .await
            .map_err(WritePostError::Records)?;
        let post_id = match decision {
            Decision::Replay { status, body } => return Ok(Written::Replayed { status, body }),
            Decision::KeyReused => return Err(WritePostError::KeyReused),
            Decision::InProgress => return Err(WritePostError::InProgress),
            Decision::Run { post_id } => post_id,
        };
        match writer.write_as(self.new, post_id, trace).await {
            Ok(post) => {
                let expires_at_s = at.now_ms / 1_000 + RECORD_TTL_S;
                let recorded = match serde_json::to_string(&post) {
                    Ok(body) => records.complete(&key, hash, 201, &body, expires_at_s).await,
                    Err(e) => Err(RecordsError(e.to_string())),
                };
                if let Err(e) = recorded {
                    // The post is accepted; a retry inside the claim is told to wait, a later
                    // one runs again under the same post id: the same post, not another.
                    tracing::error!(error = %e, post_id = post.post_id, "idempotency record not completed");
                }
                Ok(Written::Created(Box::new(post)))
            }
            Err(e) => {
                // The send may have been accepted all the same (a timeout, a lost answer): the
                // retry writes under this post id, at once rather than after the claim ran out.
                if let Err(expire) = records.expire(&key, post_id).await {
                    tracing::warn!(error = %expire, "idempotency claim not expired");
                }
                Err(e.into())
            }
        }
    }
}

/// The post `author` asked for. A malformed request is refused whoever it names; a well-formed
/// one naming someone else is [`WritePostError::OtherAuthor`].
fn as_author(input: PostInput, author: &str) -> Result<NewPost, WritePostError> {
    let someone_else = input.names_other_user(author);
    let new = input.validate(author)?;
    if someone_else {
        return Err(WritePostError::OtherAuthor);
    }
    Ok(new)
}

/// A header value as HTTP allows it (visible ASCII, spaces and tabs), trimmed, 1 to 255 long.
fn check_key(raw: &[u8]) -> Result<&str, WritePostError> {
    let visible = raw.iter().all(|b| *b == b'\t' || (b' '..=b'~').contains(b));
    let key = std::str::from_utf8(raw).ok().filter(|_| visible).ok_or(WritePostError::InvalidKey)?;
    match key.trim() {
        k if !k.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY => Ok(k),
        _ => Err(WritePostError::InvalidKey),
    }
}

#[cfg(test)]
mod tests;
