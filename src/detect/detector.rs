//! The detector's shared state, behind one lock: the wait-for graph and the known threads.
//!
//! One lock, taken only on blocking paths (a thread about to wait, a waker granting a
//! waiter), a thread's first use of the detector and its exit. It is a raw facade lock, never
//! an instrumented one. Lock order: a primitive's internal lock, then this one, then a
//! parker's; the detector never takes a primitive's lock.
//!
//! The lock counts how often it was taken, so that a thread that let it go for a moment can
//! tell whether anybody else took it meanwhile (`closed_world::poll`).

use super::closed_world::{self, Verdict};
use super::registry::ThreadKey;
use super::threads::{Threads, WorldId};
use super::wait_for::WaitFor;
use crate::facade::sync::{Mutex, MutexGuard};

#[derive(Debug, Default)]
pub(crate) struct Detector {
    pub(crate) graph: WaitFor,
    pub(crate) threads: Threads,
    acquisitions: u64,
}

crate::facade::global! {
    static DETECTOR: Mutex<Detector> = Mutex::new(Detector::default());
}

/// The detector, locked.
pub(crate) fn lock() -> MutexGuard<'static, Detector> {
    let mut detector = DETECTOR.lock();
    detector.acquisitions = detector.acquisitions.wrapping_add(1);
    detector
}

impl Detector {
    /// How often the lock has been taken so far.
    pub(crate) fn acquisitions(&self) -> u64 {
        self.acquisitions
    }

    /// The verdict on `me`, registered as blocked (`closed_world::judge`): first a cycle of
    /// waits whose wakers are known (holders, joined threads), then the closed-world rule.
    pub(crate) fn judge(&self, me: ThreadKey, queued_writers_block: bool) -> Verdict {
        closed_world::judge(self, me, queued_writers_block)
    }

    /// Something changed that may complete a deadlock some other world's poller waits to see
    /// (a thread blocked, left a wait without being granted it, or exited): every poller of a
    /// world other than `except` looks again.
    pub(crate) fn nudge_pollers(&self, except: Option<WorldId>) {
        for (world, poller) in self.threads.pollers() {
            if Some(world) != except {
                self.graph.nudge(poller);
            }
        }
    }

    /// Asks `world` to look again: its poller, or else one of its blocked threads that judges.
    pub(crate) fn nudge_world(&self, world: WorldId) {
        let judge = self.threads.poller(world).or_else(|| {
            self.graph
                .registrations()
                .find(|(_, blocked)| blocked.world == world && blocked.judges() && !blocked.granted)
                .map(|(thread, _)| thread)
        });
        if let Some(judge) = judge {
            self.graph.nudge(judge);
        }
    }

    /// After `thread`, of `world`, left a wait without being granted it (a timeout, a report
    /// unwinding) or exited: its world, and every world that waits to see, look again.
    pub(crate) fn changed(&mut self, thread: ThreadKey, world: WorldId) {
        self.threads.clear_poller(world, thread);
        self.nudge_world(world);
        self.nudge_pollers(Some(world));
    }
}
