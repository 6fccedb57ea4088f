//! The slow path of the lock-order check: an acquisition that adds edges this thread has not
//! recorded before builds their witnesses, records them in the lock-order graph, and reports
//! the inversion they close (the rules: `src/predict/`).

use super::detector;
use super::lock_order;
use super::threads::WorldId;
use super::{this_thread, Acquire, ResourceMeta};
use crate::predict;
use std::panic::Location;

/// Records the edges from every lock this thread holds to the one it just acquired (the top
/// of its held stack), then applies the inversion policy to a cycle they close; a policy that
/// unwinds first undoes the acquisition through `lock`.
#[cold]
#[track_caller]
pub(super) fn record_edges(
    meta: &ResourceMeta,
    at: &'static Location<'static>,
    lock: &impl Acquire,
) {
    let strict = crate::policy::strict_lock_order();
    let Some(held) = this_thread::hot(this_thread::HotState::holds) else {
        return;
    };
    let Some(Some((witnesses, top))) = this_thread::with(|t| {
        let top = *held.last()?;
        let witnesses = predict::witnesses_of(&held, &t.witness_stamp(), t.name().as_ref(), strict);
        Some((witnesses, top))
    }) else {
        return;
    };
    // In the trace after the clock its witnesses carry, and before a report can unwind.
    #[cfg(not(loom))]
    if crate::trace::record::on() {
        super::trace_acquired(meta, top.access, at, true);
    }
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
            #[cfg(not(loom))]
            if crate::trace::record::on() {
                crate::trace::record::released(top.resource.id, top.access);
            }
            // SAFETY: `lock` has just acquired on this thread (we are inside `acquired`), and
            // this is the only undo of that acquisition: the thread unwinds right after.
            unsafe { lock.release() }
        });
    }
}
