//! Sharded Redis: the ketama ring over the cache nodes, one reused connection per node, a time
//! limit on every call, and a circuit breaker per node.
//!
//! A node that fails `failures_to_trip` calls in a row is skipped for `cooldown` (calls for its
//! keys fail at once instead of each paying the timeout); after the cool-down the next call
//! probes it, and one success closes the breaker. Callers treat every error as a miss, so a
//! node that is down never fails a request.
//!
//! Where a primary has a replica, plain reads (GET, MGET) go to the replica and everything
//! else to the primary.
//!
//! The preview cache (`redis_previews`), the rate limiter (`redis_rate_limit`) and the posts
//! cache (`redis_posts`) run their commands through it.

use crate::discovery::{CacheNode, Discovery, NodeSource};
use cache::Ring;
use domain::cache::CacheError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct RedisConfig {
    pub connect_timeout: Duration,
    pub op_timeout: Duration,
    pub failures_to_trip: u32,
    pub cooldown: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_millis(500),
            op_timeout: Duration::from_millis(300),
            failures_to_trip: 3,
            cooldown: Duration::from_secs(5),
        }
    }
}

struct Node {
    addr: String,
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    failures: AtomicU32,
    open_until_ms: AtomicU64,
}

/// Which node holds a key: the ring over the primaries, and each primary's replica (if any)
/// for reads.
#[derive(Debug)]
pub struct Topology {
    ring: Ring<String>,
    replicas: HashMap<String, String>,
    list: Arc<Vec<CacheNode>>,
}

impl Topology {
    fn new(list: Arc<Vec<CacheNode>>) -> Self {
        let ring = Ring::new(list.iter().map(|n| n.primary.clone()));
        let replicas = list.iter().filter_map(|n| Some((n.primary.clone(), n.replica.clone()?))).collect();
        Self { ring, replicas, list }
    }

    /// The primary that holds `placement` (a key, or a key's placement string).
    pub fn node_for(&self, placement: &str) -> Option<&str> {
        self.ring.node_for(placement).map(String::as_str)
    }

    /// Where to read `placement`: the primary's replica when it has one, else the primary.
    pub fn read_node_for(&self, placement: &str) -> Option<&str> {
        let primary = self.node_for(placement)?;
        Some(self.replicas.get(primary).map_or(primary, String::as_str))
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }
}

/// The cache nodes: a fixed list (`CACHE_NODES`), or discovered through the ElastiCache API
/// and refreshed lazily (`discovery::NodeSource`), the ring rebuilt when the list changes.
/// Connections are kept per node address across rebuilds.
pub struct RedisShards {
    topology: std::sync::RwLock<Arc<Topology>>,
    nodes: std::sync::Mutex<HashMap<String, Arc<Node>>>,
    source: Option<NodeSource<Discovery>>,
    config: RedisConfig,
}

impl RedisShards {
    /// Shards over fixed `host:port` addresses (no connection is made until first use).
    pub fn new(addrs: &[String], config: RedisConfig) -> Result<Self, String> {
        for addr in addrs {
            redis::Client::open(format!("redis://{addr}/"))
                .map_err(|e| format!("cache node {addr:?}: {e}"))?;
        }
        let list = addrs.iter().map(|a| CacheNode { primary: a.clone(), replica: None }).collect();
        Ok(Self::with(Arc::new(list), None, config))
    }

    /// Shards over the nodes `source` names, asked again as it refreshes.
    pub fn discovered(source: NodeSource<Discovery>, config: RedisConfig) -> Self {
        Self::with(Arc::new(Vec::new()), Some(source), config)
    }

    fn with(list: Arc<Vec<CacheNode>>, source: Option<NodeSource<Discovery>>, config: RedisConfig) -> Self {
        Self {
            topology: std::sync::RwLock::new(Arc::new(Topology::new(list))),
            nodes: std::sync::Mutex::new(HashMap::new()),
            source,
            config,
        }
    }

    /// Parses `CACHE_NODES`-style lists: `host:port,host:port`.
    pub fn parse_nodes(list: &str) -> Vec<String> {
        list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
    }

    /// No cache at all: no fixed nodes and no discovery.
    pub fn is_empty(&self) -> bool {
        self.source.is_none() && self.snapshot().is_empty()
    }

    fn snapshot(&self) -> Arc<Topology> {
        Arc::clone(&self.topology.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The current topology, after a refresh of the node list when one is due.
    pub async fn topology(&self) -> Arc<Topology> {
        let current = self.snapshot();
        let Some(source) = &self.source else { return current };
        match source.nodes().await {
            Ok(list) if !Arc::ptr_eq(&list, &current.list) => {
                let fresh = Arc::new(Topology::new(list));
                *self.topology.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Arc::clone(&fresh);
                fresh
            }
            Ok(_) => current,
            Err(e) => {
                tracing::warn!(error = %e, "cache nodes unknown; running without the cache");
                current
            }
        }
    }

    /// Runs `op` on the primary that holds `placement`, within the timeout.
    pub async fn exec<T, F, Fut>(&self, placement: &str, op: F) -> Result<T, CacheError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let topology = self.topology().await;
        let addr = topology.node_for(placement).ok_or_else(|| CacheError("no cache nodes".into()))?;
        self.exec_on(addr, op).await
    }

    /// Runs a read-only `op` where `placement` is read: its primary's replica if any.
    pub async fn exec_read<T, F, Fut>(&self, placement: &str, op: F) -> Result<T, CacheError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let topology = self.topology().await;
        let addr = topology.read_node_for(placement).ok_or_else(|| CacheError("no cache nodes".into()))?;
        self.exec_on(addr, op).await
    }

