//! The pure mapping from what the ElastiCache API reports to the ring's nodes (the rules are in
//! the module header of [`super`]).

use super::CacheNode;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::node;

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
}
