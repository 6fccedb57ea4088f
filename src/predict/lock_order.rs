//! The lock-order graph: an edge `A → B` for every lock `B` acquired, by an acquisition that
//! could block, while `A` was held, with the witnesses of that order; and the search for the
//! cycles a new edge or witness closes that can deadlock (`rules.rs`).
//!
//! Whether a new edge closes a cycle at all is answered by a dynamic topological order of the
//! graph's components (`topo_order.rs`): in constant time for an edge that agrees with the
//! order (the usual case: locks taken in a consistent order, by index say, however many), and
//! otherwise by a search of only the part of the order that must change. A lock enters the
//! order at the place of its address, so locks of an array (or allocated one after another)
//! taken by index agree with the order from their first edge and never move. Only an edge that
//! closes a cycle is searched for one whose witnesses can deadlock, by a depth-first walk of
//! simple paths back to its start with a budget of steps ([`SEARCH_STEPS`]): cycles of any
//! length are found; in a dense tangle of cycles the walk may stop before it has seen them all,
//! and a cycle it did not see is reported when one of its edges is next recorded anew.
//!
//! Each distinct cycle is reported once; nodes of lock instances leave with their lock
//! ([`LockOrder::forget`]), so memory follows the live locks.

use super::order_graph::OrderGraph;
use super::rules::{choose, normalised};
use super::topo_order::{Added, TopoOrder};
use super::vector_clock::Absorbed;
use super::witness::{Node, Witness};
use crate::model::{ResourceId, SiteKey, ThreadKey};
use rustc_hash::FxHashSet;

/// How many witnesses an edge keeps at most. A new witness first replaces those it
/// supersedes (threads ordered one after another by spawn and join leave one); past the limit
/// the oldest goes (only many threads that may all run at once take an edge this often).
pub const WITNESSES_PER_EDGE: usize = 16;
/// How many steps the search for a cycle through a new edge may take.
pub const SEARCH_STEPS: usize = 20_000;

/// An edge's witnesses. Not inline: the graph's table moves its entries as it grows, and a
/// witness is large.
type Witnesses<S> = Vec<Witness<S>>;

/// The lock-order graph of one process (or, in the analyzer, of one trace).
#[derive(Debug)]
pub struct LockOrder<S> {
    graph: OrderGraph<Node<S>, Witnesses<S>>,
    order: TopoOrder<Node<S>>,
    reported: FxHashSet<Vec<Node<S>>>,
    /// Where joined threads' ends went, for the witnesses' stamps (`vector_clock.rs`).
    absorbed: Absorbed,
}

impl<S> Default for LockOrder<S> {
    fn default() -> Self {
        LockOrder {
            graph: OrderGraph::default(),
            order: TopoOrder::default(),
            reported: FxHashSet::default(),
            absorbed: Absorbed::default(),
        }
    }
}

impl<S: SiteKey> LockOrder<S> {
    /// Records `witnesses` (all of one acquisition, one per lock held) and returns the first
    /// cycle they close that can deadlock and was not returned before: one witness per edge,
    /// the edge just recorded first, then the order established before it.
    pub fn record(
        &mut self,
        witnesses: impl IntoIterator<Item = Witness<S>>,
        strict: bool,
    ) -> Option<Vec<Witness<S>>> {
        let mut finding = None;
        for witness in witnesses {
            let (from, to) = (
                Node::of(&witness.from, strict),
                Node::of(&witness.to, strict),
            );
            if from == to {
                continue; // relocking (reported as a deadlock) or, strict, one class in a hierarchy
            }
            let Some(added) = self.add(from, to, witness) else {
                continue; // nothing new: any cycle through it was examined before
            };
            if finding.is_none() && added == Added::InCycle {
                finding = self.cycle_closed_by(from, to, strict);
            }
        }
        finding
    }

    /// Records that `thread`, whose stamps some witness may hold, was joined by `joiner`, whose
    /// epoch just after the join is `epoch`.
    pub fn absorbed(&mut self, thread: ThreadKey, joiner: ThreadKey, epoch: u64) {
        self.absorbed.record(thread, joiner, epoch);
    }

    /// Removes a dropped lock and its edges.
    pub fn forget(&mut self, id: ResourceId) {
        let node = Node::Lock(id);
        if self.graph.remove_node(node) {
            self.order.remove_node(node);
            self.reported.retain(|cycle| !cycle.contains(&node));
        }
    }

    /// Adds the witness to the edge; `None` if it brings nothing new (same thread, same gates
    /// as one kept), else whether the edge may close a cycle.
    fn add(&mut self, from: Node<S>, to: Node<S>, witness: Witness<S>) -> Option<Added> {
        match self.graph.edge_mut(from, to) {
            None => {
                // A new node goes where its lock's address puts it: locks in an array (or
                // allocated one after another) taken by index agree with the order at once.
                self.order.add_node(from, witness.from_address as u64);
                self.order.add_node(to, witness.to_address as u64);
                self.graph.add_edge(from, to, vec![witness]);
                let graph = &self.graph;
                let successors = |n: Node<S>| graph.successors(n);
                let predecessors = |n: Node<S>| graph.predecessors(n);
                Some(self.order.add_edge(from, to, successors, predecessors))
            }
            Some(kept) => {
                let known = kept
                    .iter()
                    .any(|w| w.stamp.thread == witness.stamp.thread && w.gates == witness.gates);
                if known {
                    return None;
                }
                let absorbed = &self.absorbed;
                kept.retain(|older| !witness.supersedes(older, absorbed));
                if kept.len() >= WITNESSES_PER_EDGE {
                    kept.remove(0);
                }
                kept.push(witness);
                // A new witness can make a cycle through this edge reportable, if there is one.
                Some(if self.order.same_component(from, to) {
                    Added::InCycle
                } else {
                    Added::Acyclic
                })
            }
        }
    }

    /// A cycle through the edge `from → to` that can deadlock, as its witnesses: a walk of the
    /// simple paths from `to` back to `from`, within [`SEARCH_STEPS`].
    fn cycle_closed_by(
        &mut self,
        from: Node<S>,
        to: Node<S>,
        strict: bool,
    ) -> Option<Vec<Witness<S>>> {
        let LockOrder {
            graph,
            order,
            reported,
            absorbed,
        } = self;
        // `path` is the cycle so far (the new edge first); `branches[i]` the successors of
        // `path[i + 1]` not walked yet.
        let mut path = vec![from, to];
        let mut branches = vec![graph.successors(to)];
        let mut steps = 0;
        while let Some(top) = branches.last_mut() {
            let Some(next) = top.pop() else {
                branches.pop();
                path.pop();
                continue;
            };
            steps += 1;
            if steps > SEARCH_STEPS {
                return None;
            }
            if next == from {
                // The last node of `path` has an edge back to `from`: a cycle.
                let edges: Vec<&[Witness<S>]> = path
                    .iter()
                    .zip(path.iter().cycle().skip(1))
                    .map(|(&a, &b)| graph.edge(a, b).map(|w| w.as_slice()).unwrap_or(&[]))
                    .collect();
                if let Some(chosen) = choose(&edges, strict, absorbed) {
                    if !reported.insert(normalised(&path)) {
                        return None;
                    }
                    return Some(chosen.into_iter().cloned().collect());
                }
                continue;
            }
            // Only nodes on a common cycle with the edge can lead back to `from`.
            if path.contains(&next) || !order.same_component(next, from) {
                continue;
            }
            path.push(next);
            branches.push(graph.successors(next));
        }
        None
    }
}
