//! Issue ids: one, or `count` of them (1 to [`MAX_COUNT`]), increasing.

use super::truncate;
use crate::issuer::{IdSource, IssueError};

pub const MAX_COUNT: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueIdsError {
    #[error("count must be an integer from 1 to {MAX_COUNT}, got {0:?}")]
    InvalidCount(String),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// How many ids were asked for: `None` is the plain form that answers one id, not a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueIds {
    count: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    One(u64),
    Many(Vec<u64>),
}

impl Issued {
    /// The first id: the only one of [`Issued::One`].
    pub fn first(&self) -> Option<u64> {
        match self {
            Self::One(id) => Some(*id),
            Self::Many(ids) => ids.first().copied(),
        }
    }
}

impl IssueIds {
    /// One id, as the plain and compatibility routes ask.
    pub const ONE: Self = Self { count: None };

    /// `count` as the query string had it: absent, or an integer in `1..=MAX_COUNT`.
    pub fn parse(count: Option<&str>) -> Result<Self, IssueIdsError> {
        let Some(raw) = count else { return Ok(Self::ONE) };
        match raw.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_COUNT).contains(&n) => Ok(Self { count: Some(n) }),
            _ => Err(IssueIdsError::InvalidCount(truncate(raw))),
        }
    }

    pub async fn apply(self, ids: &impl IdSource) -> Result<Issued, IssueIdsError> {
        Ok(match self.count {
            None => Issued::One(ids.next_id().await?),
            Some(n) => Issued::Many(ids.issue(n).await?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::posts::CountingIds;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn counts_are_one_to_the_maximum() {
        assert_eq!(IssueIds::parse(None), Ok(IssueIds::ONE));
        assert_eq!(IssueIds::parse(Some(" 3 ")), Ok(IssueIds { count: Some(3) }));
        assert_eq!(IssueIds::parse(Some("1000")), Ok(IssueIds { count: Some(MAX_COUNT) }));
        for bad in ["0", "1001", "-1", "", "x", "1e3"] {
            assert!(matches!(IssueIds::parse(Some(bad)), Err(IssueIdsError::InvalidCount(_))), "{bad}");
        }
        let long = "9".repeat(100);
        let Err(IssueIdsError::InvalidCount(echo)) = IssueIds::parse(Some(&long)) else { panic!() };
        assert_eq!(echo.len(), 40, "client input is echoed truncated");
    }

    #[tokio::test]
    async fn the_plain_form_is_one_id_and_a_count_a_list() {
        let ids = CountingIds(AtomicU64::new(10));
        assert_eq!(IssueIds::ONE.apply(&ids).await, Ok(Issued::One(10)));
        assert_eq!(IssueIds::parse(Some("3")).unwrap().apply(&ids).await, Ok(Issued::Many(vec![11, 12, 13])));
    }
}
