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

use aws_config::SdkConfig;
use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::types::{CacheCluster, Endpoint, ReplicationGroup};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};

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

/// The fields of a replication group that discovery reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupInfo {
    pub id: String,
    pub status: String,
    pub cluster_enabled: bool,
    pub node_groups: Vec<NodeGroupInfo>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeGroupInfo {
    /// Empty when the API does not report it.
    pub status: String,
    pub primary: Option<String>,
    pub reader: Option<String>,
    pub members: Vec<MemberInfo>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberInfo {
    /// `primary` or `replica` (cluster mode disabled only).
    pub role: String,
    pub endpoint: Option<String>,
}

/// The fields of a cache cluster that discovery reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterInfo {
    pub id: String,
    pub status: String,
    pub engine: String,
    /// The replication group it belongs to, if any.
    pub group: Option<String>,
    pub nodes: Vec<Option<String>>,
}

/// Statuses of groups and clusters that still serve traffic (see the module header).
const SERVING: [&str; 3] = ["available", "modifying", "snapshotting"];

fn serving(status: &str) -> bool {
    SERVING.contains(&status)
}

/// The cache nodes of the groups and standalone clusters whose id starts with `prefix`, in any
/// case: AWS stores ids in lowercase while a stack name (from which the template derives them)
/// may have capitals, and the emulator keeps them as given.
pub fn select_nodes(prefix: &str, groups: &[GroupInfo], clusters: &[ClusterInfo]) -> Vec<CacheNode> {
    let prefix = prefix.to_lowercase();
    let selected = |id: &str| id.to_lowercase().starts_with(&prefix);
    let mut nodes = Vec::new();
    for group in groups.iter().filter(|g| selected(&g.id)) {
        if !serving(&group.status) {
            tracing::info!(group = %group.id, status = %group.status, "cache group skipped: not serving");
            continue;
        }
        if group.cluster_enabled {
            tracing::warn!(group = %group.id, "cache group skipped: cluster mode enabled (slot routing)");
            continue;
        }
        for ng in group.node_groups.iter().filter(|ng| ng.status.is_empty() || serving(&ng.status)) {
            match node_group_node(ng) {
                Some(node) => nodes.push(node),
                None => tracing::warn!(group = %group.id, "cache node group skipped: no primary endpoint"),
            }
        }
    }
    for cluster in clusters.iter().filter(|c| selected(&c.id)) {
        // Members of a group are listed again as clusters; the group already counted them.
        if cluster.group.is_some() || !matches!(cluster.engine.as_str(), "redis" | "valkey") {
            continue;
        }
        if !serving(&cluster.status) {
            tracing::info!(cluster = %cluster.id, status = %cluster.status, "cache cluster skipped: not serving");
            continue;
        }
        let endpoints = cluster.nodes.iter().flatten();
        nodes.extend(endpoints.map(|primary| CacheNode { primary: primary.clone(), replica: None }));
    }
    nodes.sort();
    nodes
}

fn node_group_node(ng: &NodeGroupInfo) -> Option<CacheNode> {
    let primary = ng.primary.clone().or_else(|| first_with_role(ng, "primary"))?;
    let first_replica = first_with_role(ng, "replica");
    // The reader endpoint spreads reads over the replicas and follows failovers, so it is
    // preferred; with no replica it points at the primary, which is no replica at all.
    let replica = match first_replica {
        Some(one) => Some(ng.reader.clone().unwrap_or(one)),
        None => ng.reader.clone().filter(|r| *r != primary),
    };
    Some(CacheNode { primary, replica })
}

fn first_with_role(ng: &NodeGroupInfo, role: &str) -> Option<String> {
    ng.members.iter().filter(|m| m.role == role).filter_map(|m| m.endpoint.clone()).min()
}

/// `host:port`, or `None` when the API left out either part.
pub fn endpoint_addr(endpoint: Option<&Endpoint>) -> Option<String> {
    let endpoint = endpoint?;
    let host = endpoint.address().filter(|a| !a.is_empty())?;
    let port = endpoint.port().filter(|p| *p > 0)?;
    Some(format!("{host}:{port}"))
}

