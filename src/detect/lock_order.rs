//! The lock-order graph: potential deadlocks that did not happen in this run but can in
//! another interleaving (lockdep / GoodLock style).
//!
//! An edge `A → B` records that a thread acquired `B`, with an acquisition that could block,
//! while it held `A`; its witnesses say which thread, at which sites, with which accesses, what
//! else it held (its gate locks, and how), and when (a vector-clock stamp). An edge that closes
//! a cycle is a finding only if one witness per edge can be chosen such that the cycle could
//! really deadlock (`choose`):
//!
//! - every edge comes from a different thread (one thread cannot wait for itself in two
//!   places), and the threads may run at the same time (no spawn/join order between them);
//! - no lock is held across every edge in ways that exclude each other (a common gate lock
//!   serialises the edges; two read holds of it do not);
//! - at each lock of the cycle, the access one thread waits for conflicts with the access the
//!   next thread holds (two readers never block each other).
//!
//! In strict mode (lockdep's discipline) nodes are lock classes (creation sites), and only the
//! last rule applies: any inversion of the class order is reported.
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
//! Nodes of lock instances leave with their lock (`forget`), so memory follows the live locks.
//! Each distinct cycle is reported once per process.

use super::order_graph::OrderGraph;
use super::registry::ThreadKey;
use super::registry::{self, ResourceId};
use super::this_thread::ResourceRef;
use super::topo_order::{Added, TopoOrder};
use super::vector_clock::{Absorbed, Stamp};
use crate::facade::sync::Mutex;
use crate::report::{self, Access, Inversion, OrderEdge, Report, ReportKind, ThreadRef};
use rustc_hash::FxHashSet;
use std::panic::Location;
use std::sync::Arc;

/// A node: a lock instance, or (strict mode) a lock class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Node {
    Lock(ResourceId),
    Class(&'static Location<'static>),
}

impl Node {
    pub(crate) fn of(resource: &ResourceRef, strict: bool) -> Node {
        if strict {
            Node::Class(resource.created_at)
        } else {
            Node::Lock(resource.id)
        }
    }
}

/// One thread's acquisition of `to` while it held `from`.
#[derive(Debug, Clone)]
pub(crate) struct Witness {
    pub(crate) stamp: Stamp,
    pub(crate) thread_name: Option<Arc<str>>,
    pub(crate) from: ResourceRef,
    pub(crate) from_access: Access,
    pub(crate) from_at: &'static Location<'static>,
    pub(crate) to: ResourceRef,
    pub(crate) to_access: Access,
    pub(crate) to_at: &'static Location<'static>,
    /// The other locks the thread held at that moment, and how.
    pub(crate) gates: Vec<(Node, Access)>,
    /// Where the two locks were: a node new to the order is placed by its lock's address.
    pub(crate) from_address: usize,
    pub(crate) to_address: usize,
}

impl Witness {
    /// Whether this witness makes `older` useless: every later acquisition that could run at
    /// the same time as `older` can also run at the same time as this one (`older` happened
    /// before it), with the same accesses, and this one is gated by no more locks.
    fn supersedes(&self, older: &Witness, absorbed: &Absorbed) -> bool {
        older.stamp.happened_before(&self.stamp, absorbed)
            && older.from_access == self.from_access
            && older.to_access == self.to_access
            && self.gates.iter().all(|gate| older.gates.contains(gate))
    }
}

/// An edge's witnesses. Not inline: the graph's table moves its entries as it grows, and a
/// witness is large.
type Witnesses = Vec<Witness>;

/// How many witnesses an edge keeps at most. A new witness first replaces those it
/// supersedes (threads ordered one after another by spawn and join leave one); past the limit
/// the oldest goes (only many threads that may all run at once take an edge this often).
const WITNESSES_PER_EDGE: usize = 16;
/// How many steps the search for a cycle through a new edge may take.
pub(crate) const SEARCH_STEPS: usize = 20_000;

