//! Traces fed to the lock-order rules ([`crate::predict`]) as the runtime feeds them: each
//! thread's holds rebuilt from its acquisitions and releases, each acquisition that could
//! block while others were held turned into witnesses with the thread's clock of that moment.
//!
//! Two passes over each trace: the first collects what any thread's events may need from
//! another's (resources' kinds and classes, the ends of joined threads), since chunks of
//! different threads are in the file in the order they were written, not the order things
//! happened; the second replays. Memory follows threads, held locks and the lock-order graph,
//! not the number of events.
//!
//! Many traces (one per test process, say) can be replayed as one: [`lock_order_across`]. Their
//! threads and resources are numbered anew so that the processes' numbers do not collide, and
//! their sites are merged by file, line and column, so that in strict mode (lock classes, as
//! lockdep orders them) two tests that each take the same two classes in opposite orders, each
//! harmless alone, make one finding.

use super::event::{Event, SiteId};
use super::reader::{TraceError, TraceReader};
use crate::model::{Held, ResourceId, ResourceRef, ThreadKey};
use crate::predict::{
    inversion_report, thread_ref, witnesses_of, LockOrder, Stamp, VectorClock, Witness,
};
use crate::report::{Report, ResourceKind, Site, ThreadRef};
use rustc_hash::{FxHashMap, FxHashSet};
use std::io::Read;
use std::sync::Arc;

/// A cycle of the lock-order graph that can deadlock: one witness per edge, the edge that
/// closed it first, then the order established before it.
pub type Finding = Vec<Witness<SiteId>>;

/// One thread, as far as the replay has got.
#[derive(Debug, Default)]
struct Thread {
    held: Vec<Held<SiteId>>,
    clock: Arc<VectorClock>,
    name: Option<Arc<str>>,
}

/// What a replay found, with what its reports need from the traces.
#[derive(Debug)]
pub struct Replayed {
    /// The inversions, in the order they were found.
    pub findings: Vec<Finding>,
    /// Whether the findings are of lock classes (strict mode) rather than instances.
    pub strict: bool,
    /// The traces that were cut off: their place among the traces replayed, and the offset
    /// of the cut (what follows was not read).
    pub truncated: Vec<(usize, u64)>,
    names: FxHashMap<ResourceId, String>,
    sites: Vec<Site>,
    /// For each thread of the findings, the trace it came from.
    trace_of: FxHashMap<ThreadKey, usize>,
}

impl Replayed {
    /// `finding` as a report, with the traces' sites and names; the thread that closed the
    /// cycle in the replay is named as the one that detected it.
    pub fn report(&self, finding: &[Witness<SiteId>]) -> Report {
        let detected_by = finding.first().map_or(ThreadRef::new(0, None), |w| {
            thread_ref(w.stamp.thread, w.thread_name.as_deref())
        });
        let unknown = || Site::new("<site not in the trace>", 0, 0);
        inversion_report(
            finding,
            self.strict,
            detected_by,
            |site: SiteId| {
                self.sites
                    .get(site.0 as usize)
                    .cloned()
                    .unwrap_or_else(unknown)
            },
            |id| self.names.get(&id).cloned(),
        )
    }

    /// The site a finding's witness names (the replay's numbering, merged across traces).
    pub fn site(&self, site: SiteId) -> Option<&Site> {
        self.sites.get(site.0 as usize)
    }

    /// The place, among the traces replayed, of the trace `thread` came from.
    pub fn trace_of(&self, thread: ThreadKey) -> Option<usize> {
        self.trace_of.get(&thread).copied()
    }
}

/// Replays the trace that `open` opens (twice) and returns the inversions the lock-order rules
/// find in it, in strict mode (lock classes) or not (lock instances), as the runtime would.
pub fn lock_order<R: Read>(
    open: impl FnMut() -> Result<TraceReader<R>, TraceError>,
    strict: bool,
) -> Result<Replayed, TraceError> {
    lock_order_across(&mut [open], strict)
}

