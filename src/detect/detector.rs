//! The detector's shared state, behind one lock: the wait-for graph and the known threads.
//!
//! One lock, taken only on blocking paths (a thread about to wait, a waker granting a
//! waiter), a thread's first use of the detector and its exit. It is a raw facade lock, never
//! an instrumented one. Lock order: a primitive's internal lock, then this one; the detector
//! never takes a primitive's lock.

use super::closed_world;
use super::registry::ThreadKey;
use super::threads::Threads;
use super::wait_for::WaitFor;
use crate::facade::sync::{Mutex, MutexGuard};
use crate::report::Report;

#[derive(Debug, Default)]
pub(crate) struct Detector {
    pub(crate) graph: WaitFor,
    pub(crate) threads: Threads,
}

crate::facade::global! {
    static DETECTOR: Mutex<Detector> = Mutex::new(Detector::default());
}

/// The detector, locked.
pub(crate) fn lock() -> MutexGuard<'static, Detector> {
    DETECTOR.lock()
}

impl Detector {
    /// A deadlock that `me` (registered as blocked) is part of: first a cycle of waits whose
    /// wakers are known (holders, joined threads), then the closed-world rule.
    pub(crate) fn deadlock_through(
        &self,
        me: ThreadKey,
        queued_writers_block: bool,
    ) -> Option<Report> {
        self.graph
            .deadlock_through(me, queued_writers_block)
            .or_else(|| closed_world::deadlock(self, me, queued_writers_block))
    }
}
