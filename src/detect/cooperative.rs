//! Cooperative waits: the protocol for primitives that wait on their own internal lock and
//! condition variable (condition variables, channels, barriers, semaphores, joins, once-cells),
//! so that the detector sees every wait and every wake-up exactly.
//!
//! The primitive, holding its internal lock:
//!
//! 1. decides it must wait, releases whatever user lock it gives up (a condvar's mutex), and
//!    calls [`CoopWait::begin`], which registers the thread and, for an untimed wait, looks
//!    for a deadlock through it (a finding runs the policy right there);
//! 2. records [`CoopWait::token`] in its queue, then waits on its condition variable in slices
//!    of at most [`CoopWait::SLICE`];
//! 3. on a wake-up whose condition still fails calls [`CoopWait::again`]; on a slice that ended
//!    without a wake-up, [`CoopWait::recheck`] (the world may have closed since);
//! 4. drops the `CoopWait` once its condition holds (or its timeout passed).
//!
//! A waker, holding the same internal lock, calls [`grant`] (or [`grant_all`]) for the
//! waiters it makes able to proceed, before it notifies them. The lock order is always the
//! primitive's lock, then the detector's.

use super::resource::ResourceMeta;
use crate::report::Access;
use std::panic::Location;
use std::time::Duration;

/// Who can end a cooperative wait.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WakeBy {
    /// Any thread that can still run: a condition variable's notifier, a channel's other end,
    /// a barrier's missing parties, a semaphore's releasers.
    Anyone,
    /// One thread, by finishing: a join.
    Thread(ThreadToken),
}

pub(crate) use imp::{grant, grant_all, CoopWait, ThreadToken, WaiterToken};

use std::time::Instant;

impl CoopWait {
    /// How long the next sleep of a wait that ends at `deadline` (if any) may last: a
    /// [`SLICE`](CoopWait::SLICE), or what is left before the deadline if that is less.
    pub(crate) fn slice_until(deadline: Option<Instant>) -> Duration {
        match deadline {
            None => Self::SLICE,
            Some(deadline) => deadline
                .saturating_duration_since(Instant::now())
                .min(Self::SLICE),
        }
    }

    /// The waiting loop of steps 2-3 (module docs), for primitives whose sleep reports both
    /// outcomes: sleeps through `sleep` until it says the wait is over, or `deadline` passes.
    /// `sleep(slice)` sleeps at most `slice` and returns (the wait is over, the slice ended
    /// without a wake-up). Returns whether the wait ended before the deadline.
    #[track_caller]
    pub(crate) fn sleep_until(
        &mut self,
        deadline: Option<Instant>,
        mut sleep: impl FnMut(Duration) -> (bool, bool),
    ) -> bool {
        loop {
            let (over, slice_ended) = sleep(Self::slice_until(deadline));
            if over {
                return true;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return false;
            }
            if slice_ended {
                self.recheck();
            } else {
                self.again();
            }
        }
    }
}

#[cfg(feature = "detect")]
mod imp {
    use super::{Access, Duration, Location, ResourceMeta, WakeBy};
    use crate::detect::detector;
    use crate::detect::registry::ThreadKey;
    use crate::detect::this_thread::{self, ResourceRef};
    use crate::detect::wait::{check, Registrant, Registration};
    use crate::detect::wait_for::{WaitRequest, Wakers};

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
        registration: Option<Registration>,
        timed: bool,
        reported: bool,
        /// Whether this wait looks for deadlocks itself (see [`CoopWait::begin_idle`]).
        judges: bool,
        at: &'static Location<'static>,
    }

    impl CoopWait {
        /// The longest an untimed cooperative wait sleeps before it looks again.
        pub(crate) const SLICE: Duration = Duration::from_millis(50);

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
        /// asleep by the closed-world rule, but never itself looking for a deadlock. It holds
        /// nothing, so a report that unwinds it would release nothing; any deadlock it is part
        /// of also contains a waiter that does look (every deadlock of an anyone-wait world
        /// needs one waiting for something, and idle threads wait for nothing in particular).
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
                registration: None,
                timed,
                reported: false,
                judges,
                at,
            };
            let Some(me) = Registrant::current() else {
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
            let mut detector = detector::lock();
            let registration = me.register(&mut detector, request);
            let thread = registration.thread;
            wait.registration = Some(registration);
            if !timed && judges {
                wait.reported = check(detector, thread, false, at);
            }
            wait
        }

        /// This waiter, for the primitive's queue.
        pub(crate) fn token(&self) -> Option<WaiterToken> {
            self.registration.as_ref().map(|r| WaiterToken(r.thread))
        }

        /// Woken, but the condition still fails (another thread was first): blocked again.
        #[track_caller]
        pub(crate) fn again(&mut self) {
            let Some(registration) = &self.registration else {
                return;
            };
            let thread = registration.thread;
            let mut detector = detector::lock();
            detector.graph.rearm(thread);
            if self.judges && !self.timed && !self.reported {
                self.reported = check(detector, thread, false, self.at);
            }
        }

        /// A slice ended without a wake-up: look for a deadlock again.
        #[track_caller]
        pub(crate) fn recheck(&mut self) {
            let Some(registration) = &self.registration else {
                return;
            };
            if !self.judges || self.timed || self.reported {
                return;
            }
            let thread = registration.thread;
            self.reported = check(detector::lock(), thread, false, self.at);
        }
    }

    /// Marks `waiter` able to proceed. Call it holding the primitive's internal lock, before
    /// waking the waiter.
    pub(crate) fn grant(waiter: WaiterToken) {
        detector::lock().graph.grant(waiter.0);
    }

    /// Marks every waiter on `meta` able to proceed.
    pub(crate) fn grant_all(meta: &ResourceMeta) {
        if let Some(id) = meta.id() {
            detector::lock().graph.grant_all(id);
        }
    }
}

#[cfg(not(feature = "detect"))]
mod imp {
    use super::{Access, Duration, Location, ResourceMeta, WakeBy};

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
        /// Untimed waits need no slices without the detector; a day is as good as forever.
        pub(crate) const SLICE: Duration = Duration::from_secs(86_400);

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
        pub(crate) fn again(&mut self) {}

        #[inline(always)]
        pub(crate) fn recheck(&mut self) {}
    }

    #[inline(always)]
    pub(crate) fn grant(_waiter: WaiterToken) {}

    #[inline(always)]
    pub(crate) fn grant_all(_meta: &ResourceMeta) {}
}
