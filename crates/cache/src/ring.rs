//! A ketama consistent-hash ring, as libmemcached and the reference service build it: every node
//! owns 160 points on a 32-bit circle (40 MD5 digests of `"<node>-<i>"`, four points from each),
//! and a key belongs to the node owning the first point at or after the key's hash. With N
//! nodes, adding one moves about 1/(N+1) of the keys (all to the new node); removing one moves
//! only the keys it held.

use md5::{Digest, Md5};

const DIGESTS_PER_NODE: u32 = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring<N> {
    nodes: Vec<N>,
    /// (point, index into `nodes`), sorted by point.
    points: Vec<(u32, usize)>,
}

impl<N: AsRef<str> + Clone> Ring<N> {
    /// A ring over `nodes` (their names place them on the circle). Duplicate names are kept once.
    pub fn new(nodes: impl IntoIterator<Item = N>) -> Self {
        let mut unique: Vec<N> = Vec::new();
        for n in nodes {
            if !unique.iter().any(|u| u.as_ref() == n.as_ref()) {
                unique.push(n);
            }
        }
        let mut points = Vec::with_capacity(unique.len() * DIGESTS_PER_NODE as usize * 4);
        for (index, node) in unique.iter().enumerate() {
            for i in 0..DIGESTS_PER_NODE {
                let digest = Md5::digest(format!("{}-{i}", node.as_ref()).as_bytes());
                for chunk in digest.chunks_exact(4) {
                    points.push((u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]), index));
                }
            }
        }
        // Ties (vanishingly rare) resolve by node order, so every process builds the same ring.
        points.sort_unstable();
        Self { nodes: unique, points }
    }

    /// The node that holds `key`; `None` on an empty ring.
    pub fn node_for(&self, key: &str) -> Option<&N> {
        let h = hash(key);
        let at = self.points.partition_point(|(p, _)| *p < h);
        let (_, index) = self.points.get(at).or_else(|| self.points.first())?;
        self.nodes.get(*index)
    }

    pub fn nodes(&self) -> &[N] {
        &self.nodes
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

fn hash(key: &str) -> u32 {
    let d = Md5::digest(key.as_bytes());
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring(n: usize) -> Ring<String> {
        Ring::new((0..n).map(|i| format!("10.0.0.{i}:6379")))
    }

    fn keys(count: usize, seed: u64) -> Vec<String> {
        (0..count).map(|i| format!("post:{}", seed.wrapping_mul(1_000_003).wrapping_add(i as u64))).collect()
    }

    #[test]
    fn empty_ring_has_no_node() {
        assert_eq!(Ring::<String>::new([]).node_for("x"), None);
    }

    #[test]
    fn one_node_takes_everything() {
        let r = ring(1);
        assert!(keys(100, 1).iter().all(|k| r.node_for(k).map(String::as_str) == Some("10.0.0.0:6379")));
    }

    #[test]
    fn keys_spread_evenly() {
        let r = ring(3);
        let mut counts = std::collections::HashMap::new();
        for k in keys(30_000, 7) {
            *counts.entry(r.node_for(&k).unwrap().clone()).or_insert(0usize) += 1;
        }
        // 160 points per node keep every share within a third of the fair 10,000.
        assert!(counts.values().all(|c| (6_700..13_300).contains(c)), "{counts:?}");
    }

    #[test]
    fn same_nodes_in_any_order_make_the_same_ring() {
        let a = Ring::new(["a:1", "b:2", "c:3"]);
        let b = Ring::new(["c:3", "a:1", "b:2", "a:1"]);
        assert!(keys(1_000, 3).iter().all(|k| a.node_for(k) == b.node_for(k)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Adding a node moves about 1/(N+1) of the keys, every one of them to the new node.
        #[test]
        fn adding_a_node_moves_only_its_share(n in 1usize..10, seed in any::<u64>()) {
            let before = ring(n);
            let after = ring(n + 1);
            let new = format!("10.0.0.{n}:6379");
            let ks = keys(4_000, seed);
            let mut moved = 0usize;
            for k in &ks {
                let (a, b) = (before.node_for(k).unwrap(), after.node_for(k).unwrap());
                if a != b {
                    prop_assert_eq!(b, &new);
                    moved += 1;
                }
            }
            let share = moved as f64 / ks.len() as f64;
            let fair = 1.0 / (n as f64 + 1.0);
            prop_assert!(share > fair * 0.5 && share < fair * 1.6, "moved {share:.3}, fair {fair:.3}");
        }

        /// Removing a node moves exactly the keys it held.
        #[test]
        fn removing_a_node_moves_only_its_keys(n in 2usize..10, gone in 0usize..10, seed in any::<u64>()) {
            let gone = gone % n;
            let before = ring(n);
            let after = Ring::new((0..n).filter(|i| *i != gone).map(|i| format!("10.0.0.{i}:6379")));
            let gone_name = format!("10.0.0.{gone}:6379");
            for k in keys(2_000, seed) {
                let (a, b) = (before.node_for(&k).unwrap(), after.node_for(&k).unwrap());
                prop_assert_eq!(a != b, a == &gone_name);
            }
        }
    }
}
