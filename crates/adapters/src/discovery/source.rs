//! The node list callers use: fixed (`CACHE_NODES`) or discovered, cached for an interval and
//! refreshed lazily (see the module header of [`super`]).

use super::{CacheNode, Discover, DiscoveryError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};

/// How long a discovered list is trusted.
#[derive(Debug, Clone, Copy)]
pub struct RefreshConfig {
    /// A list older than this is refreshed on the next call.
    pub interval: Duration,
    /// The API is asked at most once per this, even after `invalidate` or a failure: a burst of
    /// connection errors must not turn into a burst of Describe calls, each up to the SDK timeout.
    pub min_interval: Duration,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        Self { interval: Duration::from_secs(60), min_interval: Duration::from_secs(5) }
    }
}

/// The current node list: fixed, or discovered and refreshed lazily (see the module header).
pub struct NodeSource<D> {
    mode: Mode<D>,
}

enum Mode<D> {
    Fixed(Arc<Vec<CacheNode>>),
    Discovered(Refresher<D>),
}

struct Refresher<D> {
    discoverer: D,
    config: RefreshConfig,
    state: RwLock<State>,
    /// One refresh at a time; the others wait for its result instead of asking again.
    refreshing: Mutex<()>,
    invalidated: AtomicBool,
}

#[derive(Default)]
struct State {
    nodes: Option<Arc<Vec<CacheNode>>>,
    last_attempt: Option<Instant>,
    last_error: Option<DiscoveryError>,
}

enum Check {
    Use(Arc<Vec<CacheNode>>),
    Fail(DiscoveryError),
    Refresh,
}