    /// Runs a read-only `op` whose answer is `None` when the key is absent, and counts the
    /// answer as a hit or a miss of the node that gave it.
    pub async fn lookup<T, F, Fut>(&self, placement: &str, op: F) -> Result<Option<T>, CacheError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<Option<T>>>,
    {
        let topology = self.topology().await;
        let addr = topology.read_node_for(placement).ok_or_else(|| CacheError("no cache nodes".into()))?;
        let found = self.exec_on(addr, op).await?;
        count_lookups(addr, u64::from(found.is_some()), u64::from(found.is_none()));
        Ok(found)
    }

    fn node(&self, addr: &str) -> Result<Arc<Node>, CacheError> {
        let mut nodes = self.nodes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(node) = nodes.get(addr) {
            return Ok(Arc::clone(node));
        }
        let client = redis::Client::open(format!("redis://{addr}/"))
            .map_err(|e| CacheError(format!("node {addr}: {e}")))?;
        let node = Arc::new(Node {
            addr: addr.to_owned(),
            client,
            conn: tokio::sync::Mutex::new(None),
            failures: AtomicU32::new(0),
            open_until_ms: AtomicU64::new(0),
        });
        nodes.insert(addr.to_owned(), Arc::clone(&node));
        Ok(node)
    }

    /// Runs `op` on the node `addr` with a reused connection, within the timeout, through the
    /// node's circuit breaker.
    pub async fn exec_on<T, F, Fut>(&self, addr: &str, op: F) -> Result<T, CacheError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let node = self.node(addr)?;
        let node = node.as_ref();
        let now = domain::clock_text::now_unix_ms();
        if node.open_until_ms.load(Ordering::Relaxed) > now {
            chassis::metrics::count("CacheErrors", &[("node", addr)], 1);
            return Err(CacheError(format!("node {addr} is cooling down")));
        }
        let mut result = self.attempt(node, &op).await;
        // On both kinds of `Failure::Reconnect` the manager has just started a new connection:
        // the call is asked again, once, on it, rather than failing once per instance after
        // every node restart (and, behind the breaker, for a cool-down more).
        if matches!(&result, Err(Failure::Reconnect(_))) {
            result = self.attempt(node, &op).await;
        }
        let result = result.map_err(|f| match f {
            Failure::Reconnect(e) | Failure::Other(e) => e,
        });
        match result {
            Ok(v) => {
                node.failures.store(0, Ordering::Relaxed);
                Ok(v)
            }
            Err(e) => {
                chassis::metrics::count("CacheErrors", &[("node", addr)], 1);
                let failures = node.failures.fetch_add(1, Ordering::Relaxed) + 1;
                if failures >= self.config.failures_to_trip {
                    let until = now + self.config.cooldown.as_millis() as u64;
                    node.open_until_ms.store(until, Ordering::Relaxed);
                    tracing::warn!(node = %node.addr, failures, cooldown_ms = self.config.cooldown.as_millis() as u64, "cache node skipped");
                }
                // The node may have been replaced: look at the list again soon.
                if let Some(source) = &self.source {
                    source.invalidate();
                }
                Err(CacheError(e))
            }
        }
    }

    /// One try of `op` on the node's connection, within the time limit.
    async fn attempt<T, F, Fut>(&self, node: &Node, op: &F) -> Result<T, Failure>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection(node).await.map_err(Failure::Other)?;
        match tokio::time::timeout(self.config.op_timeout, op(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if needs_reconnect(&e) => Err(Failure::Reconnect(format!("node {}: {e}", node.addr))),
            Ok(Err(e)) => Err(Failure::Other(format!("node {}: {e}", node.addr))),
            Err(_) => Err(Failure::Other(format!(
                "node {}: no answer within {:?}",
                node.addr, self.config.op_timeout
            ))),
        }
    }

    async fn connection(&self, node: &Node) -> Result<ConnectionManager, String> {
        let mut slot = node.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.config.connect_timeout)
            .set_response_timeout(self.config.op_timeout)
            .set_number_of_retries(1);
        let connect = ConnectionManager::new_with_config(node.client.clone(), config);
        match tokio::time::timeout(self.config.connect_timeout * 2, connect).await {
            Ok(Ok(conn)) => {
                *slot = Some(conn.clone());
                Ok(conn)
            }
            Ok(Err(e)) => Err(format!("node {}: {e}", node.addr)),
            Err(_) => {
                Err(format!("node {}: no connection within {:?}", node.addr, self.config.connect_timeout))
            }
        }
    }
}

/// Why one try failed: one the manager reconnects on is worth one more try, anything else is not.
enum Failure {
    Reconnect(String),
    Other(String),
}

/// The errors on which the manager replaces its connection:
/// - the node dropped the connection (it restarted, or closed it while the instance was frozen);
/// - the manager's last connection attempt had failed (made while the node was down; the
///   error says "Reconnecting failed"). Without another try such an instance fails every call
///   until one happens to come after the new attempt, which behind an open breaker is a
///   cool-down later than the node came back. A node still down costs a second refusal,
///   which is immediate; a hung node's timeouts are not tried again.
fn needs_reconnect(e: &redis::RedisError) -> bool {
    e.is_connection_dropped() || (e.is_io_error() && !e.is_timeout())
}

/// Counts cache hits and misses of the node `addr` (EMF, dimension `node`).
pub fn count_lookups(addr: &str, hits: u64, misses: u64) {
    chassis::metrics::count("CacheHits", &[("node", addr)], hits);
    chassis::metrics::count("CacheMisses", &[("node", addr)], misses);
}
