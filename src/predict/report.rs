//! A lock-order finding as a [`Report`]: one definition, for the runtime (sites are
//! `Location`s, names come from its registry) and for a trace's replay (sites and names from
//! the trace).

use super::witness::Witness;
use crate::model::{ResourceId, ResourceRef, ThreadKey};
use crate::report::{self, Inversion, OrderEdge, Report, ReportKind, ThreadRef};

/// The report of the cycle `chosen` (one witness per edge, the closing edge first), found by
/// `detected_by`; `site` renders a site, `name` finds the name given to a resource.
pub fn inversion_report<S: Copy>(
    chosen: &[Witness<S>],
    strict: bool,
    detected_by: ThreadRef,
    site: impl Fn(S) -> report::Site,
    name: impl Fn(ResourceId) -> Option<String>,
) -> Report {
    let resource = |r: &ResourceRef<S>| report::Resource {
        id: r.id.get(),
        kind: r.kind,
        name: name(r.id),
        created_at: site(r.created_at),
    };
    let edges: Vec<OrderEdge> = chosen
        .iter()
        .map(|w| OrderEdge {
            thread: thread_ref(w.stamp.thread, w.thread_name.as_deref()),
            held: resource(&w.from),
            held_access: w.from_access,
            held_at: site(w.from_at),
            acquired: resource(&w.to),
            acquired_access: w.to_access,
            acquired_at: site(w.to_at),
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
        detected_by,
        world: None,
        inversion: Some(Inversion {
            edges,
            suggested_order,
            strict,
        }),
        bystanders: Vec::new(),
    }
}

/// A thread as a report names it.
pub fn thread_ref(thread: ThreadKey, name: Option<&str>) -> ThreadRef {
    ThreadRef::new(thread.get(), name.map(str::to_owned))
}
