//! Cache node discovery through the ElastiCache API, so the functions shard over the stack's
//! Redis nodes without a hand-maintained `CACHE_NODES` list.
//!
//! Selection: every replication group and standalone cache cluster whose id starts with the
//! configured prefix (the template names them `${AWS::StackName}-cache…`). Selecting by tag
//! instead would need one `ListTagsForResource` call per candidate ARN on every refresh (and
//! the `elasticache:ListTagsForResource` permission); the prefix needs none, so only the prefix
//! is implemented.
//!
//! Mapping (pure, in [`select_nodes`]; the SDK calls only copy fields into plain structs):
//! - a replication group in cluster mode disabled gives one [`CacheNode`] per node group: the
//!   primary endpoint (else the `primary` member's endpoint) and, if the group has a replica,
//!   its reader endpoint (else one replica's endpoint);
//! - a cluster-mode-enabled group is skipped with a warning: its keys are routed by hash slot
//!   (`MOVED`), which a ketama ring over its shards cannot follow;
//! - a standalone Redis/Valkey cluster gives one node per cache node endpoint; a cluster that
//!   belongs to a replication group is skipped (the group already lists it), memcached too;
//! - only `available`, `modifying` and `snapshotting` groups/clusters count: the last two still
//!   serve traffic, and dropping a node for the length of its daily backup would move 1/N of
//!   the keys away and back on every instance;
//! - the result is sorted, so every instance builds the same ring.
//!
//! [`NodeSource`] hands callers the current list: a fixed `CACHE_NODES` list (which overrides
//! discovery) or the discovered one, cached for a refresh interval. Lambda freezes an idle
//! instance, so there is no background task: the first call after the interval (or after
//! [`NodeSource::invalidate`], which callers use on connection errors) refreshes the list
//! lazily. A failed or empty refresh never fails a caller that already has a list.
//!
//! Files: [`select`] (the pure mapping), [`elasticache`] (the API calls), [`source`] (the
//! cached list callers use).

mod elasticache;
mod select;
mod source;

pub use elasticache::{Discovery, cluster_info, endpoint_addr, group_info};
pub use select::{ClusterInfo, GroupInfo, MemberInfo, NodeGroupInfo, select_nodes};
pub use source::{NodeSource, RefreshConfig};

use std::future::Future;

/// The SDK crate, for callers (and tests) that build their own client without depending on it.
pub use aws_sdk_elasticache as sdk;

/// One shard of the ring: where to write, and where reads may go.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CacheNode {
    /// `host:port` of the primary.
    pub primary: String,
    /// `host:port` of the reader endpoint or of one replica, if the shard has a replica.
    pub replica: Option<String>,
}

/// Discovery failed. (Hand-written rather than `thiserror`: the crate does not depend on it.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryError {
    /// An ElastiCache call failed after the SDK's retries, within its timeouts.
    Api { operation: &'static str, detail: String },
}

impl std::fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Api { operation, detail } => write!(f, "ElastiCache {operation} failed: {detail}"),
        }
    }
}

impl std::error::Error for DiscoveryError {}

/// Something that lists the cache nodes: [`Discovery`], or a fake in tests.
pub trait Discover: Send + Sync {
    fn discover(&self) -> impl Future<Output = Result<Vec<CacheNode>, DiscoveryError>> + Send;
}

#[cfg(test)]
fn node(primary: &str, replica: Option<&str>) -> CacheNode {
    CacheNode { primary: primary.into(), replica: replica.map(Into::into) }
}
