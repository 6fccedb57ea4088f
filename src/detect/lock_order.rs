//! The process's lock-order graph (`predict::LockOrder`, where the rules and their argument
//! live), behind one global lock, and the reports of the inversions it finds.

use super::registry;
use crate::facade::sync::Mutex;
use crate::model::{ResourceId, ResourceRef, ThreadKey};
use crate::predict::{self, LockOrder};
use crate::report::{self, Inversion, OrderEdge, Report, ReportKind, ThreadRef};
use std::panic::Location;

/// The runtime's sites.
type Site = &'static Location<'static>;
/// A witness of the runtime's.
pub(crate) type Witness = predict::Witness<Site>;

crate::facade::global! {
    static LOCK_ORDER: Mutex<LockOrder<Site>> = Mutex::new(LockOrder::default());
}

/// Records `witnesses` (all of one acquisition, one per held lock) and returns the report of
/// the first cycle they close that can deadlock and was not reported before.
pub(crate) fn record(witnesses: Vec<Witness>, strict: bool) -> Option<Report> {
    let reporter = witnesses
        .first()
        .map(|w| (w.stamp.thread, w.thread_name.clone()))?;
    let chosen = LOCK_ORDER.lock().record(witnesses, strict)?;
    Some(inversion_report(&chosen, strict, reporter))
}

/// Records that `thread`, whose stamps some witness may hold, was joined by `joiner`, whose
/// epoch just after the join is `epoch`.
pub(crate) fn absorbed(thread: ThreadKey, joiner: ThreadKey, epoch: u64) {
    LOCK_ORDER.lock().absorbed(thread, joiner, epoch);
}

/// Removes a dropped lock and its edges.
pub(crate) fn forget(id: ResourceId) {
    LOCK_ORDER.lock().forget(id);
}

fn thread_ref(thread: ThreadKey, name: Option<&str>) -> ThreadRef {
    ThreadRef::new(thread.get(), name.map(str::to_owned))
}

/// The report of the cycle `chosen` (the closing edge first), found by `reporter`'s acquisition.
fn inversion_report(
    chosen: &[Witness],
    strict: bool,
    reporter: (ThreadKey, Option<std::sync::Arc<str>>),
) -> Report {
    let edges: Vec<OrderEdge> = chosen
        .iter()
        .map(|w| OrderEdge {
            thread: thread_ref(w.stamp.thread, w.thread_name.as_deref()),
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
        detected_by: thread_ref(reporter.0, reporter.1.as_deref()),
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