pub fn group_info(group: &ReplicationGroup) -> GroupInfo {
    GroupInfo {
        id: group.replication_group_id().unwrap_or_default().to_owned(),
        status: group.status().unwrap_or_default().to_owned(),
        cluster_enabled: group.cluster_enabled().unwrap_or(false),
        node_groups: group
            .node_groups()
            .iter()
            .map(|ng| NodeGroupInfo {
                status: ng.status().unwrap_or_default().to_owned(),
                primary: endpoint_addr(ng.primary_endpoint()),
                reader: endpoint_addr(ng.reader_endpoint()),
                members: ng
                    .node_group_members()
                    .iter()
                    .map(|m| MemberInfo {
                        role: m.current_role().unwrap_or_default().to_owned(),
                        endpoint: endpoint_addr(m.read_endpoint()),
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub fn cluster_info(cluster: &CacheCluster) -> ClusterInfo {
    ClusterInfo {
        id: cluster.cache_cluster_id().unwrap_or_default().to_owned(),
        status: cluster.cache_cluster_status().unwrap_or_default().to_owned(),
        engine: cluster.engine().unwrap_or_default().to_owned(),
        // The emulator sends an empty element for a standalone cluster.
        group: cluster.replication_group_id().filter(|g| !g.is_empty()).map(str::to_owned),
        nodes: cluster.cache_nodes().iter().map(|n| endpoint_addr(n.endpoint())).collect(),
    }
}

/// Something that lists the cache nodes: [`Discovery`], or a fake in tests.
pub trait Discover: Send + Sync {
    fn discover(&self) -> impl Future<Output = Result<Vec<CacheNode>, DiscoveryError>> + Send;
}

/// Discovers the nodes through the ElastiCache API. Timeouts and retries come from the SDK
/// configuration (`adapters::aws::load`).
#[derive(Debug, Clone)]
pub struct Discovery {
    client: Client,
    prefix: String,
}

impl Discovery {
    /// Selects groups and clusters whose id starts with `prefix`, ignoring case (an empty prefix
    /// selects all).
    pub fn new(config: &SdkConfig, prefix: impl Into<String>) -> Self {
        Self::with_client(Client::new(config), prefix)
    }

    pub fn with_client(client: Client, prefix: impl Into<String>) -> Self {
        Self { client, prefix: prefix.into() }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Lists every page of groups and clusters (both calls at once) and selects the nodes.
    pub async fn discover(&self) -> Result<Vec<CacheNode>, DiscoveryError> {
        let groups = async {
            let pages = self.client.describe_replication_groups().max_records(100).into_paginator();
            let all: Result<Vec<ReplicationGroup>, _> = pages.items().send().collect().await;
            all.map_err(|e| api_error("DescribeReplicationGroups", e))
        };
        let clusters = async {
            let request = self
                .client
                .describe_cache_clusters()
                .show_cache_node_info(true)
                // Group members are skipped anyway; AWS can leave them out (the emulator cannot).
                .show_cache_clusters_not_in_replication_groups(true)
                .max_records(100);
            let all: Result<Vec<CacheCluster>, _> = request.into_paginator().items().send().collect().await;
            all.map_err(|e| api_error("DescribeCacheClusters", e))
        };
        let (groups, clusters) = tokio::try_join!(groups, clusters)?;
        let groups: Vec<GroupInfo> = groups.iter().map(group_info).collect();
        let clusters: Vec<ClusterInfo> = clusters.iter().map(cluster_info).collect();
        Ok(select_nodes(&self.prefix, &groups, &clusters))
    }
}

fn api_error<E: std::error::Error>(operation: &'static str, e: E) -> DiscoveryError {
    DiscoveryError::Api { operation, detail: crate::aws::error_text(e) }
}

impl Discover for Discovery {
    fn discover(&self) -> impl Future<Output = Result<Vec<CacheNode>, DiscoveryError>> + Send {
        Discovery::discover(self)
    }
}

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
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicUsize;

    fn member(role: &str, endpoint: &str) -> MemberInfo {
        MemberInfo { role: role.into(), endpoint: Some(endpoint.into()) }
    }

    fn group(id: &str, status: &str, node_groups: Vec<NodeGroupInfo>) -> GroupInfo {
        GroupInfo { id: id.into(), status: status.into(), cluster_enabled: false, node_groups }
    }

    fn cluster(id: &str, status: &str, group: Option<&str>, endpoint: Option<&str>) -> ClusterInfo {
        ClusterInfo {
            id: id.into(),
            status: status.into(),
            engine: "redis".into(),
            group: group.map(Into::into),
            nodes: vec![endpoint.map(Into::into)],
        }
    }

    fn node(primary: &str, replica: Option<&str>) -> CacheNode {
        CacheNode { primary: primary.into(), replica: replica.map(Into::into) }
    }

    #[test]
    fn group_with_primary_and_two_replicas_is_one_node_reading_from_a_replica() {
        let ng = NodeGroupInfo {
            members: vec![
                member("replica", "r2:6379"),
                member("primary", "p:6379"),
                member("replica", "r1:6379"),
            ],
            ..Default::default()
        };
        let nodes = select_nodes("s-cache", &[group("s-cache-a", "available", vec![ng])], &[]);
        // No primary/reader endpoint reported: the primary member, and the first replica.
        assert_eq!(nodes, vec![node("p:6379", Some("r1:6379"))]);
    }

    #[test]
    fn cluster_mode_disabled_group_prefers_its_endpoints() {
        let ng = NodeGroupInfo {
            status: "available".into(),
            primary: Some("master.g:6379".into()),
            reader: Some("replica.g:6379".into()),
            members: vec![member("primary", "g-001:6379"), member("replica", "g-002:6379")],
        };
        let nodes = select_nodes("s-cache", &[group("s-cache-g", "available", vec![ng])], &[]);
        assert_eq!(nodes, vec![node("master.g:6379", Some("replica.g:6379"))]);
    }

    #[test]
    fn a_group_without_replicas_has_no_replica_even_with_a_reader_endpoint() {
        let same = NodeGroupInfo {
            primary: Some("p:1".into()),
            reader: Some("p:1".into()),
            members: vec![member("primary", "p:1")],
            ..Default::default()
        };
        let nodes = select_nodes("", &[group("g", "available", vec![same])], &[]);
        assert_eq!(nodes, vec![node("p:1", None)]);
    }

    #[test]
    fn standalone_clusters_are_nodes_and_group_members_are_not_listed_twice() {
        let ng = NodeGroupInfo {
            primary: Some("g:1".into()),
            members: vec![member("primary", "g-001:1"), member("replica", "g-002:1")],
            ..Default::default()
        };
        let clusters = [
            cluster("s-cache-b", "available", None, Some("b:1")),
            cluster("s-cache-a", "available", None, Some("a:1")),
            cluster("s-cache-g-001", "available", Some("s-cache-g"), Some("g-001:1")),
            cluster("s-cache-g-002", "available", Some("s-cache-g"), Some("g-002:1")),
        ];
        let nodes = select_nodes("s-cache", &[group("s-cache-g", "available", vec![ng])], &clusters);
        assert_eq!(nodes, vec![node("a:1", None), node("b:1", None), node("g:1", Some("g-002:1"))]);
    }

    #[test]
    fn only_serving_groups_and_clusters_count() {
        let ng = || NodeGroupInfo { primary: Some("g:1".into()), ..Default::default() };
        let groups = [
            group("p-creating", "creating", vec![ng()]),
            group("p-deleting", "deleting", vec![ng()]),
            group("p-modifying", "modifying", vec![ng()]),
            group("p-ng-down", "available", vec![NodeGroupInfo { status: "deleting".into(), ..ng() }]),
        ];
        let clusters = [
            cluster("p-c1", "create-failed", None, Some("c1:1")),
            cluster("p-c2", "snapshotting", None, Some("c2:1")),
        ];
        assert_eq!(select_nodes("p-", &groups, &clusters), vec![node("c2:1", None), node("g:1", None)]);
    }

    #[test]
    fn ids_outside_the_prefix_are_ignored() {
        let ng = NodeGroupInfo { primary: Some("g:1".into()), ..Default::default() };
        let groups = [
            group("other-cache", "available", vec![ng.clone()]),
            group("stack-cache", "available", vec![ng]),
        ];
        let clusters = [cluster("xstack-cache", "available", None, Some("x:1"))];
        assert_eq!(select_nodes("stack-cache", &groups, &clusters), vec![node("g:1", None)]);
        // AWS lowercases ids; the prefix comes from a stack name that may have capitals.
        assert_eq!(select_nodes("Stack-Cache", &groups, &clusters), vec![node("g:1", None)]);
    }

    #[test]
    fn missing_endpoints_drop_the_node_or_its_replica() {
        let no_primary = NodeGroupInfo {
            reader: Some("r:1".into()),
            members: vec![MemberInfo { role: "primary".into(), endpoint: None }],
            ..Default::default()
        };
        let no_replica_endpoint = NodeGroupInfo {
            primary: Some("p:1".into()),
            members: vec![MemberInfo { role: "replica".into(), endpoint: None }],
            ..Default::default()
        };
        let groups =
            [group("a", "available", vec![no_primary]), group("b", "available", vec![no_replica_endpoint])];
        let clusters = [cluster("c", "available", None, None)];
        assert_eq!(select_nodes("", &groups, &clusters), vec![node("p:1", None)]);
        assert_eq!(endpoint_addr(Some(&Endpoint::builder().address("h").build())), None);
        assert_eq!(endpoint_addr(Some(&Endpoint::builder().port(6379).build())), None);
        assert_eq!(
            endpoint_addr(Some(&Endpoint::builder().address("h").port(6379).build())),
            Some("h:6379".into())
        );
    }

    #[test]
    fn cluster_mode_enabled_groups_and_memcached_are_skipped() {
        let ng = NodeGroupInfo { primary: Some("g:1".into()), ..Default::default() };
        let mut sharded = group("s", "available", vec![ng]);
        sharded.cluster_enabled = true;
        let mut memcached = cluster("m", "available", None, Some("m:11211"));
        memcached.engine = "memcached".into();
        assert_eq!(select_nodes("", &[sharded], &[memcached]), vec![]);
    }

    #[test]
    fn sdk_shapes_map_to_plain_structs() {
        use aws_sdk_elasticache::types::{CacheNode as SdkNode, NodeGroup, NodeGroupMember};
        let ep = |h: &str| Endpoint::builder().address(h).port(6379).build();
        let rg = ReplicationGroup::builder()
            .replication_group_id("s-cache-1")
            .status("available")
            .cluster_enabled(false)
            .node_groups(
                NodeGroup::builder()
                    .status("available")
                    .primary_endpoint(ep("p"))
                    .reader_endpoint(ep("r"))
                    .node_group_members(
                        NodeGroupMember::builder().current_role("primary").read_endpoint(ep("m1")).build(),
                    )
                    .node_group_members(
                        NodeGroupMember::builder().current_role("replica").read_endpoint(ep("m2")).build(),
                    )
                    .build(),
            )
            .build();
        let standalone = CacheCluster::builder()
            .cache_cluster_id("s-cache-2")
            .cache_cluster_status("available")
            .engine("valkey")
            .replication_group_id("")
            .cache_nodes(SdkNode::builder().endpoint(ep("c")).build())
            .build();
        let member = CacheCluster::builder()
            .cache_cluster_id("s-cache-1-001")
            .cache_cluster_status("available")
            .engine("redis")
            .replication_group_id("s-cache-1")
            .cache_nodes(SdkNode::builder().endpoint(ep("m1")).build())
            .build();
        let clusters = [cluster_info(&standalone), cluster_info(&member)];
        assert_eq!(clusters[0].group, None);
        let nodes = select_nodes("s-cache", &[group_info(&rg)], &clusters);
        assert_eq!(nodes, vec![node("c:6379", None), node("p:6379", Some("r:6379"))]);
    }

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