#[derive(Debug, Default)]
pub(crate) struct LockOrder {
    graph: OrderGraph<Node, Witnesses>,
    order: TopoOrder<Node>,
    reported: FxHashSet<Vec<Node>>,
    /// Where joined threads' ends went, for the witnesses' stamps (`vector_clock.rs`).
    absorbed: Absorbed,
}

crate::facade::global! {
    static LOCK_ORDER: Mutex<LockOrder> = Mutex::new(LockOrder::default());
}

/// Records `witnesses` (all of one acquisition, one per held lock) and returns the report of
/// the first cycle they close that can deadlock and was not reported before.
pub(crate) fn record(witnesses: Vec<Witness>, strict: bool) -> Option<Report> {
    let (thread, name) = match witnesses.first() {
        Some(w) => (w.stamp.thread.get(), w.thread_name.clone()),
        None => return None,
    };
    // Built only for a report: most acquisitions close no cycle, and a name costs an allocation.
    let me = || ThreadRef::new(thread, name.as_deref().map(str::to_owned));
    let mut order = LOCK_ORDER.lock();
    let mut finding = None;
    for witness in witnesses {
        let (from, to) = (
            Node::of(&witness.from, strict),
            Node::of(&witness.to, strict),
        );
        if from == to {
            continue; // relocking (reported as a deadlock) or, strict, one class in a hierarchy
        }
        let Some(added) = order.add(from, to, witness) else {
            continue; // nothing new: any cycle through it was examined before
        };
        if finding.is_none() && added == Added::InCycle {
            finding = order.cycle_closed_by(from, to, strict, &me);
        }
    }
    finding
}

/// Records that `thread`, whose stamps some witness may hold, was joined by `joiner`, whose
/// epoch just after the join is `epoch`.
pub(crate) fn absorbed(thread: ThreadKey, joiner: ThreadKey, epoch: u64) {
    LOCK_ORDER.lock().absorbed.record(thread, joiner, epoch);
}

/// Removes a dropped lock and its edges.
pub(crate) fn forget(id: ResourceId) {
    let mut order = LOCK_ORDER.lock();
    let node = Node::Lock(id);
    if order.graph.remove_node(node) {
        order.order.remove_node(node);
        order.reported.retain(|cycle| !cycle.contains(&node));
    }
}

