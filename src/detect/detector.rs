//! The detector's shared state, behind one lock: the wait-for graph and the known threads.
//!
//! One lock, taken only on blocking paths (a thread about to wait, a waker granting a
//! waiter), a thread's first use of the detector and its exit. It is a raw facade lock, never
//! an instrumented one. Lock order: a primitive's internal lock, then this one, then a
//! parker's; the detector never takes a primitive's lock.
//!
//! The lock counts how often it was taken to change something, and how many threads wait for
//! it, so that a poller that let it go for a moment can tell whether anything moved meanwhile
//! (`closed_world::poll`). Pollers take it with [`lock_to_look`], which counts neither: their
//! looks change nothing a verdict depends on, and they must not keep each other's double looks
//! from ever agreeing.

use super::registry::ThreadKey;
use super::threads::{Threads, WorldId};
use super::wait_for::WaitFor;
use crate::facade::plain::{AtomicUsize, Ordering};
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

/// How many threads wait for the detector's lock through [`lock`].
static WANTING: AtomicUsize = AtomicUsize::new(0);

/// The detector, locked.
pub(crate) fn lock() -> MutexGuard<'static, Detector> {
    WANTING.fetch_add(1, Ordering::SeqCst);
    let mut detector = DETECTOR.lock();
    WANTING.fetch_sub(1, Ordering::SeqCst);
    detector.touch();
    detector
}

/// The detector, locked by a poller to look (module docs). A look that finds something to
/// change (a deadlock) calls [`Detector::touch`].
pub(crate) fn lock_to_look() -> MutexGuard<'static, Detector> {
    DETECTOR.lock()
}

/// Whether some thread waits for the detector's lock to change something.
pub(crate) fn others_waiting() -> bool {
    WANTING.load(Ordering::SeqCst) > 0
}

impl Detector {
    /// How often the lock has been taken to change something so far.
    pub(crate) fn acquisitions(&self) -> u64 {
        self.acquisitions
    }

    /// Counts a change made under a lock taken to look.
    pub(crate) fn touch(&mut self) {
        self.acquisitions = self.acquisitions.wrapping_add(1);
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