impl<D: Discover> NodeSource<D> {
    /// `cache_nodes` is `CACHE_NODES` (`host:port,...`): when it names any node it is used as is
    /// and `discoverer` is never called.
    pub fn new(cache_nodes: &str, discoverer: D, config: RefreshConfig) -> Self {
        let fixed: Vec<CacheNode> = cache_nodes
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| CacheNode { primary: s.to_owned(), replica: None })
            .collect();
        if fixed.is_empty() { Self::discovered(discoverer, config) } else { Self::fixed(fixed) }
    }

    pub fn fixed(nodes: Vec<CacheNode>) -> Self {
        Self { mode: Mode::Fixed(Arc::new(nodes)) }
    }

    pub fn discovered(discoverer: D, config: RefreshConfig) -> Self {
        let refresher = Refresher {
            discoverer,
            config,
            state: RwLock::new(State::default()),
            refreshing: Mutex::new(()),
            invalidated: AtomicBool::new(false),
        };
        Self { mode: Mode::Discovered(refresher) }
    }

    /// The current list, refreshed first if it is due. Fails only when no list was ever
    /// discovered. The same `Arc` comes back while the list is unchanged, so callers can
    /// rebuild their ring only when `Arc::ptr_eq` says it changed.
    pub async fn nodes(&self) -> Result<Arc<Vec<CacheNode>>, DiscoveryError> {
        let r = match &self.mode {
            Mode::Fixed(nodes) => return Ok(nodes.clone()),
            Mode::Discovered(r) => r,
        };
        match r.check().await {
            Check::Use(nodes) => return Ok(nodes),
            Check::Fail(e) => return Err(e),
            Check::Refresh => {}
        }
        let _one = r.refreshing.lock().await;
        // Another caller may have refreshed while this one waited for the lock.
        match r.check().await {
            Check::Use(nodes) => return Ok(nodes),
            Check::Fail(e) => return Err(e),
            Check::Refresh => {}
        }
        r.invalidated.store(false, Ordering::Relaxed);
        let result = r.discoverer.discover().await;
        let mut state = r.state.write().await;
        state.last_attempt = Some(Instant::now());
        match (result, state.nodes.clone()) {
            (Ok(fresh), Some(old)) if fresh.is_empty() && !old.is_empty() => {
                tracing::warn!(kept = old.len(), "cache discovery found no nodes; keeping the previous list");
                Ok(old)
            }
            (Ok(fresh), Some(old)) if *old == fresh => Ok(old),
            (Ok(fresh), _) => {
                tracing::info!(nodes = fresh.len(), "cache node list updated");
                let fresh = Arc::new(fresh);
                state.nodes = Some(fresh.clone());
                state.last_error = None;
                Ok(fresh)
            }
            (Err(e), Some(old)) => {
                tracing::warn!(error = %e, kept = old.len(), "cache discovery failed; keeping the previous list");
                Ok(old)
            }
            (Err(e), None) => {
                state.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Asks for a refresh on the next call (after a connection error: the nodes may have
    /// changed). Does nothing for a fixed list.
    pub fn invalidate(&self) {
        if let Mode::Discovered(r) = &self.mode {
            r.invalidated.store(true, Ordering::Relaxed);
        }
    }
}

impl<D> Refresher<D> {
    async fn check(&self) -> Check {
        let state = self.state.read().await;
        let since = state.last_attempt.map(|t| t.elapsed());
        let waited = |d: Duration| since.is_none_or(|s| s >= d);
        let due = match &state.nodes {
            None => waited(self.config.min_interval),
            Some(_) if self.invalidated.load(Ordering::Relaxed) => waited(self.config.min_interval),
            Some(_) => waited(self.config.interval),
        };
        match (&state.nodes, &state.last_error) {
            _ if due => Check::Refresh,
            (Some(nodes), _) => Check::Use(nodes.clone()),
            (None, Some(e)) => Check::Fail(e.clone()),
            // Unreachable in practice (an attempt leaves a list or an error); refresh anyway.
            (None, None) => Check::Refresh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::node;
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicUsize;

    /// Answers from a script, counting calls; a short pause lets concurrent callers overlap.
    #[derive(Default)]
    struct Fake {
        answers: std::sync::Mutex<VecDeque<Result<Vec<CacheNode>, DiscoveryError>>>,
        calls: AtomicUsize,
    }

    impl Fake {
        fn new(answers: Vec<Result<Vec<CacheNode>, DiscoveryError>>) -> Self {
            Self { answers: std::sync::Mutex::new(answers.into()), calls: AtomicUsize::new(0) }
        }
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl Discover for Fake {
        async fn discover(&self) -> Result<Vec<CacheNode>, DiscoveryError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.answers.lock().unwrap().pop_front().unwrap_or_else(|| Err(down()))
        }
    }

    fn down() -> DiscoveryError {
        DiscoveryError::Api { operation: "DescribeReplicationGroups", detail: "down".into() }
    }

    fn list(addrs: &[&str]) -> Vec<CacheNode> {
        addrs.iter().map(|a| node(a, None)).collect()
    }

    const HOUR: Duration = Duration::from_secs(3600);

    fn config(interval: Duration, min_interval: Duration) -> RefreshConfig {
        RefreshConfig { interval, min_interval }
    }

    fn source(fake: Fake, interval: Duration, min_interval: Duration) -> NodeSource<Fake> {
        NodeSource::discovered(fake, config(interval, min_interval))
    }

    fn fake_of(s: &NodeSource<Fake>) -> &Fake {
        match &s.mode {
            Mode::Discovered(r) => &r.discoverer,
            Mode::Fixed(_) => panic!("not discovered"),
        }
    }

    #[tokio::test]
    async fn cache_nodes_override_discovery() {
        let s = NodeSource::new(" a:1, b:2 ,", Fake::new(vec![]), RefreshConfig::default());
        s.invalidate();
        assert_eq!(*s.nodes().await.unwrap(), list(&["a:1", "b:2"]));
        let empty = NodeSource::new(" , ", Fake::new(vec![Ok(list(&["d:1"]))]), RefreshConfig::default());
        assert_eq!(*empty.nodes().await.unwrap(), list(&["d:1"]));
    }

    #[tokio::test]
    async fn a_list_is_reused_within_the_interval_and_concurrent_callers_share_one_call() {
        let s = source(Fake::new(vec![Ok(list(&["a:1"]))]), HOUR, Duration::ZERO);
        let (x, y, z) = tokio::join!(s.nodes(), s.nodes(), s.nodes());
        assert_eq!(*x.unwrap(), list(&["a:1"]));
        assert!(Arc::ptr_eq(&y.unwrap(), &z.unwrap()));
        s.nodes().await.unwrap();
        assert_eq!(fake_of(&s).calls(), 1);
    }

    #[tokio::test]
    async fn an_elapsed_interval_refreshes_and_an_unchanged_list_keeps_its_arc() {
        let answers = vec![Ok(list(&["a:1"])), Ok(list(&["a:1"])), Ok(list(&["a:1", "b:1"]))];
        let s = source(Fake::new(answers), Duration::ZERO, Duration::ZERO);
        let first = s.nodes().await.unwrap();
        assert!(Arc::ptr_eq(&first, &s.nodes().await.unwrap()));
        assert_eq!(*s.nodes().await.unwrap(), list(&["a:1", "b:1"]));
        assert_eq!(fake_of(&s).calls(), 3);
    }

    #[tokio::test]
    async fn invalidate_refreshes_on_the_next_call_but_not_more_often_than_min_interval() {
        let s = source(Fake::new(vec![Ok(list(&["a:1"])), Ok(list(&["b:1"]))]), HOUR, Duration::ZERO);
        s.nodes().await.unwrap();
        s.invalidate();
        assert_eq!(*s.nodes().await.unwrap(), list(&["b:1"]));
        assert_eq!(*s.nodes().await.unwrap(), list(&["b:1"]));
        assert_eq!(fake_of(&s).calls(), 2);

        let slow = source(Fake::new(vec![Ok(list(&["a:1"])), Ok(list(&["b:1"]))]), HOUR, HOUR);
        slow.nodes().await.unwrap();
        slow.invalidate();
        assert_eq!(*slow.nodes().await.unwrap(), list(&["a:1"]));
        assert_eq!(fake_of(&slow).calls(), 1);
    }

    #[tokio::test]
    async fn failed_or_empty_refreshes_keep_the_previous_list() {
        let answers = vec![Ok(list(&["a:1"])), Err(down()), Ok(vec![]), Ok(list(&["c:1"]))];
        let s = source(Fake::new(answers), Duration::ZERO, Duration::ZERO);
        assert_eq!(*s.nodes().await.unwrap(), list(&["a:1"]));
        assert_eq!(*s.nodes().await.unwrap(), list(&["a:1"]));
        assert_eq!(*s.nodes().await.unwrap(), list(&["a:1"]));
        assert_eq!(*s.nodes().await.unwrap(), list(&["c:1"]));
    }

    #[tokio::test]
    async fn without_a_list_a_failure_is_returned_and_not_retried_before_min_interval() {
        let s = source(Fake::new(vec![Err(down()), Ok(list(&["a:1"]))]), HOUR, HOUR);
        assert_eq!(s.nodes().await, Err(down()));
        assert_eq!(s.nodes().await, Err(down()));
        assert_eq!(fake_of(&s).calls(), 1);

        let eager = source(Fake::new(vec![Err(down()), Ok(list(&["a:1"]))]), HOUR, Duration::ZERO);
        assert!(eager.nodes().await.is_err());
        assert_eq!(*eager.nodes().await.unwrap(), list(&["a:1"]));
    }
}
