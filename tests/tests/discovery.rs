//! Cache node discovery against a real ElastiCache API (the emulator, or AWS: beware, there the
//! groups take minutes to create and cost money): the test creates replication groups and
//! cache clusters under a prefix of its own, checks what `Discovery::discover` makes of them,
//! and deletes them.
//!
//! The emulator gives every endpoint the same placeholder `host:port`, so nodes cannot be told
//! apart by address here: counts show that group members are not listed twice, and the
//! addresses are compared with what the API itself reports.

use adapters::discovery::sdk::Client;
use adapters::discovery::{CacheNode, Discovery};
use std::time::{Duration, Instant};

const NODE_TYPE: &str = "cache.t4g.micro";

#[derive(Clone)]
struct Created {
    groups: Vec<String>,
    clusters: Vec<String>,
}

async fn create(client: &Client, prefix: &str, decoy: &str) -> Created {
    let mut created = Created { groups: Vec::new(), clusters: Vec::new() };
    // A primary with two replicas, a primary with one, and a cluster-mode-enabled group
    // (3 shards) that discovery must skip.
    for (suffix, clusters, shards) in
        [("g1", Some(3), None), ("g2", Some(2), None), ("sharded", None, Some(3))]
    {
        let id = format!("{prefix}-{suffix}");
        client
            .create_replication_group()
            .replication_group_id(&id)
            .replication_group_description("discovery test")
            .engine("redis")
            .cache_node_type(NODE_TYPE)
            .set_num_cache_clusters(clusters)
            .set_num_node_groups(shards)
            .set_replicas_per_node_group(shards.map(|_| 1))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateReplicationGroup {id}: {e:?}"));
        created.groups.push(id);
    }
    for id in [format!("{prefix}-c1"), format!("{prefix}-c2"), format!("{decoy}-c1")] {
        client
            .create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("redis")
            .cache_node_type(NODE_TYPE)
            .num_cache_nodes(1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateCacheCluster {id}: {e:?}"));
        created.clusters.push(id);
    }
    created
}

/// Polls until every created group and cluster is `available` (the emulator answers at once
/// without Docker; with Docker a cold image makes clusters `creating` for a while).
async fn wait_available(client: &Client, created: &Created) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut pending = Vec::new();
        for id in &created.groups {
            let out = client.describe_replication_groups().replication_group_id(id).send().await.unwrap();
            if out.replication_groups().first().and_then(|g| g.status()) != Some("available") {
                pending.push(id.clone());
            }
        }
        for id in &created.clusters {
            let out = client.describe_cache_clusters().cache_cluster_id(id).send().await.unwrap();
            if out.cache_clusters().first().and_then(|c| c.cache_cluster_status()) != Some("available") {
                pending.push(id.clone());
            }
        }
        if pending.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "still not available: {pending:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn delete(client: &Client, created: &Created) {
    for id in &created.groups {
        if let Err(e) = client.delete_replication_group().replication_group_id(id).send().await {
            eprintln!("DeleteReplicationGroup {id}: {e:?}");
        }
    }
    for id in &created.clusters {
        if let Err(e) = client.delete_cache_cluster().cache_cluster_id(id).send().await {
            eprintln!("DeleteCacheCluster {id}: {e:?}");
        }
    }
}

fn assert_addr(addr: &str) {
    let (host, port) = addr.rsplit_once(':').unwrap_or_else(|| panic!("{addr:?} is not host:port"));
    assert!(!host.is_empty(), "{addr:?}");
    assert!(port.parse::<u16>().is_ok_and(|p| p > 0), "{addr:?}");
}

async fn check(client: Client, prefix: String, decoy: String) {
    let discover = |p: String| {
        let client = client.clone();
        async move { Discovery::with_client(client, p).discover().await.expect("discover") }
    };

    let nodes = discover(prefix.clone()).await;
    // g1 and g2 give one node each (their 5 member clusters are not listed again), c1 and c2
    // one each; the sharded group and the decoy's cluster are left out.
    assert_eq!(nodes.len(), 4, "{nodes:?}");
    let mut sorted = nodes.clone();
    sorted.sort();
    assert_eq!(nodes, sorted, "not sorted");
    for node in &nodes {
        assert_addr(&node.primary);
        if let Some(replica) = &node.replica {
            assert_addr(replica);
        }
    }
    assert_eq!(nodes.iter().filter(|n| n.replica.is_some()).count(), 2, "{nodes:?}");

    // The addresses are the ones the API reports for the group and the cluster.
    let g1 = client
        .describe_replication_groups()
        .replication_group_id(format!("{prefix}-g1"))
        .send()
        .await
        .unwrap();
    let ng = g1.replication_groups()[0].node_groups()[0].clone();
    let addr = |ep: Option<&adapters::discovery::sdk::types::Endpoint>| {
        let ep = ep.expect("endpoint");
        format!("{}:{}", ep.address().unwrap(), ep.port().unwrap())
    };
    let expected =
        CacheNode { primary: addr(ng.primary_endpoint()), replica: Some(addr(ng.reader_endpoint())) };
    assert!(nodes.contains(&expected), "{expected:?} not in {nodes:?}");
    let c1 =
        client.describe_cache_clusters().cache_cluster_id(format!("{prefix}-c1")).show_cache_node_info(true);
    let c1 = c1.send().await.unwrap();
    let primary = addr(c1.cache_clusters()[0].cache_nodes()[0].endpoint());
    assert!(nodes.contains(&CacheNode { primary, replica: None }), "{nodes:?}");

    // Narrower prefixes select only what they name.
    let groups = discover(format!("{prefix}-g")).await;
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert!(groups.iter().all(|n| n.replica.is_some()), "{groups:?}");
    let clusters = discover(format!("{prefix}-c")).await;
    assert_eq!(clusters.len(), 2, "{clusters:?}");
    assert!(clusters.iter().all(|n| n.replica.is_none()), "{clusters:?}");
    assert_eq!(discover(decoy).await.len(), 1);
}

#[tokio::test]
async fn discovery_selects_the_prefixed_groups_and_standalone_clusters() {
    let client = Client::new(&integration::sdk().await);
    // Both prefixes are unique per run, and neither starts with the other ("disc-" vs "discx-").
    let prefix = integration::unique("disc");
    let decoy = integration::unique("discx");
    let created = create(&client, &prefix, &decoy).await;

    // Checks run in their own task so that a failed assertion still deletes what was created.
    let outcome = tokio::spawn({
        let (client, prefix, decoy, ids) = (client.clone(), prefix.clone(), decoy.clone(), created.clone());
        async move {
            wait_available(&client, &ids).await;
            check(client, prefix, decoy).await;
        }
    })
    .await;
    delete(&client, &created).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }

    let left = Discovery::with_client(client, prefix).discover().await.expect("discover");
    assert!(left.is_empty(), "not deleted: {left:?}");
}