impl LockOrder {
    /// Adds the witness to the edge; `None` if it brings nothing new (same thread, same gates
    /// as one kept), else whether the edge may close a cycle.
    fn add(&mut self, from: Node, to: Node, witness: Witness) -> Option<Added> {
        match self.graph.edge_mut(from, to) {
            None => {
                // A new node goes where its lock's address puts it: locks in an array (or
                // allocated one after another) taken by index agree with the order at once.
                self.order.add_node(from, witness.from_address as u64);
                self.order.add_node(to, witness.to_address as u64);
                self.graph.add_edge(from, to, vec![witness]);
                let graph = &self.graph;
                let successors = |n: Node| graph.successors(n);
                let predecessors = |n: Node| graph.predecessors(n);
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

    /// A cycle through the edge `from → to` that can deadlock, as a report: a walk of the
    /// simple paths from `to` back to `from`, within [`SEARCH_STEPS`].
    fn cycle_closed_by(
        &mut self,
        from: Node,
        to: Node,
        strict: bool,
        me: &impl Fn() -> ThreadRef,
    ) -> Option<Report> {
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
                let edges: Vec<&[Witness]> = path
                    .iter()
                    .zip(path.iter().cycle().skip(1))
                    .map(|(&a, &b)| graph.edge(a, b).map(|w| w.as_slice()).unwrap_or(&[]))
                    .collect();
                if let Some(chosen) = choose(&edges, strict, absorbed) {
                    if !reported.insert(normalised(&path)) {
                        return None;
                    }
                    return Some(inversion_report(&chosen, strict, &me()));
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

/// One witness per edge such that the cycle can deadlock, if there is such a choice.
fn choose<'w>(
    edges: &[&'w [Witness]],
    strict: bool,
    absorbed: &Absorbed,
) -> Option<Vec<&'w Witness>> {
    let mut chosen = Vec::with_capacity(edges.len());
    pick(edges, strict, absorbed, &mut chosen).then_some(chosen)
}

/// Depth-first choice of witnesses, pruning as soon as a rule fails for the prefix.
fn pick<'w>(
    edges: &[&'w [Witness]],
    strict: bool,
    absorbed: &Absorbed,
    chosen: &mut Vec<&'w Witness>,
) -> bool {
    let i = chosen.len();
    if i == edges.len() {
        let closes = chosen
            .last()
            .zip(chosen.first())
            .is_some_and(|(last, first)| blocks(last, first));
        return closes && (strict || no_common_gate(chosen));
    }
    for witness in edges[i] {
        if let Some(previous) = chosen.last() {
            if !blocks(previous, witness) {
                continue;
            }
        }
        if !strict
            && chosen
                .iter()
                .any(|other| !other.stamp.concurrent_with(&witness.stamp, absorbed))
        {
            continue;
        }
        chosen.push(witness);
        if pick(edges, strict, absorbed, chosen) {
            return true;
        }
        chosen.pop();
    }
    false
}

/// Whether the acquisition of `first` (waiting for its `to`) can be blocked by `next` holding
/// that same lock as its `from`.
fn blocks(first: &Witness, next: &Witness) -> bool {
    super::wait_for::conflicts(first.to_access, next.from_access)
}

/// Whether no lock was held across every chosen edge in ways that exclude each other (a gate:
/// with it, no two of the edges can be taken at once). Read holds of one lock do not exclude
/// each other, so a lock read-held across the edges is no gate.
fn no_common_gate(chosen: &[&Witness]) -> bool {
    let Some((first, _)) = chosen.split_first() else {
        return true;
    };
    !first.gates.iter().any(|&(gate, _)| {
        let holds: Option<Vec<Access>> = chosen
            .iter()
            .map(|w| w.gates.iter().find(|(g, _)| *g == gate).map(|&(_, a)| a))
            .collect();
        holds.is_some_and(|holds| {
            holds.iter().enumerate().all(|(i, &a)| {
                holds[i + 1..]
                    .iter()
                    .all(|&b| super::wait_for::conflicts(a, b) || super::wait_for::conflicts(b, a))
            })
        })
    })
}

/// The cycle rotated to start at its smallest node, so each cycle has one key.
fn normalised(cycle: &[Node]) -> Vec<Node> {
    let start = cycle
        .iter()
        .enumerate()
        .min_by_key(|(_, node)| **node)
        .map_or(0, |(i, _)| i);
    cycle[start..]
        .iter()
        .chain(&cycle[..start])
        .copied()
        .collect()
}

fn inversion_report(chosen: &[&Witness], strict: bool, me: &ThreadRef) -> Report {
    let edges: Vec<OrderEdge> = chosen
        .iter()
        .map(|w| OrderEdge {
            thread: ThreadRef::new(
                w.stamp.thread.get(),
                w.thread_name.as_deref().map(str::to_owned),
            ),
            held: resource(&w.from),
            held_access: w.from_access,
            held_at: w.from_at.into(),
            acquired: resource(&w.to),
            acquired_access: w.to_access,
            acquired_at: w.to_at.into(),
        })
        .collect();
    // The edge just added closed the cycle; the others are the order established before it,
    // which is the order to keep: start from the closing edge's target.
    let suggested_order = edges
        .iter()
        .skip(1)
        .map(|e| e.held.clone())
        .chain(edges.first().map(|e| e.held.clone()))
        .collect();
    Report {
        kind: ReportKind::PotentialDeadlock,
        threads: Vec::new(),
        detected_by: me.clone(),
        world: None,
        inversion: Some(Inversion {
            edges,
            suggested_order,
            strict,
        }),
        bystanders: Vec::new(),
    }
}

fn resource(r: &ResourceRef) -> report::Resource {
    report::Resource {
        id: r.id.get(),
        kind: r.kind,
        name: registry::name_of(r.id),
        created_at: r.created_at.into(),
    }
}
