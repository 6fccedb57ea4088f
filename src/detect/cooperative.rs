//! Cooperative waits: the one protocol of the primitives that wait on their own internal lock
//! (condition variables, channels, barriers, semaphores, joins, once-cells, the pool), so that
//! the detector sees every wait and every wake-up exactly, and can wake any waiter itself.
//!
//! The primitive, holding its internal lock:
//!
//! 1. decides it must wait, releases whatever user lock it gives up (a condvar's mutex), and
//!    calls [`CoopWait::begin`], which registers the thread and, for an untimed wait, judges
//!    it (a deadlock runs the policy right there);
//! 2. records [`CoopWait::token`] where its wakers find it, then sleeps with
//!    [`CoopWait::sleep`], which lets go of the internal lock while the thread is asleep;
//! 3. on waking, checks its condition; if it still fails (and no deadline passed), calls
//!    [`CoopWait::again`], which judges again and carries out what was found while asleep (a
//!    deadlock found by the closed-world rule, the end of a stalled test: both unwind from
//!    there, with the internal lock held, as a report from `begin` does);
//! 4. drops the `CoopWait` once its condition holds (or its deadline passed).
//!
//! A waker, holding the same internal lock, calls [`grant`] (or [`grant_all`]) for the waiters
//! it makes able to proceed, then notifies the primitive's own condition variable. With the
//! detector, a registered waiter sleeps on its thread's parker, which the grant wakes; without
//! it (`detect` off, or a thread being torn down) it sleeps on the primitive's condition
//! variable, which the notification wakes. So every wake-up is given both ways.
//!
//! While asleep, a waiter can also be woken by the detector: to look again when something that
//! may complete a deadlock happened elsewhere, on a timer while it is its world's poller (see
//! `closed_world.rs`), or because its test stalled (`testing.rs`). An untimed wait that is
//! none of these sleeps without a timer: idle waiters cost nothing. Lock order: the
//! primitive's lock, then the detector's, then the parker's.

use super::resource::ResourceMeta;
use crate::facade::sync::{Condvar, Mutex, MutexGuard};
use crate::report::Access;
use std::panic::Location;
use std::time::Instant;

/// Who can end a cooperative wait.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WakeBy {
    /// Any thread that can still run: a condition variable's notifier, a channel's other end,
    /// a barrier's missing parties, a semaphore's releasers.
    Anyone,
    /// One thread, by finishing: a join.
    Thread(ThreadToken),
}

pub(crate) use imp::{grant, grant_all, name_waker, CoopWait, ThreadToken, WaiterToken};

/// Sleeps on `signal` with `guard` until notified or `deadline`: how a waiter sleeps when the
/// detector does not see it.
fn plain_sleep<'a, T>(
    signal: &Condvar,
    guard: MutexGuard<'a, T>,
    deadline: Option<Instant>,
) -> MutexGuard<'a, T> {
    match deadline {
        None => signal.wait(guard),
        Some(deadline) => {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return guard;
            }
            signal.wait_timeout(guard, left).0
        }
    }
}

impl CoopWait {
    /// The whole waiting loop of steps 2-3 (module docs), for primitives whose wait ends on one
    /// condition: sleeps, then, while `over` is false and `deadline` has not passed, judges
    /// again and sleeps again. `guard` holds the primitive's lock (taken out while asleep, put
    /// back before `over` or `again` runs, so a wrapper that undoes the wait on unwinding
    /// always finds it). Returns whether `over` held.
    #[track_caller]
    pub(crate) fn wait_for<'a, T>(
        &mut self,
        lock: &'a Mutex<T>,
        guard: &mut Option<MutexGuard<'a, T>>,
        signal: &Condvar,
        deadline: Option<Instant>,
        mut over: impl FnMut(&mut T) -> bool,
    ) -> bool {
        loop {
            let held = guard
                .take()
                .expect("impasse: a waiter holds its primitive's lock between sleeps");
            let held = guard.insert(self.sleep(lock, held, signal, deadline));
            if over(held) {
                return true;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return false;
            }
            self.again();
        }
    }
}

#[cfg(feature = "detect")]
mod imp {
    use super::{plain_sleep, Access, Condvar, Location, Mutex, MutexGuard, ResourceMeta, WakeBy};
    use crate::detect::closed_world::{
        self, Again, Looked, Verdict, BETWEEN_LOOKS, POLL_FIRST, POLL_LAST,
    };
    use crate::detect::detector;
    use crate::detect::parker::{Parker, Woken};
    use crate::detect::registry::ThreadKey;
    use crate::detect::this_thread;
    use crate::detect::threads::WorldId;
    use crate::detect::wait::{check, stall, Judged, Registrant, Registration};
    use crate::detect::wait_for::{Sleeper, WaitRequest, Wakers};
    use crate::model::ResourceRef;
    use crate::report::Report;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// A thread, as a join names the thread it waits for.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct ThreadToken(Option<ThreadKey>);

