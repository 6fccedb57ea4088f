//! The lock-order graph's storage: a directed graph keyed by node, whose edges carry weights,
//! with constant-time insertion and removal of edges and a node's removal in time linear in its
//! degree.
//!
//! Why not petgraph's `GraphMap`: it keeps each node's neighbours in a vector and finds a node
//! in its neighbour's vector by searching it, so removing a node costs the square of its degree,
//! and a thousand account locks taken in every pairwise order made dropping them take longer
//! than the program that took them. Here each edge also records where it sits in both of its
//! nodes' vectors, so it leaves them by a swap with the last entry (whose record is updated):
//! vectors to push to and walk, without a hash set per node to grow. The graph's algorithms (the
//! topological order, the search for cycles) live in `topo_order.rs` and `lock_order.rs`, and
//! see the graph only through [`OrderGraph::successors`] and [`OrderGraph::predecessors`].

use rustc_hash::FxHashMap;
use std::hash::Hash;

/// A node's neighbours, in no particular order.
#[derive(Debug)]
struct Adjacent<N> {
    successors: Vec<N>,
    predecessors: Vec<N>,
}

impl<N> Default for Adjacent<N> {
    fn default() -> Self {
        Adjacent {
            successors: Vec::new(),
            predecessors: Vec::new(),
        }
    }
}

/// One of a node's two lists of neighbours.
#[derive(Debug, Clone, Copy)]
enum Side {
    Successors,
    Predecessors,
}

/// An edge's weight, and its places in its nodes' vectors.
#[derive(Debug)]
struct Edge<E> {
    weight: E,
    /// Index of the edge's head in its tail's `successors`.
    in_successors: usize,
    /// Index of the edge's tail in its head's `predecessors`.
    in_predecessors: usize,
}

/// A directed graph with weights `E` on its edges; no parallel edges.
#[derive(Debug)]
pub(crate) struct OrderGraph<N, E> {
    nodes: FxHashMap<N, Adjacent<N>>,
    edges: FxHashMap<(N, N), Edge<E>>,
}

impl<N, E> Default for OrderGraph<N, E> {
    fn default() -> Self {
        OrderGraph {
            nodes: FxHashMap::default(),
            edges: FxHashMap::default(),
        }
    }
}

impl<N: Copy + Eq + Hash, E> OrderGraph<N, E> {
    /// The weight of `from → to`, if the edge is there.
    pub(crate) fn edge(&self, from: N, to: N) -> Option<&E> {
        self.edges.get(&(from, to)).map(|edge| &edge.weight)
    }

    /// The weight of `from → to`, mutably, if the edge is there.
    pub(crate) fn edge_mut(&mut self, from: N, to: N) -> Option<&mut E> {
        self.edges.get_mut(&(from, to)).map(|edge| &mut edge.weight)
    }

    /// Adds the edge `from → to` (and its nodes) with `weight`; the edge must be new.
    pub(crate) fn add_edge(&mut self, from: N, to: N, weight: E) {
        let successors = &mut self.nodes.entry(from).or_default().successors;
        let in_successors = successors.len();
        successors.push(to);
        let predecessors = &mut self.nodes.entry(to).or_default().predecessors;
        let in_predecessors = predecessors.len();
        predecessors.push(from);
        let old = self.edges.insert(
            (from, to),
            Edge {
                weight,
                in_successors,
                in_predecessors,
            },
        );
        debug_assert!(old.is_none(), "impasse: an order edge was added twice");
    }

    /// Removes `node` and its edges; whether it was there.
    pub(crate) fn remove_node(&mut self, node: N) -> bool {
        let Some(adjacent) = self.nodes.remove(&node) else {
            return false;
        };
        for successor in adjacent.successors {
            if let Some(edge) = self.edges.remove(&(node, successor)) {
                self.unlink(successor, Side::Predecessors, edge.in_predecessors);
            }
        }
        for predecessor in adjacent.predecessors {
            if let Some(edge) = self.edges.remove(&(predecessor, node)) {
                self.unlink(predecessor, Side::Successors, edge.in_successors);
            }
        }
        true
    }

