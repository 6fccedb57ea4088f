//! What a trace reader yields.

use crate::model::{ResourceId, ThreadKey};
use crate::predict::VectorClock;
use crate::report::{Access, ResourceKind};

/// A site of the trace: its number in the reader's table of sites
/// ([`super::TraceReader::site`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteId(pub u32);

/// What the header of a trace says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The format's version.
    pub version: u32,
    /// The recording process's id.
    pub pid: u64,
    /// When recording began, in microseconds since the Unix epoch.
    pub started_micros: u64,
}

/// One event, with the thread that saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The thread.
    pub thread: ThreadKey,
    /// When the thread's chunk was written, in microseconds since recording began: events of
    /// one chunk share it (it orders chunks in time, not events).
    pub micros: u64,
    /// What happened.
    pub event: Event,
}

/// What happened on a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The thread's first event.
    ThreadStart {
        /// Its name, if it has one.
        name: Option<String>,
    },
    /// The thread's last event.
    ThreadExit,
    /// A resource the trace refers to (written once, by the thread that first used it; it
    /// may come after other threads' events that name it).
    Resource {
        /// Its id.
        resource: ResourceId,
        /// What sort of primitive it is.
        kind: ResourceKind,
        /// Where it was created.
        created_at: SiteId,
        /// The name given with `named`, if any.
        name: Option<String>,
    },
    /// The thread is about to block for `access` to `resource`.
    Request {
        /// What it waits for.
        resource: ResourceId,
        /// How.
        access: Access,
        /// Where.
        at: SiteId,
    },
    /// The thread's cooperative wait for `resource` (a condition variable, a channel, a
    /// barrier, a semaphore, a join, a once-cell, a pool task: whatever any thread may end)
    /// ended: it was granted, timed out, or was unwound by a report. Its start is the
    /// [`Event::Request`] before it; a wait for a lock ends with its [`Event::Acquired`]
    /// instead (or with nothing, when a timed request gives up).
    WaitEnded {
        /// What was waited for.
        resource: ResourceId,
    },
    /// `resource` was dropped (on this thread): its id names nothing from now on.
    Dropped {
        /// The resource.
        resource: ResourceId,
    },
    /// The thread acquired `resource`.
    Acquired {
        /// What.
        resource: ResourceId,
        /// How.
        access: Access,
        /// Where.
        at: SiteId,
        /// Whether the acquisition could block (`lock`, `read`, ...) rather than give up by
        /// itself (`try_lock`, timed): only those add lock-order edges.
        blocking: bool,
        /// The lock's own count of acquisitions (wrapping at 2^32): its critical sections in
        /// order. Readers holding at once each have their own number.
        seq: u32,
    },
    /// The thread released its most recent hold of `resource` with `access`.
    Released {
        /// What.
        resource: ResourceId,
        /// How it was held.
        access: Access,
    },
    /// The thread's vector clock changed (a spawn, a join, something carried to it): its
    /// lock-order witnesses from now on have this clock.
    Clock {
        /// The clock.
        clock: VectorClock,
    },
    /// The thread joined `thread`, whose end is now part of this thread's past from `epoch`
    /// of this thread on (see [`crate::predict::Absorbed`]).
    Absorbed {
        /// The joined thread.
        thread: ThreadKey,
        /// This thread's epoch just after the join.
        epoch: u64,
    },
}
