//! The ElastiCache API calls: every page of replication groups and cache clusters, copied into
//! the plain structs of [`super::select`].

use super::select::{ClusterInfo, GroupInfo, MemberInfo, NodeGroupInfo, select_nodes};
use super::{CacheNode, Discover, DiscoveryError};
use aws_config::SdkConfig;
use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::types::{CacheCluster, Endpoint, ReplicationGroup};
use std::future::Future;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::node;

    #[test]
    fn an_endpoint_needs_both_address_and_port() {
        assert_eq!(endpoint_addr(Some(&Endpoint::builder().address("h").build())), None);
        assert_eq!(endpoint_addr(Some(&Endpoint::builder().port(6379).build())), None);
        assert_eq!(
            endpoint_addr(Some(&Endpoint::builder().address("h").port(6379).build())),
            Some("h:6379".into())
        );
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
}