/// Replays the traces that `opens` open (each twice) as one run, and returns the inversions the
/// lock-order rules find across them. One trace keeps its own numbers; several are numbered
/// anew (see the module's documentation). Across processes, only strict mode (lock classes) can
/// relate two traces' locks.
pub fn lock_order_across<R: Read, O: FnMut() -> Result<TraceReader<R>, TraceError>>(
    opens: &mut [O],
    strict: bool,
) -> Result<Replayed, TraceError> {
    let mut ids = Numbering {
        single: opens.len() == 1,
        traces: opens.len(),
        ..Numbering::default()
    };
    let mut early: FxHashMap<ResourceId, (ResourceKind, SiteId)> = FxHashMap::default();
    let mut names: FxHashMap<ResourceId, String> = FxHashMap::default();
    let mut order: LockOrder<SiteId> = LockOrder::default();
    // Pass 1 keeps only what pass 2 cannot learn in time: the definitions of resources that an
    // event names before the definition comes in the file (another thread's chunk came
    // first), and the ends of joined threads. Definitions of live resources are tracked only
    // until their drop, so memory follows the live resources, not all there ever were.
    for (trace, open) in opens.iter_mut().enumerate() {
        let mut live: FxHashSet<ResourceId> = FxHashSet::default();
        let mut used_first: FxHashSet<ResourceId> = FxHashSet::default();
        let mut reader = open()?;
        while let Some(record) = reader.next() {
            let record = record?;
            match record.event {
                Event::Resource {
                    resource,
                    kind,
                    created_at,
                    name,
                } => {
                    let resource = ids.resource(trace, resource);
                    if used_first.remove(&resource) {
                        let created_at = ids.site(trace, created_at, &reader);
                        early.insert(resource, (kind, created_at));
                    } else {
                        live.insert(resource);
                    }
                    if let Some(name) = name {
                        names.insert(resource, name);
                    }
                }
                Event::Acquired { resource, .. } | Event::Request { resource, .. } => {
                    let resource = ids.resource(trace, resource);
                    if !live.contains(&resource) {
                        used_first.insert(resource);
                    }
                }
                Event::Dropped { resource } => {
                    live.remove(&ids.resource(trace, resource));
                }
                Event::Absorbed { thread, epoch } => {
                    let (thread, joiner) =
                        (ids.thread(trace, thread), ids.thread(trace, record.thread));
                    order.absorbed(thread, joiner, epoch);
                }
                _ => {}
            }
        }
    }
    let mut resources = early;
    let mut findings = Vec::new();
    let mut truncated = Vec::new();
    for (trace, open) in opens.iter_mut().enumerate() {
        let mut threads: FxHashMap<ThreadKey, Thread> = FxHashMap::default();
        let mut reader = open()?;
        while let Some(record) = reader.next() {
            let record = record?;
            let me = ids.thread(trace, record.thread);
            let thread = threads.entry(me).or_default();
            match record.event {
                Event::ThreadStart { name } => thread.name = name.map(Arc::from),
                Event::ThreadExit => {
                    threads.remove(&me);
                }
                Event::Clock { clock } => {
                    let entries = clock
                        .entries()
                        .iter()
                        .map(|&(t, epoch)| (ids.thread(trace, t), epoch))
                        .collect();
                    thread.clock = Arc::new(VectorClock::from_entries(entries));
                }
                Event::Acquired {
                    resource,
                    access,
                    at,
                    blocking,
                    ..
                } => {
                    let resource = ids.resource(trace, resource);
                    let at = ids.site(trace, at, &reader);
                    // A resource whose definition is missing (its id was given before
                    // recording began) is a class of its own.
                    let (kind, created_at) = resources
                        .get(&resource)
                        .copied()
                        .unwrap_or((ResourceKind::Mutex, SiteId(u32::MAX)));
                    thread.held.push(Held {
                        resource: ResourceRef {
                            id: resource,
                            kind,
                            created_at,
                        },
                        access,
                        at,
                        address: resource.get() as usize,
                    });
                    if blocking && thread.held.len() > 1 {
                        let stamp = Stamp {
                            thread: me,
                            clock: Arc::clone(&thread.clock),
                        };
                        let witnesses =
                            witnesses_of(&thread.held, &stamp, thread.name.as_ref(), strict);
                        if let Some(finding) = order.record(witnesses, strict) {
                            findings.push(finding);
                        }
                    }
                }
                Event::Resource {
                    resource,
                    kind,
                    created_at,
                    ..
                } => {
                    let resource = ids.resource(trace, resource);
                    let created_at = ids.site(trace, created_at, &reader);
                    resources.insert(resource, (kind, created_at));
                }
                Event::Dropped { resource } => {
                    // The lock's edges go, as the runtime's do (a stale chunk of another thread
                    // that still names it may bring some back: they are true history).
                    let resource = ids.resource(trace, resource);
                    order.forget(resource);
                    resources.remove(&resource);
                }
                Event::Released { resource, access } => {
                    let resource = ids.resource(trace, resource);
                    if let Some(index) = thread
                        .held
                        .iter()
                        .rposition(|h| h.resource.id == resource && h.access == access)
                    {
                        thread.held.remove(index);
                    }
                }
                _ => {}
            }
        }
        if let Some(offset) = reader.truncated() {
            truncated.push((trace, offset));
        }
    }
    let trace_of = findings
        .iter()
        .flatten()
        .filter_map(|w: &Witness<SiteId>| {
            let thread = w.stamp.thread;
            ids.trace_of.get(&thread).map(|&trace| (thread, trace))
        })
        .collect();
    Ok(Replayed {
        findings,
        strict,
        truncated,
        names,
        sites: ids.sites,
        trace_of,
    })
}