    impl ThreadToken {
        /// The calling thread (which thereby becomes known to the detector).
        pub(crate) fn current() -> ThreadToken {
            ThreadToken(this_thread::key())
        }
    }

    /// A waiter, as its waker names it in [`grant`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct WaiterToken(ThreadKey);

    /// A thread's registration as blocked in a cooperative wait; it leaves the graph on drop.
    #[derive(Debug)]
    pub(crate) struct CoopWait {
        /// The registration and where the thread sleeps; `None` if the detector cannot see
        /// this thread (it is being torn down).
        registered: Option<(Registration, Arc<Parker>)>,
        world: WorldId,
        timed: bool,
        /// A deadlock this wait was part of has been reported: it is not judged again.
        reported: bool,
        /// Whether this wait looks for deadlocks itself (see [`CoopWait::begin_idle`]).
        judges: bool,
        at: &'static Location<'static>,
        /// When this wait, as its world's poller, looks again; and the interval after that.
        poll_at: Option<Instant>,
        poll_every: Duration,
        /// Found while asleep, carried out by [`CoopWait::again`]: a deadlock, or the stall
        /// report of the test that was ended.
        found: Option<Found>,
        /// The resource waited for, when the wait went into the trace (its end goes too).
        traced: Option<crate::model::ResourceId>,
    }

    impl Drop for CoopWait {
        fn drop(&mut self) {
            #[cfg(not(loom))]
            if let Some(id) = self.traced {
                crate::trace::record::wait_ended(id);
            }
        }
    }

    #[derive(Debug)]
    enum Found {
        Deadlock(Report),
        Stall(Arc<str>),
    }

    impl CoopWait {
        /// Registers this thread as blocked on `meta` (see the module docs for when).
        #[track_caller]
        pub(crate) fn begin(
            meta: &ResourceMeta,
            access: Access,
            wake_by: WakeBy,
            at: &'static Location<'static>,
            timed: bool,
        ) -> CoopWait {
            CoopWait::register(meta, access, wake_by, at, timed, true)
        }

        /// Registers this thread as asleep, waiting for work (an idle pool worker): counted
        /// asleep by the closed-world rule, but never itself looking for a deadlock, nor
        /// ended when a test stalls. It holds nothing, so a report that unwinds it would
        /// release nothing; any deadlock it is part of also contains a waiter that does look
        /// (every deadlock of an anyone-wait world needs one waiting for something, and idle
        /// threads wait for nothing in particular).
        #[track_caller]
        pub(crate) fn begin_idle(
            meta: &ResourceMeta,
            access: Access,
            at: &'static Location<'static>,
        ) -> CoopWait {
            CoopWait::register(meta, access, WakeBy::Anyone, at, false, false)
        }

        #[track_caller]
        fn register(
            meta: &ResourceMeta,
            access: Access,
            wake_by: WakeBy,
            at: &'static Location<'static>,
            timed: bool,
            judges: bool,
        ) -> CoopWait {
            let mut wait = CoopWait {
                registered: None,
                world: WorldId::PROGRAM,
                timed,
                reported: false,
                judges,
                at,
                poll_at: None,
                poll_every: POLL_FIRST,
                found: None,
                traced: None,
            };
            let Some(me) = Registrant::current() else {
                return wait;
            };
            let Some(parker) = this_thread::parker() else {
                return wait;
            };
            let Some(id) = this_thread::hot(|h| meta.id_or(|| h.next_id())) else {
                return wait;
            };
            let request = WaitRequest {
                resource: ResourceRef {
                    id,
                    kind: meta.kind(),
                    created_at: meta.created_at(),
                },
                access,
                at,
                wakers: match wake_by {
                    WakeBy::Anyone | WakeBy::Thread(ThreadToken(None)) => Wakers::Anyone,
                    WakeBy::Thread(ThreadToken(Some(thread))) => Wakers::Thread(thread),
                },
                timed,
            };
            wait.world = me.world();
            #[cfg(not(loom))]
            if crate::trace::record::on() {
                crate::trace::record::request(id, access, at);
                wait.traced = Some(id);
            }
            let mut detector = detector::lock();
            let stalled = detector
                .threads
                .cancelled(wait.world)
                .filter(|_| judges && !crate::facade::thread::panicking());
            if let Some(report) = stalled {
                drop(detector);
                stall(&report); // the test stalled: no new wait in it
            }
            let sleeper = Sleeper::Cooperative {
                parker: Arc::clone(&parker),
                judges,
            };
            let registration = me.register(&mut detector, request, sleeper);
            let thread = registration.thread;
            detector.nudge_pollers(Some(wait.world));
            wait.registered = Some((registration, parker));
            if !timed && judges {
                let judged = check(detector, thread, false, at);
                wait.judged(judged);
            }
            wait
        }

