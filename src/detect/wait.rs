//! The blocking protocol of a lock, in one function: [`wait`]; and what it shares with the
//! cooperative waits of `cooperative.rs`: the registration, the judgement and what follows it
//! ([`check`]), and the end of a stalled test's waits ([`stall`]).
//!
//! A lock calls [`wait`] once its own spinning has failed and it is about to block. Under the
//! detector's lock the thread tries once more, then publishes its holds and its request, then
//! (for an untimed request) judges it. A deadlock is reported while the graph is consistent,
//! and the policy runs (by default: panic, which unwinds the thread's guards and takes it out
//! of the graph). Otherwise the thread blocks on the lock and leaves the graph once it holds
//! what it asked for.

use super::closed_world::{self, Again, Verdict};
use super::detector::{self, Detector};
use super::registry::ThreadKey;
use super::this_thread;
use super::threads::WorldId;
use super::wait_for::{Sleeper, WaitRequest, Wakers};
use super::Acquire;
use crate::facade::sync::MutexGuard;
use crate::model::ResourceRef;
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
        // The test stalled: a new wait in it ends at once, unless this acquisition takes back
        // a lock a live guard owns (unwinding would release it twice).
        let stalled = detector
            .threads
            .cancelled(me.world)
            .filter(|_| !super::is_relocking(at) && !crate::facade::thread::panicking());
        if let Some(report) = stalled {
            drop(detector);
            stall(&report);
        }
        let registration = me.register(&mut detector, request, Sleeper::Lock);
        // A lock waiter never looks again by itself: every poller looks, its own world's too.
        detector.nudge_pollers(None);
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
        reported = matches!(
            check(detector, me, lock.writer_queued(), at),
            Judged::Reported
        );
    }
}

/// What [`check`] found, for the waiter to act on.
#[derive(Debug)]
pub(super) enum Judged {
    /// A deadlock, reported and handed to the policy (which let the thread go on).
    Reported,
    /// No verdict yet; the waiter's world looks again as said (see `closed_world.rs`), on a
    /// timer if the waiter is its world's poller (`true`).
    Pending(Again, bool),
    /// Nothing to look at.
    Quiet,
}

/// Judges `me`, waiting at `at`, and applies the policy to a deadlock. The reporter is marked
/// granted while the graph is consistent, so no other thread reports the same deadlock again
/// before it has left (or, under a policy that lets it block, ever). The detector's lock is
/// released before the policy runs: a panic then unwinds through the `Registration`, which
/// takes it again. A pending verdict makes `me` its world's poller if the world has none and
/// `me` can be one, and otherwise asks the world to look again.
#[track_caller]
pub(super) fn check(
    mut detector: MutexGuard<'_, Detector>,
    me: ThreadKey,
    queued_writers_block: bool,
    at: &Location<'_>,
) -> Judged {
    let world = world_of(&detector, me);
    match closed_world::judge(&detector, me, queued_writers_block) {
        Verdict::Deadlock(report) => {
            detector.threads.note_finding(world, &report);
            detector.graph.grant(me);
            detector.threads.clear_poller(world, me);
            drop(detector);
            crate::policy::deadlock_found(&report, super::is_relocking(at));
            Judged::Reported
        }
        Verdict::Pending(again) => {
            let polls = detector.graph.blocked(me).is_some_and(|b| b.judges())
                && detector.threads.claim_poller(world, me);
            if !polls {
                detector.nudge_world(world);
            }
            Judged::Pending(again, polls)
        }
        Verdict::Quiet => {
            detector.threads.clear_poller(world, me);
            Judged::Quiet
        }
    }
}

fn world_of(detector: &Detector, thread: ThreadKey) -> WorldId {
    detector
        .graph
        .blocked(thread)
        .map_or_else(|| detector.threads.world_of(thread), |b| b.world)
}

/// Ends a wait of a stalled test's thread: panics with the test's stall report, so the
/// thread's guards unwind and the test fails with the report in its own output. Not for a
/// thread that is panicking already (a second panic would abort the process): it goes on
/// waiting instead.
#[track_caller]
pub(super) fn stall(report: &str) -> ! {
    std::panic::panic_any(report.to_owned())
}

/// What a thread publishes about itself when it blocks, gathered before the detector's lock
/// is taken (its holds, its name).
pub(super) struct Registrant {
    key: ThreadKey,
    holds: Vec<this_thread::Held>,
    name: Option<String>,
    world: WorldId,
}

impl Registrant {
    /// This thread, or `None` while it is being torn down.
    pub(super) fn current() -> Option<Registrant> {
        let (key, world, name) = this_thread::with(|t| (t.key(), t.world(), t.name()))?;
        let holds = this_thread::hot(this_thread::HotState::holds)?;
        let name = name.as_deref().map(str::to_owned);
        Some(Registrant {
            key,
            holds,
            name,
            world,
        })
    }

    /// The world the thread waits in.
    pub(super) fn world(&self) -> WorldId {
        self.world
    }

    pub(super) fn register(
        self,
        detector: &mut Detector,
        request: WaitRequest,
        sleeper: Sleeper,
    ) -> Registration {
        detector.graph.register(
            self.key, self.name, self.world, request, self.holds, sleeper,
        );
        Registration { thread: self.key }
    }
}

/// A thread's presence in the wait-for graph; it leaves on drop, unwinding included. Leaving
/// without having been granted (a timeout, a report unwinding) may complete a deadlock
/// elsewhere, so the worlds that wait to see look again.
#[derive(Debug)]
pub(super) struct Registration {
    pub(super) thread: ThreadKey,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut detector = detector::lock();
        let Some(left) = detector.graph.deregister(self.thread) else {
            return;
        };
        if left.granted {
            detector.threads.clear_poller(left.world, self.thread);
        } else {
            detector.changed(self.thread, left.world);
        }
    }
}