/// The replay's own numbers for the traces' threads, resources and sites.
#[derive(Debug, Default)]
struct Numbering {
    /// One trace: its numbers are kept (the reports then name threads as the run did).
    single: bool,
    /// How many traces are replayed.
    traces: usize,
    threads: FxHashMap<(usize, ThreadKey), ThreadKey>,
    trace_of: FxHashMap<ThreadKey, usize>,
    /// Each trace's sites, as the replay's.
    site_of: FxHashMap<(usize, SiteId), SiteId>,
    by_place: FxHashMap<(String, u32, u32), SiteId>,
    sites: Vec<Site>,
}

impl Numbering {
    fn thread(&mut self, trace: usize, key: ThreadKey) -> ThreadKey {
        let fresh = self.threads.len() as u64 + 1;
        let mapped = if self.single {
            key
        } else {
            *self
                .threads
                .entry((trace, key))
                .or_insert_with(|| ThreadKey::from_raw(fresh).expect("counted from 1"))
        };
        self.trace_of.entry(mapped).or_insert(trace);
        mapped
    }

    fn resource(&mut self, trace: usize, id: ResourceId) -> ResourceId {
        if self.single {
            return id;
        }
        // One number per (trace, id) without a table: interleaved by trace.
        let numbered = id
            .get()
            .wrapping_mul(self.traces as u64)
            .wrapping_add(trace as u64);
        ResourceId::from_raw(numbered).unwrap_or(id)
    }

    fn site<R: Read>(&mut self, trace: usize, site: SiteId, reader: &TraceReader<R>) -> SiteId {
        if let Some(&mapped) = self.site_of.get(&(trace, site)) {
            return mapped;
        }
        let Some(place) = reader.site(site) else {
            return SiteId(u32::MAX);
        };
        let next = SiteId(self.sites.len() as u32);
        let mapped = *self
            .by_place
            .entry((place.file.clone(), place.line, place.column))
            .or_insert(next);
        if mapped == next {
            self.sites.push(place.clone());
        }
        self.site_of.insert((trace, site), mapped);
        mapped
    }
}
