//! Preview a link for a caller: the call counts against the caller's rate limit first (a
//! limiter that cannot answer allows it: `preview::admit`), then the preview service answers,
//! cache first. The scrap function answers with it; the post writer runs the same step inside
//! its time budget, so both meet the limit and the cache alike.

use crate::preview::{LinkPreviews, Preview, PreviewError, RateDecision, RateLimiter, admit};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreviewLinkError {
    #[error("the url query parameter is required")]
    MissingUrl,
    #[error("too many previews asked for; retry in {retry_after_s} s")]
    Limited { retry_after_s: u64 },
    #[error(transparent)]
    Preview(#[from] PreviewError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewLink<'a> {
    url: &'a str,
    /// Whose limit the call counts against (`user:<sub>` or `ip:<address>`).
    caller: &'a str,
}

impl<'a> PreviewLink<'a> {
    /// The link is checked (scheme, length, address) by the preview service itself.
    pub fn parse(url: Option<&'a str>, caller: &'a str) -> Result<Self, PreviewLinkError> {
        Ok(Self::new(url.ok_or(PreviewLinkError::MissingUrl)?, caller))
    }

    pub fn new(url: &'a str, caller: &'a str) -> Self {
        Self { url, caller }
    }

    pub async fn apply(
        &self,
        previews: &impl LinkPreviews,
        limiter: &impl RateLimiter,
        now_ms: u64,
    ) -> Result<Preview, PreviewLinkError> {
        if let RateDecision::Limited { retry_after_s } = admit(limiter, self.caller, now_ms).await {
            return Err(PreviewLinkError::Limited { retry_after_s });
        }
        Ok(previews.preview(self.url).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheError;
    use crate::fakes::{FakeFetcher, FixedLimiter, MemoryCache};
    use crate::preview::{PreviewConfig, PreviewService};

    fn service() -> PreviewService<FakeFetcher, MemoryCache> {
        let page = "<html><head><title>T</title></head></html>";
        let fetcher = FakeFetcher::default().page("https://example.com/", page);
        PreviewService::new(fetcher, MemoryCache::default(), PreviewConfig::default())
    }

    #[tokio::test]
    async fn the_limit_comes_first_and_a_limiter_down_allows() {
        let link = PreviewLink::parse(Some("https://example.com/"), "ip:1.2.3.4").unwrap();
        let limited = FixedLimiter(Ok(RateDecision::Limited { retry_after_s: 7 }));
        assert_eq!(
            link.apply(&service(), &limited, 0).await,
            Err(PreviewLinkError::Limited { retry_after_s: 7 })
        );
        let down = FixedLimiter(Err(CacheError("down".into())));
        let preview = link.apply(&service(), &down, 0).await.unwrap();
        assert_eq!(preview.title.as_deref(), Some("T"));
    }

    #[test]
    fn a_url_is_required() {
        assert_eq!(PreviewLink::parse(None, "ip:x"), Err(PreviewLinkError::MissingUrl));
    }
}
