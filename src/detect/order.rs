//! The slow path of the lock-order check: an acquisition that adds edges this thread has not
//! recorded before builds their witnesses, records them in the lock-order graph, and reports
//! the inversion they close (the rules: `src/predict/`).

use super::detector;
use super::lock_order::{self, Node, Witness};
use super::threads::WorldId;
use super::{this_thread, Acquire, ResourceMeta};
use crate::report::Access;
use std::panic::Location;

/// Records the edges from every lock this thread holds to the one it just acquired (the top
/// of its held stack), then applies the inversion policy to a cycle they close; a policy that
/// unwinds first undoes the acquisition through `lock`.
#[cold]
#[track_caller]
pub(super) fn record_edges(
    meta: &ResourceMeta,
    access: Access,
    at: &'static Location<'static>,
    lock: &impl Acquire,
) {
    let strict = crate::policy::strict_lock_order();
    let Some(held) = this_thread::hot(this_thread::HotState::holds) else {
        return;
    };
    let Some(Some((witnesses, top))) = this_thread::with(|t| {
        let (top, before) = held.split_last()?;
        let stamp = t.witness_stamp();
        let name = t.name();
        let nodes: Vec<(Node, Access)> = before
            .iter()
            .map(|h| (Node::of(&h.resource, strict), h.access))
            .collect();
        let witnesses = before
            .iter()
            .enumerate()
            .filter(|(_, h)| h.resource.id != top.resource.id)
            .map(|(i, h)| Witness {
                stamp: stamp.clone(),
                thread_name: name.clone(),
                from: h.resource,
                from_access: h.access,
                from_at: h.at,
                to: top.resource,
                to_access: access,
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
            .collect();
        Some((witnesses, *top))
    }) else {
        return;
    };
    let report = lock_order::record(witnesses, strict);
    this_thread::hot(this_thread::HotState::edges_recorded);
    meta.mark_ordered();
    if let Some(report) = report {
        let fails_test = || {
            let world = this_thread::with(|t| t.world()).unwrap_or(WorldId::PROGRAM);
            detector::lock().threads.note_finding(world, &report);
        };
        crate::policy::inversion_found(&report, super::is_relocking(at), fails_test, || {
            this_thread::hot(|h| h.pop(top.resource.id, top.access));
            // SAFETY: `lock` has just acquired on this thread (we are inside `acquired`), and
            // this is the only undo of that acquisition: the thread unwinds right after.
            unsafe { lock.release() }
        });
    }
}