        /// This waiter, for the primitive's queue.
        pub(crate) fn token(&self) -> Option<WaiterToken> {
            self.registered
                .as_ref()
                .map(|(registration, _)| WaiterToken(registration.thread))
        }

        /// Sleeps until a waker grants this wait, `deadline` passes, or the detector has
        /// something for [`CoopWait::again`]; `guard`, the primitive's lock, is released
        /// meanwhile and `lock` taken again before it returns. The caller checks its condition.
        pub(crate) fn sleep<'a, T>(
            &mut self,
            lock: &'a Mutex<T>,
            guard: MutexGuard<'a, T>,
            signal: &Condvar,
            deadline: Option<Instant>,
        ) -> MutexGuard<'a, T> {
            let Some((_, parker)) = &self.registered else {
                return plain_sleep(signal, guard, deadline);
            };
            let parker = Arc::clone(parker);
            drop(guard);
            loop {
                let until = match (deadline, self.poll_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let woken = parker.park(until);
                if woken.contains(Woken::GRANTED) {
                    break;
                }
                let now = Instant::now();
                if deadline.is_some_and(|deadline| now >= deadline) {
                    break;
                }
                let poll_due = self.poll_at.is_some_and(|at| now >= at);
                if (woken.contains(Woken::NUDGED) || poll_due) && self.look_again(poll_due) {
                    break;
                }
            }
            lock.lock()
        }

        /// Asleep, nudged or on the poller's timer: judges again. Returns whether the
        /// primitive should wake up (granted meanwhile, or something found for `again`).
        fn look_again(&mut self, poll_due: bool) -> bool {
            let Some((registration, _)) = &self.registered else {
                return true;
            };
            let thread = registration.thread;
            let mut detector = detector::lock_to_look();
            if self.judges {
                if let Some(report) = detector.threads.cancelled(self.world) {
                    self.found = Some(Found::Stall(report));
                    return true;
                }
            }
            match detector.graph.blocked(thread) {
                Some(blocked) if !blocked.granted => {}
                Some(_) => return true,
                None => {
                    // Invariant: a registered wait stays in the graph until it is dropped.
                    debug_assert!(false, "impasse: a cooperative wait lost its registration");
                    return true;
                }
            }
            if !self.judges || self.timed || self.reported {
                self.poll_at = None;
                return false;
            }
            // A timer that fires on a wait that is not (or no longer) its world's poller makes
            // it the poller if the world has none; else the poller looks, not this one.
            if poll_due && !detector.threads.claim_poller(self.world, thread) {
                self.poll_at = None;
                return false;
            }
            let polling = poll_due;
            let verdict = if polling {
                match closed_world::first_look(&detector, thread) {
                    Looked::Verdict(verdict) => verdict,
                    Looked::Once(first) => {
                        // Between the two looks the detector's lock is free, and the thread
                        // stays parked: a grant meanwhile wakes it as it would have.
                        drop(detector);
                        let parker = Arc::clone(&self.registered.as_ref().expect("registered").1);
                        let woken = parker.park(Some(Instant::now() + BETWEEN_LOOKS));
                        if woken.contains(Woken::GRANTED) {
                            return true;
                        }
                        detector = detector::lock_to_look();
                        closed_world::second_look(&detector, thread, first)
                    }
                }
            } else {
                closed_world::judge(&detector, thread, false)
            };
            match verdict {
                Verdict::Deadlock(report) => {
                    // Marked as found now, while the graph is consistent; carried out by
                    // `again`, once the primitive's lock is held.
                    detector.touch();
                    detector.threads.note_finding(self.world, &report);
                    detector.graph.grant(thread);
                    detector.threads.clear_poller(self.world, thread);
                    self.found = Some(Found::Deadlock(report));
                    true
                }
                Verdict::Pending(again) => {
                    if detector.threads.claim_poller(self.world, thread) {
                        self.schedule(again, polling);
                    } else {
                        self.poll_at = None;
                    }
                    false
                }
                Verdict::Quiet => {
                    detector.threads.clear_poller(self.world, thread);
                    self.poll_at = None;
                    false
                }
            }
        }

        /// What a judgement means for this wait's timer.
        fn judged(&mut self, judged: Judged) {
            match judged {
                Judged::Reported => self.reported = true,
                Judged::Pending(again, true) => self.schedule(again, false),
                Judged::Pending(_, false) | Judged::Quiet => self.poll_at = None,
            }
        }

