//! The lock-order graph's nodes and the evidence on its edges.

use super::vector_clock::{Absorbed, Stamp};
use crate::model::{Held, ResourceId, ResourceRef, SiteKey};
use crate::report::Access;
use std::sync::Arc;

/// A node of the lock-order graph: a lock instance, or (strict mode) a lock class, named by
/// its creation site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node<S> {
    /// One lock.
    Lock(ResourceId),
    /// Every lock created at this site (lockdep's class).
    Class(S),
}

impl<S: SiteKey> Node<S> {
    /// The node `resource` is: itself, or its class in strict mode.
    pub fn of(resource: &ResourceRef<S>, strict: bool) -> Node<S> {
        if strict {
            Node::Class(resource.created_at)
        } else {
            Node::Lock(resource.id)
        }
    }
}

/// One thread's acquisition of `to`, by an acquisition that could block, while it held `from`:
/// the evidence for the edge `from → to`.
#[derive(Debug, Clone)]
pub struct Witness<S> {
    /// The thread, and when (for "could these two have run at the same time?").
    pub stamp: Stamp,
    /// The thread's name, shared by every witness of the thread.
    pub thread_name: Option<Arc<str>>,
    /// The lock held.
    pub from: ResourceRef<S>,
    /// How it was held.
    pub from_access: Access,
    /// Where it was acquired.
    pub from_at: S,
    /// The lock acquired.
    pub to: ResourceRef<S>,
    /// How it was acquired.
    pub to_access: Access,
    /// Where.
    pub to_at: S,
    /// The other locks the thread held at that moment, and how: its gate locks.
    pub gates: Vec<(Node<S>, Access)>,
    /// Where `from` was in memory: a node new to the order is placed by its lock's address.
    pub from_address: usize,
    /// Where `to` was in memory.
    pub to_address: usize,
}

impl<S: SiteKey> Witness<S> {
    /// Whether this witness makes `older` useless: every later acquisition that could run at
    /// the same time as `older` can also run at the same time as this one (`older` happened
    /// before it), with the same accesses, and this one is gated by no more locks.
    pub(crate) fn supersedes(&self, older: &Witness<S>, absorbed: &Absorbed) -> bool {
        older.stamp.happened_before(&self.stamp, absorbed)
            && older.from_access == self.from_access
            && older.to_access == self.to_access
            && self.gates.iter().all(|gate| older.gates.contains(gate))
    }
}

/// The witnesses of an acquisition: `held` is what the thread holds, oldest first, ending with
/// the hold just acquired (by an acquisition that could block); one witness from each earlier
/// hold of another lock to it, each gated by the other holds.
pub fn witnesses_of<S: SiteKey>(
    held: &[Held<S>],
    stamp: &Stamp,
    thread_name: Option<&Arc<str>>,
    strict: bool,
) -> Vec<Witness<S>> {
    let Some((top, before)) = held.split_last() else {
        return Vec::new();
    };
    let nodes: Vec<(Node<S>, Access)> = before
        .iter()
        .map(|h| (Node::of(&h.resource, strict), h.access))
        .collect();
    before
        .iter()
        .enumerate()
        .filter(|(_, h)| h.resource.id != top.resource.id)
        .map(|(i, h)| Witness {
            stamp: stamp.clone(),
            thread_name: thread_name.cloned(),
            from: h.resource,
            from_access: h.access,
            from_at: h.at,
            to: top.resource,
            to_access: top.access,
            to_at: top.at,
            from_address: h.address,
            to_address: top.address,
            gates: nodes
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &node)| node)
                .collect(),
        })
        .collect()
}
