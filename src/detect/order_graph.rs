//! The lock-order graph's storage: a directed graph keyed by node, whose edges carry weights,
//! with constant-time insertion and removal of edges and a node's removal in time linear in its
//! degree.
//!
//! Why not petgraph's `GraphMap`: it keeps each node's neighbours in a vector, so removing a
//! node costs the square of its degree (each neighbour's vector is searched for it), and a
//! thousand account locks taken in every pairwise order made dropping them take longer than the
//! program that took them. Here a node's neighbours are hash sets. The graph's algorithms (the
//! topological order, the search for cycles) live in `topo_order.rs` and `lock_order.rs`, and
//! see the graph only through [`OrderGraph::successors`] and [`OrderGraph::predecessors`].

use rustc_hash::{FxHashMap, FxHashSet};
use std::hash::Hash;

/// A node's neighbours.
#[derive(Debug)]
struct Adjacent<N> {
    successors: FxHashSet<N>,
    predecessors: FxHashSet<N>,
}

impl<N> Default for Adjacent<N> {
    fn default() -> Self {
        Adjacent {
            successors: FxHashSet::default(),
            predecessors: FxHashSet::default(),
        }
    }
}

/// A directed graph with weights `E` on its edges; no parallel edges.
#[derive(Debug)]
pub(crate) struct OrderGraph<N, E> {
    nodes: FxHashMap<N, Adjacent<N>>,
    edges: FxHashMap<(N, N), E>,
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
        self.edges.get(&(from, to))
    }

    /// The weight of `from → to`, mutably, if the edge is there.
    pub(crate) fn edge_mut(&mut self, from: N, to: N) -> Option<&mut E> {
        self.edges.get_mut(&(from, to))
    }

    /// Adds the edge `from → to` (and its nodes) with `weight`; the edge must be new.
    pub(crate) fn add_edge(&mut self, from: N, to: N, weight: E) {
        self.nodes.entry(from).or_default().successors.insert(to);
        self.nodes.entry(to).or_default().predecessors.insert(from);
        self.edges.insert((from, to), weight);
    }

    /// Removes `node` and its edges; whether it was there.
    pub(crate) fn remove_node(&mut self, node: N) -> bool {
        let Some(adjacent) = self.nodes.remove(&node) else {
            return false;
        };
        for successor in adjacent.successors {
            self.edges.remove(&(node, successor));
            if let Some(other) = self.nodes.get_mut(&successor) {
                other.predecessors.remove(&node);
            }
        }
        for predecessor in adjacent.predecessors {
            self.edges.remove(&(predecessor, node));
            if let Some(other) = self.nodes.get_mut(&predecessor) {
                other.successors.remove(&node);
            }
        }
        true
    }

    /// The nodes `node` has an edge to.
    pub(crate) fn successors(&self, node: N) -> Vec<N> {
        self.nodes
            .get(&node)
            .map_or_else(Vec::new, |a| a.successors.iter().copied().collect())
    }

    /// The nodes that have an edge to `node`.
    pub(crate) fn predecessors(&self, node: N) -> Vec<N> {
        self.nodes
            .get(&node)
            .map_or_else(Vec::new, |a| a.predecessors.iter().copied().collect())
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
}