    /// Takes the entry at `at` out of `node`'s list on `side`; the last entry moves there, and
    /// its edge's record of its place follows.
    fn unlink(&mut self, node: N, side: Side, at: usize) {
        let Some(adjacent) = self.nodes.get_mut(&node) else {
            return; // `node` is the node being removed (a self-loop): its lists are gone
        };
        let list = match side {
            Side::Successors => &mut adjacent.successors,
            Side::Predecessors => &mut adjacent.predecessors,
        };
        list.swap_remove(at);
        let Some(&moved) = list.get(at) else {
            return;
        };
        match side {
            Side::Successors => {
                if let Some(edge) = self.edges.get_mut(&(node, moved)) {
                    edge.in_successors = at;
                }
            }
            Side::Predecessors => {
                if let Some(edge) = self.edges.get_mut(&(moved, node)) {
                    edge.in_predecessors = at;
                }
            }
        }
    }

    /// The nodes `node` has an edge to.
    pub(crate) fn successors(&self, node: N) -> Vec<N> {
        self.nodes
            .get(&node)
            .map_or_else(Vec::new, |a| a.successors.clone())
    }

    /// The nodes that have an edge to `node`.
    pub(crate) fn predecessors(&self, node: N) -> Vec<N> {
        self.nodes
            .get(&node)
            .map_or_else(Vec::new, |a| a.predecessors.clone())
    }

    /// How many nodes and edges the graph has.
    #[cfg(test)]
    pub(crate) fn size(&self) -> (usize, usize) {
        (self.nodes.len(), self.edges.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_node_takes_every_edge_of_its_own() {
        let mut g: OrderGraph<u32, &str> = OrderGraph::default();
        g.add_edge(1, 2, "a");
        g.add_edge(2, 3, "b");
        g.add_edge(3, 1, "c");
        g.add_edge(1, 3, "d");
        assert_eq!(g.edge(2, 3), Some(&"b"));
        assert!(g.remove_node(3));
        assert_eq!(g.size(), (2, 1));
        assert_eq!(g.successors(1), vec![2]);
        assert!(g.predecessors(1).is_empty());
        assert!(!g.remove_node(3));
    }

    /// One step of a random history: add an edge (if new), or remove a node.
    #[derive(Debug, Clone)]
    enum Step {
        Add(u8, u8),
        Remove(u8),
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (0u8..12, 0u8..12).prop_map(|(a, b)| Step::Add(a, b)),
            1 => (0u8..12).prop_map(Step::Remove),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(256))]

        /// After any history of additions and removals, the graph holds exactly the edges a
        /// plain set of pairs holds, and every node's neighbours agree with them.
        #[test]
        fn agrees_with_a_set_of_pairs(steps in proptest::collection::vec(step(), 0..80)) {
            use std::collections::BTreeSet;
            let mut g: OrderGraph<u8, (u8, u8)> = OrderGraph::default();
            let mut model: BTreeSet<(u8, u8)> = BTreeSet::new();
            for step in steps {
                match step {
                    Step::Add(a, b) if a != b && !model.contains(&(a, b)) => {
                        g.add_edge(a, b, (a, b));
                        model.insert((a, b));
                    }
                    Step::Add(..) => {}
                    Step::Remove(n) => {
                        let had = model.iter().any(|&(a, b)| a == n || b == n);
                        let removed = g.remove_node(n);
                        proptest::prop_assert!(removed || !had);
                        model.retain(|&(a, b)| a != n && b != n);
                    }
                }
            }
            proptest::prop_assert_eq!(g.size().1, model.len());
            for n in 0..12u8 {
                let mut successors = g.successors(n);
                successors.sort_unstable();
                let expected: Vec<u8> =
                    model.iter().filter(|e| e.0 == n).map(|e| e.1).collect();
                proptest::prop_assert_eq!(successors, expected);
                let mut predecessors = g.predecessors(n);
                predecessors.sort_unstable();
                let expected: Vec<u8> =
                    model.iter().filter(|e| e.1 == n).map(|e| e.0).collect();
                proptest::prop_assert_eq!(predecessors, expected);
            }
            for &(a, b) in &model {
                proptest::prop_assert_eq!(g.edge(a, b), Some(&(a, b)));
            }
        }
    }
}
