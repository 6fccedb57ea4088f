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
use crate::predict::{witnesses_of, LockOrder, Stamp, VectorClock, Witness};
use crate::report::ResourceKind;
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

/// Replays the trace that `open` opens (twice) and returns the inversions the lock-order rules
/// find in it, in strict mode (lock classes) or not (lock instances), as the runtime would.
pub fn lock_order<R: Read>(
    mut open: impl FnMut() -> Result<TraceReader<R>, TraceError>,
    strict: bool,
) -> Result<Vec<Finding>, TraceError> {
    let mut resources: FxHashMap<ResourceId, (ResourceKind, SiteId)> = FxHashMap::default();
    let mut order: LockOrder<SiteId> = LockOrder::default();
    for record in open()? {
        let record = record?;
        match record.event {
            Event::Resource {
                resource,
                kind,
                created_at,
                ..
            } => {
                resources.insert(resource, (kind, created_at));
            }
            Event::Absorbed { thread, epoch } => order.absorbed(thread, record.thread, epoch),
            _ => {}
        }
    }
    let mut threads: FxHashMap<ThreadKey, Thread> = FxHashMap::default();
    let mut findings = Vec::new();
    for record in open()? {
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
    Ok(findings)
}
