//! The lock-order graph: potential deadlocks that did not happen in this run but can in
//! another interleaving (lockdep / GoodLock style).
//!
//! An edge `A → B` records that a thread acquired `B`, with an acquisition that could block,
//! while it held `A`; its witnesses say which thread, at which sites, with which accesses, what
//! else it held (its gate locks), and when (a vector-clock stamp). An edge that closes a cycle
//! is a finding only if one witness per edge can be chosen such that the cycle could really
//! deadlock (`Witnesses::can_deadlock`):
//!
//! - every edge comes from a different thread (one thread cannot wait for itself in two
//!   places), and the threads may run at the same time (no spawn/join order between them);
//! - no lock is held across every edge (a common gate lock serialises the edges);
//! - at each lock of the cycle, the access one thread waits for conflicts with the access the
//!   next thread holds (two readers never block each other).
//!
//! In strict mode (lockdep's discipline) nodes are lock classes (creation sites), and only the
//! last rule applies: any inversion of the class order is reported.
//!
//! Nodes of lock instances leave with their lock (`forget`), so memory follows the live locks.
//! Each distinct cycle is reported once per process.

use super::registry::{self, ResourceId};
use super::this_thread::ResourceRef;
use super::vector_clock::Stamp;
use crate::facade::sync::Mutex;
use crate::report::{self, Access, Inversion, OrderEdge, Report, ReportKind, ThreadRef};
use petgraph::graphmap::DiGraphMap;
use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::panic::Location;

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
    pub(crate) thread_name: Option<String>,
    pub(crate) from: ResourceRef,
    pub(crate) from_access: Access,
    pub(crate) from_at: &'static Location<'static>,
    pub(crate) to: ResourceRef,
    pub(crate) to_access: Access,
    pub(crate) to_at: &'static Location<'static>,
    /// The other locks the thread held at that moment.
    pub(crate) gates: Vec<Node>,
}

/// How many different witnesses an edge keeps: enough for the rules to find a valid choice
/// in practice, few enough that checking a cycle stays cheap.
const WITNESSES_PER_EDGE: usize = 4;
/// Cycles longer than this are not searched (a path of at most this many edges back).
const LONGEST_PATH: usize = 5;
/// How many candidate cycles one new edge may examine.
const PATHS_EXAMINED: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct LockOrder {
    graph: DiGraphMap<Node, Vec<Witness>>,
    reported: HashSet<Vec<Node>>,
}

crate::facade::global! {
    static LOCK_ORDER: Mutex<LockOrder> = Mutex::new(LockOrder::default());
}

/// Records `witnesses` (all of one acquisition, one per held lock) and returns the report of
/// the first cycle they close that can deadlock and was not reported before.
pub(crate) fn record(witnesses: Vec<Witness>, strict: bool, me: ThreadRef) -> Option<Report> {
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
        if !order.add(from, to, witness) {
            continue; // nothing new: any cycle through it was examined before
        }
        if finding.is_none() {
            finding = order.cycle_closed_by(from, to, strict, &me);
        }
    }
    finding
}

/// Removes a dropped lock and its edges.
pub(crate) fn forget(id: ResourceId) {
    let mut order = LOCK_ORDER.lock();
    let node = Node::Lock(id);
    if order.graph.remove_node(node) {
        order.reported.retain(|cycle| !cycle.contains(&node));
    }
}

impl LockOrder {
    /// Adds the witness to the edge; `false` if it brings nothing new (same thread, same
    /// gates as one already kept, or the edge keeps enough witnesses).
    fn add(&mut self, from: Node, to: Node, witness: Witness) -> bool {
        match self.graph.edge_weight_mut(from, to) {
            None => {
                self.graph.add_edge(from, to, vec![witness]);
                true
            }
            Some(kept) => {
                let known = kept
                    .iter()
                    .any(|w| w.stamp.thread == witness.stamp.thread && w.gates == witness.gates);
                if known || kept.len() >= WITNESSES_PER_EDGE {
                    return false;
                }
                kept.push(witness);
                true
            }
        }
    }

    /// A cycle through the edge `from → to` that can deadlock, as a report.
    fn cycle_closed_by(
        &mut self,
        from: Node,
        to: Node,
        strict: bool,
        me: &ThreadRef,
    ) -> Option<Report> {
        let LockOrder { graph, reported } = self;
        let paths = petgraph::algo::all_simple_paths::<Vec<Node>, _, RandomState>(
            &*graph,
            to,
            from,
            0,
            Some(LONGEST_PATH - 1),
        );
        for path in paths.take(PATHS_EXAMINED) {
            // path: to, ..., from; with the new edge from → to it is a cycle.
            let mut cycle = vec![from];
            cycle.extend(&path);
            cycle.pop(); // `from` again
            let edges: Vec<&[Witness]> = cycle
                .iter()
                .zip(cycle.iter().cycle().skip(1))
                .map(|(&a, &b)| graph.edge_weight(a, b).map(Vec::as_slice).unwrap_or(&[]))
                .collect();
            let Some(chosen) = choose(&edges, strict) else {
                continue;
            };
            let key = normalised(&cycle);
            if !reported.insert(key) {
                return None;
            }
            return Some(inversion_report(&chosen, strict, me));
        }
        None
    }
}

/// One witness per edge such that the cycle can deadlock, if there is such a choice.
fn choose<'w>(edges: &[&'w [Witness]], strict: bool) -> Option<Vec<&'w Witness>> {
    let mut chosen = Vec::with_capacity(edges.len());
    pick(edges, strict, &mut chosen).then_some(chosen)
}

/// Depth-first choice of witnesses, pruning as soon as a rule fails for the prefix.
fn pick<'w>(edges: &[&'w [Witness]], strict: bool, chosen: &mut Vec<&'w Witness>) -> bool {
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
                .any(|other| !other.stamp.concurrent_with(&witness.stamp))
        {
            continue;
        }
        chosen.push(witness);
        if pick(edges, strict, chosen) {
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

fn no_common_gate(chosen: &[&Witness]) -> bool {
    let Some((first, rest)) = chosen.split_first() else {
        return true;
    };
    !first
        .gates
        .iter()
        .any(|gate| rest.iter().all(|w| w.gates.contains(gate)))
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
            thread: ThreadRef::new(w.stamp.thread.get(), w.thread_name.clone()),
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
