//! Read a user's posts, newest first, a page at a time (`posts::read`: cache first, the table
//! behind it). Cursors are exclusive: a page holds the posts older than the cursor.

use crate::posts::model::{check_user_id, parse_id, parse_limit};
use crate::posts::read::{Page, PostPages};
use crate::posts::{StoreError, Validation};

/// The reference's page size (its read route takes no limit).
pub const COMPAT_PAGE: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadPostsError {
    #[error(transparent)]
    Invalid(#[from] Validation),
    #[error(transparent)]
    Unavailable(StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPosts<'a> {
    user_id: &'a str,
    cursor: Option<u64>,
    limit: usize,
}

impl<'a> ReadPosts<'a> {
    /// `GET /v1/users/{user_id}/posts?cursor=&limit=`: the first rule broken, in that order.
    pub fn parse(
        user_id: &'a str,
        cursor: Option<&str>,
        limit: Option<&str>,
    ) -> Result<Self, ReadPostsError> {
        check_user_id(user_id)?;
        let cursor = cursor.map(|c| parse_id(c, "invalid_cursor")).transpose()?;
        Ok(Self { user_id, cursor, limit: parse_limit(limit)? })
    }

    /// The reference's `GET /api/v1/posts/{uid}?f=<last post id>`: an empty `f` is the first page.
    pub fn compat(user_id: &'a str, f: Option<&str>) -> Result<Self, ReadPostsError> {
        check_user_id(user_id)?;
        let cursor = f.filter(|f| !f.is_empty()).map(|c| parse_id(c, "invalid_cursor")).transpose()?;
        Ok(Self { user_id, cursor, limit: COMPAT_PAGE })
    }

    pub async fn apply(&self, reader: &impl PostPages, now_ms: u64) -> Result<Page, ReadPostsError> {
        reader.page(self.user_id, self.cursor, self.limit, now_ms).await.map_err(ReadPostsError::Unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: ReadPostsError) -> &'static str {
        match e {
            ReadPostsError::Invalid(v) => v.code,
            ReadPostsError::Unavailable(_) => "unavailable",
        }
    }

    #[test]
    fn the_first_broken_rule_is_the_answer() {
        assert_eq!(ReadPosts::parse("a b", Some("x"), Some("0")).map_err(code), Err("invalid_user_id"));
        assert_eq!(ReadPosts::parse("42", Some("x"), Some("0")).map_err(code), Err("invalid_cursor"));
        assert_eq!(ReadPosts::parse("42", None, Some("0")).map_err(code), Err("invalid_limit"));
        let read = ReadPosts::parse("42", Some("7"), None).unwrap();
        assert_eq!((read.cursor, read.limit), (Some(7), 10));
    }

    #[test]
    fn the_reference_route_pages_by_ten_and_an_empty_cursor_is_the_start() {
        let read = ReadPosts::compat("42", Some("")).unwrap();
        assert_eq!((read.cursor, read.limit), (None, COMPAT_PAGE));
        assert_eq!(ReadPosts::compat("42", Some("x")).map_err(code), Err("invalid_cursor"));
    }
}
