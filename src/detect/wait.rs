//! The blocking protocol of a lock, in one function: [`wait`]; and the registration it shares
//! with the cooperative waits of `cooperative.rs`.
//!
//! A lock calls [`wait`] once its own spinning has failed and it is about to block. Under the
//! detector's lock the thread tries once more, then publishes its holds and its request, then
//! (for an untimed request) looks for a deadlock through itself. A deadlock is reported while
//! the graph is consistent, and the policy runs (by default: panic, which unwinds the thread's
//! guards and takes it out of the graph). Otherwise the thread blocks on the lock and leaves
//! the graph once it holds what it asked for.

use super::detector::{self, Detector};
use super::registry::ThreadKey;
use super::this_thread::{self, ResourceRef};
use super::wait_for::{WaitRequest, Wakers};
use super::Acquire;
use crate::facade::sync::MutexGuard;
use crate::report::Access;
use std::panic::Location;
use std::time::{Duration, Instant};

/// How often a reader held up by a queued writer looks for a deadlock again. Its own request is
/// the only one the queued-writer rule may be applied to (other registrations may be stale),
/// so a cycle closed by another thread is found by the reader itself, within this period.
const QUEUED_WRITER_RECHECK: Duration = Duration::from_millis(20);

/// Acquires through `lock`, reporting a deadlock if this wait closes one. Returns what
/// `lock.block` returned: `false` only when a `deadline` passed.
#[cold]
#[track_caller]
pub(crate) fn wait(
    resource: ResourceRef,
    access: Access,
    at: &'static Location<'static>,
    deadline: Option<Instant>,
    lock: &impl Acquire,
) -> bool {
    let request = WaitRequest {
        resource,
        access,
        at,
        wakers: Wakers::Holders,
        timed: deadline.is_some(),
    };
    let Some(me) = Registrant::current() else {
        return lock.block(deadline);
    };
    let registration = {
        let mut detector = detector::lock();
        if lock.attempt() {
            return true;
        }
        let registration = me.register(&mut detector, request);
        if deadline.is_none() {
            check(detector, registration.thread, lock.writer_queued(), at);
        }
        registration
    };
    let acquired = if deadline.is_none() && reader_may_queue(access) {
        block_rechecking(registration.thread, lock, at)
    } else {
        lock.block(deadline)
    };
    drop(registration);
    acquired
}

fn reader_may_queue(access: Access) -> bool {
    matches!(access, Access::Shared | Access::Upgradable)
}

#[track_caller]
fn block_rechecking(me: ThreadKey, lock: &impl Acquire, at: &'static Location<'static>) -> bool {
    let mut reported = false;
    loop {
        if lock.block(Some(Instant::now() + QUEUED_WRITER_RECHECK)) {
            return true;
        }
        if reported {
            continue;
        }
        let detector = detector::lock();
        if lock.attempt() {
            return true;
        }
        reported = check(detector, me, lock.writer_queued(), at);
    }
}

/// Looks for a deadlock through `me`, waiting at `at`, and applies the policy to it. The
/// reporter is marked granted while the graph is consistent, so no other thread reports the
/// same deadlock again before it has left (or, under a policy that lets it block, ever). The
/// detector's lock is released before the policy runs: a panic then unwinds through the
/// `Registration`, which takes it again. Returns whether there was a finding.
#[track_caller]
pub(super) fn check(
    mut detector: MutexGuard<'_, Detector>,
    me: ThreadKey,
    queued_writers_block: bool,
    at: &Location<'_>,
) -> bool {
    let Some(report) = detector.deadlock_through(me, queued_writers_block) else {
        return false;
    };
    let world = detector.threads.world_of(me);
    detector.threads.note_finding(world, &report);
    detector.graph.grant(me);
    drop(detector);
    crate::policy::deadlock_found(&report, super::is_relocking(at));
    true
}

/// What a thread publishes about itself when it blocks, gathered before the detector's lock
/// is taken (its holds, its name).
pub(super) struct Registrant {
    key: ThreadKey,
    holds: Vec<this_thread::Held>,
    name: Option<String>,
    world: super::threads::WorldId,
}

impl Registrant {
    /// This thread, or `None` while it is being torn down.
    pub(super) fn current() -> Option<Registrant> {
        let (key, world) = this_thread::with(|t| (t.key(), t.world()))?;
        let holds = this_thread::hot(this_thread::HotState::holds)?;
        let name = crate::facade::thread::current().name().map(str::to_owned);
        Some(Registrant {
            key,
            holds,
            name,
            world,
        })
    }

    pub(super) fn register(self, detector: &mut Detector, request: WaitRequest) -> Registration {
        detector
            .graph
            .register(self.key, self.name, self.world, request, self.holds);
        Registration { thread: self.key }
    }
}

/// A thread's presence in the wait-for graph; it leaves on drop, unwinding included.
#[derive(Debug)]
pub(super) struct Registration {
    pub(super) thread: ThreadKey,
}

impl Drop for Registration {
    fn drop(&mut self) {
        detector::lock().graph.deregister(self.thread);
    }
}
