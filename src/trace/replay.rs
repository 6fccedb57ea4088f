//! A trace fed to the lock-order rules ([`crate::predict`]) as the runtime feeds them: each
//! thread's holds rebuilt from its acquisitions and releases, each acquisition that could
//! block while others were held turned into witnesses with the thread's clock of that moment.
//!
//! Two passes over the trace: the first collects what any thread's events may need from
//! another's (resources' kinds and classes, the ends of joined threads), since chunks of
//! different threads are in the file in the order they were written, not the order things
//! happened; the second replays. Memory follows threads, held locks and the lock-order graph,
//! not the number of events.

use super::event::{Event, SiteId};
use super::reader::{TraceError, TraceReader};
use crate::model::{Held, ResourceId, ResourceRef, ThreadKey};
use crate::predict::{
    inversion_report, thread_ref, witnesses_of, LockOrder, Stamp, VectorClock, Witness,
};
use crate::report::{Report, ResourceKind, Site, ThreadRef};
use rustc_hash::FxHashMap;
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

/// What a replay found, with what its reports need from the trace.
#[derive(Debug)]
pub struct Replayed {
    /// The inversions, in the order they were found.
    pub findings: Vec<Finding>,
    /// Whether the findings are of lock classes (strict mode) rather than instances.
    pub strict: bool,
    /// Where the trace was cut off, if it was (what follows was not read).
    pub truncated: Option<u64>,
    names: FxHashMap<ResourceId, String>,
    sites: Vec<Site>,
}

impl Replayed {
    /// `finding` as a report, with the trace's sites and names; the thread that closed the
    /// cycle is named as the one that detected it.
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
}

/// Replays the trace that `open` opens (twice) and returns the inversions the lock-order rules
/// find in it, in strict mode (lock classes) or not (lock instances), as the runtime would.
pub fn lock_order<R: Read>(
    mut open: impl FnMut() -> Result<TraceReader<R>, TraceError>,
    strict: bool,
) -> Result<Replayed, TraceError> {
    let mut resources: FxHashMap<ResourceId, (ResourceKind, SiteId)> = FxHashMap::default();
    let mut names: FxHashMap<ResourceId, String> = FxHashMap::default();
    let mut order: LockOrder<SiteId> = LockOrder::default();
    for record in open()? {
        let record = record?;
        match record.event {
            Event::Resource {
                resource,
                kind,
                created_at,
                name,
            } => {
                resources.insert(resource, (kind, created_at));
                if let Some(name) = name {
                    names.insert(resource, name);
                }
            }
            Event::Absorbed { thread, epoch } => order.absorbed(thread, record.thread, epoch),
            _ => {}
        }
    }
    let mut threads: FxHashMap<ThreadKey, Thread> = FxHashMap::default();
    let mut findings = Vec::new();
    let mut reader = open()?;
    for record in reader.by_ref() {
        let record = record?;
        let thread = threads.entry(record.thread).or_default();
        match record.event {
            Event::ThreadStart { name } => thread.name = name.map(Arc::from),
            Event::ThreadExit => {
                threads.remove(&record.thread);
            }
            Event::Clock { clock } => thread.clock = Arc::new(clock),
            Event::Acquired {
                resource,
                access,
                at,
                blocking,
                ..
            } => {
                // A resource whose definition is missing (its id was given before recording
                // began) is its own class.
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
                        thread: record.thread,
                        clock: Arc::clone(&thread.clock),
                    };
                    let witnesses =
                        witnesses_of(&thread.held, &stamp, thread.name.as_ref(), strict);
                    if let Some(finding) = order.record(witnesses, strict) {
                        findings.push(finding);
                    }
                }
            }
            Event::Released { resource, access } => {
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
    Ok(Replayed {
        findings,
        strict,
        truncated: reader.truncated(),
        names,
        sites: reader.sites().to_vec(),
    })
}