        /// Sets the poller's timer. `fired`: the timer that just fired was this one, so the
        /// next look backs off; otherwise (a nudge, a new judgement) a timer already set stays,
        /// so that frequent nudges never put the look through the operating system off.
        fn schedule(&mut self, again: Again, fired: bool) {
            let now = Instant::now();
            let at = match again {
                Again::Now => now,
                Again::Later if fired => {
                    let at = now + self.poll_every;
                    self.poll_every = (self.poll_every * 2).min(POLL_LAST);
                    at
                }
                Again::Later => now + self.poll_every,
            };
            self.poll_at = Some(match self.poll_at {
                Some(set) if !fired => set.min(at),
                _ => at,
            });
        }

        /// Woken, but the condition still fails (another thread was first, or the detector
        /// had something): carries out what was found while asleep, else is blocked again and
        /// judged again. Call it holding the primitive's lock: it may unwind.
        #[track_caller]
        pub(crate) fn again(&mut self) {
            let panicking = crate::facade::thread::panicking();
            match self.found.take() {
                Some(Found::Stall(report)) if !panicking => stall(&report),
                Some(Found::Stall(_)) => {}
                Some(Found::Deadlock(report)) => {
                    self.reported = true;
                    crate::policy::deadlock_found(&report, super::super::is_relocking(self.at));
                    return;
                }
                None => {}
            }
            let Some((registration, _)) = &self.registered else {
                return;
            };
            let thread = registration.thread;
            let mut detector = detector::lock();
            if self.reported {
                return; // stays marked granted: nobody reports this deadlock again
            }
            detector.graph.rearm(thread);
            if self.judges && !panicking {
                if let Some(report) = detector.threads.cancelled(self.world) {
                    drop(detector);
                    stall(&report);
                }
            }
            if self.judges && !self.timed {
                let judged = check(detector, thread, false, self.at);
                self.judged(judged);
            }
        }
    }

    /// Marks `waiter` able to proceed and wakes it. Call it holding the primitive's internal
    /// lock, then notify the primitive's condition variable (module docs).
    pub(crate) fn grant(waiter: WaiterToken) {
        detector::lock().graph.grant(waiter.0);
    }

    /// Marks every waiter on `meta` able to proceed and wakes them.
    pub(crate) fn grant_all(meta: &ResourceMeta) {
        if let Some(id) = meta.id() {
            detector::lock().graph.grant_all(id);
        }
    }

    /// From now on only `thread` can end the waits on `meta` that anyone could end before: a
    /// joined thread that has started, a task a thread has begun to run. The waiters are named
    /// in place, not woken. Call it holding the primitive's internal lock.
    pub(crate) fn name_waker(meta: &ResourceMeta, thread: ThreadToken) {
        if let (Some(id), ThreadToken(Some(thread))) = (meta.id(), thread) {
            detector::lock().graph.name_waker(id, thread);
        }
    }
}

#[cfg(not(feature = "detect"))]
mod imp {
    use super::{plain_sleep, Access, Condvar, Location, Mutex, MutexGuard, ResourceMeta, WakeBy};
    use std::time::Instant;

    /// Nothing: with `detect` off threads are not tracked.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct ThreadToken;

    impl ThreadToken {
        #[inline(always)]
        pub(crate) fn current() -> ThreadToken {
            ThreadToken
        }
    }

    /// Nothing: with `detect` off waiters are not tracked.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct WaiterToken;

    /// Nothing: with `detect` off a cooperative wait is just the primitive's own wait.
    #[derive(Debug)]
    pub(crate) struct CoopWait;

    /// Empty, so that dropping a `CoopWait` reads the same with `detect` on and off.
    impl Drop for CoopWait {
        #[inline(always)]
        fn drop(&mut self) {}
    }

    impl CoopWait {
        #[inline(always)]
        pub(crate) fn begin(
            _meta: &ResourceMeta,
            _access: Access,
            _wake_by: WakeBy,
            _at: &'static Location<'static>,
            _timed: bool,
        ) -> CoopWait {
            CoopWait
        }

        #[inline(always)]
        pub(crate) fn begin_idle(
            _meta: &ResourceMeta,
            _access: Access,
            _at: &'static Location<'static>,
        ) -> CoopWait {
            CoopWait
        }

        #[inline(always)]
        pub(crate) fn token(&self) -> Option<WaiterToken> {
            None
        }

        #[inline(always)]
        pub(crate) fn sleep<'a, T>(
            &mut self,
            _lock: &'a Mutex<T>,
            guard: MutexGuard<'a, T>,
            signal: &Condvar,
            deadline: Option<Instant>,
        ) -> MutexGuard<'a, T> {
            plain_sleep(signal, guard, deadline)
        }

        #[inline(always)]
        pub(crate) fn again(&mut self) {}
    }

    #[inline(always)]
    pub(crate) fn grant(_waiter: WaiterToken) {}

    #[inline(always)]
    pub(crate) fn grant_all(_meta: &ResourceMeta) {}

    #[inline(always)]
    pub(crate) fn name_waker(_meta: &ResourceMeta, _thread: ThreadToken) {}
}
