//! [`Semaphore`]: a counting semaphore with RAII permits, as a cooperative wait the detector
//! sees.
//!
//! Permits are handed over, not raced for: a release (or `add_permits`) gives the waiters at
//! the head of the FIFO queue the permits they asked for, as long as there are enough, grants
//! them and wakes them. The invariant: whenever the queue's lock is free, either the queue is
//! empty or its head needs more permits than are available; and a waiter leaves the queue
//! only with its permits (handed over) or without them (a timeout, or unwinding from a
//! report, which takes it off the queue and lets the next waiters have their turn). So the
//! detector counts a waiter as able to run exactly when it is.

use super::raw_mutex::deadline_after;
use crate::detect::{self, CoopWait, GuardMarker, ResourceMeta, WaiterToken, WakeBy};
use crate::facade::sync::atomic::{AtomicBool, Ordering};
use crate::facade::sync::{Arc, Condvar as Signal, Mutex, MutexGuard as StateGuard};
use crate::report::{Access, ResourceKind};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{Location, RefUnwindSafe, UnwindSafe};
use std::time::{Duration, Instant};

/// A counting semaphore: `acquire` takes a permit, waiting until one is available, and the
/// [`SemaphorePermit`] gives it back when dropped. Waiters are served first come, first
/// served.
///
/// Any thread may end a wait for permits (by dropping a permit or adding some), so a wait
/// that can never end (every permit is held by threads that are themselves blocked, or it
/// asks for more than will ever be there) is reported in a closed world
/// (`impasse::testing::run`, or a program whose every thread impasse knows). The permits a
/// thread holds appear in reports. Timed waits are never reported.
///
/// ```
/// use impasse::Semaphore;
///
/// let pool = Semaphore::new(2);
/// let a = pool.acquire();
/// let b = pool.try_acquire().expect("a second permit");
/// assert!(pool.try_acquire().is_none());
/// drop((a, b));
/// assert_eq!(pool.available_permits(), 2);
/// ```
pub struct Semaphore {
    state: Mutex<State>,
    meta: ResourceMeta,
}

struct State {
    /// Permits nobody holds and no waiter has been handed.
    permits: usize,
    /// The waiters, oldest first.
    queue: VecDeque<Arc<Waiter>>,
}

/// One thread waiting for permits, as a releaser sees it.
struct Waiter {
    need: usize,
    token: Option<WaiterToken>,
    /// Set, under the state lock, by the thread that handed this waiter its permits.
    served: AtomicBool,
    /// This waiter's own wake-up.
    wake: Signal,
}

/// Permits taken from a [`Semaphore`]; they are given back when this is dropped.
///
/// With the `detect` feature it must stay on the thread that acquired it (what a thread holds
/// is recorded per thread), so it is not `Send`.
#[must_use = "if unused the permit is given back at once"]
#[clippy::has_significant_drop]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
    permits: usize,
    _not_send: GuardMarker,
}

impl Semaphore {
    /// The most permits a semaphore can hold; `new` and `add_permits` panic beyond it.
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    crate::facade::const_unless_loom! {
        /// Creates a semaphore with `permits` permits; reports name it by the caller's line.
        #[inline]
        #[track_caller]
        pub fn new(permits: usize) -> Semaphore {
            Semaphore::from_meta(
                ResourceMeta::new(ResourceKind::Semaphore, Location::caller()),
                permits,
            )
        }
    }

    /// Creates a semaphore with `permits` permits that reports call `name`.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, permits: usize) -> Semaphore {
        Semaphore::from_meta(
            ResourceMeta::named(ResourceKind::Semaphore, Location::caller(), name.into()),
            permits,
        )
    }

    crate::facade::const_unless_loom! {
        fn from_meta(meta: ResourceMeta, permits: usize) -> Semaphore {
            assert!(permits <= Semaphore::MAX_PERMITS, "too many permits");
            Semaphore {
                state: Mutex::new(State {
                    permits,
                    queue: VecDeque::new(),
                }),
                meta,
            }
        }
    }

    /// Takes a permit, waiting until one is available.
    #[track_caller]
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_many(1)
    }

    /// Takes `n` permits at once, waiting until they are available (and the waiters that
    /// came first are served).
    ///
    /// Asking for more permits than the semaphore will ever have waits forever, like any
    /// wait nothing can end: in a closed world that is reported as a deadlock.
    #[track_caller]
    pub fn acquire_many(&self, n: usize) -> SemaphorePermit<'_> {
        match self.acquire_until(n, None) {
            Some(permit) => permit,
            None => unreachable!("a wait without a deadline ends only with its permits"),
        }
    }

    /// Takes a permit, waiting at most `timeout`. A timed wait gives up by itself, so it is
    /// never reported as part of a deadlock.
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.acquire_until(1, deadline_after(timeout))
    }

    /// Takes a permit if one is available right now (even if other threads wait for more).
    #[track_caller]
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are available right now.
    #[track_caller]
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        let mut state = self.state.lock();
        if state.permits < n {
            return None;
        }
        state.permits -= n;
        drop(state);
        Some(self.permit(n, Location::caller()))
    }

    /// Adds `n` permits, serving the waiters they satisfy.
    ///
    /// # Panics
    ///
    /// If the semaphore would hold more than [`Semaphore::MAX_PERMITS`].
    pub fn add_permits(&self, n: usize) {
        let mut state = self.state.lock();
        let room = Semaphore::MAX_PERMITS - state.permits;
        assert!(
            n <= room,
            "impasse: a Semaphore holds at most MAX_PERMITS permits"
        );
        state.give(n);
    }

    /// The permits available right now (a snapshot, stale by the time it returns).
    pub fn available_permits(&self) -> usize {
        self.state.lock().permits
    }

    /// The blocking path: queue, register, sleep in slices until served (or the deadline).
    #[track_caller]
    fn acquire_until(&self, n: usize, deadline: Option<Instant>) -> Option<SemaphorePermit<'_>> {
        let at = Location::caller();
        let mut state = self.state.lock();
        if state.queue.is_empty() && state.permits >= n {
            state.permits -= n;
            drop(state);
            return Some(self.permit(n, at));
        }
        // Registered before it is queued: if the policy panics here, nothing is left behind.
        let mut waiting = CoopWait::begin(
            &self.meta,
            Access::Permit,
            WakeBy::Anyone,
            at,
            deadline.is_some(),
        );
        let mut queued = Queued::new(state, n, waiting.token());
        let waiter = Arc::clone(&queued.waiter);
        let served = waiting.wait_for(
            &self.state,
            &mut queued.state,
            &waiter.wake,
            deadline,
            |_| waiter.served.load(Ordering::Relaxed),
        );
        queued.keep = served;
        drop(queued);
        #[allow(clippy::drop_non_drop)] // without `detect`, `CoopWait` is nothing
        drop(waiting);
        if served {
            Some(self.permit(n, at))
        } else {
            None
        }
    }

    /// The guard of `permits` permits just taken, recorded in this thread's held stack.
    #[track_caller]
    fn permit(&self, permits: usize, at: &'static Location<'static>) -> SemaphorePermit<'_> {
        // `GivesUp`: no lock-order edges into a semaphore. Taking permits and locks in
        // opposite orders deadlocks only once the permits run out, which the closed-world
        // rule judges when it happens; as an order alone it would be a false alarm.
        detect::holding(&self.meta, Access::Permit, at);
        SemaphorePermit {
            semaphore: self,
            permits,
            _not_send: PhantomData,
        }
    }
}

impl State {
    /// Makes `n` more permits available and serves the waiters they satisfy.
    fn give(&mut self, n: usize) {
        self.permits += n;
        self.serve();
    }

    /// Hands permits to the waiters at the head of the queue, in order, while there are
    /// enough for the next one; grants and wakes each.
    fn serve(&mut self) {
        while let Some(head) = self.queue.front() {
            if head.need > self.permits {
                break;
            }
            self.permits -= head.need;
            let head = self.queue.pop_front().expect("the head is there");
            head.served.store(true, Ordering::Relaxed);
            if let Some(token) = head.token {
                detect::grant(token);
            }
            head.wake.notify_one();
        }
    }
}

/// A waiter on the queue, holding the state lock whenever it is not asleep. Dropped without
/// `keep` (a timeout, or unwinding from a report), it leaves without permits: off the queue,
/// or giving back what it was handed, and the next waiters get their turn.
struct Queued<'a> {
    state: Option<StateGuard<'a, State>>,
    waiter: Arc<Waiter>,
    keep: bool,
}

impl<'a> Queued<'a> {
    fn new(mut state: StateGuard<'a, State>, need: usize, token: Option<WaiterToken>) -> Self {
        let waiter = Arc::new(Waiter {
            need,
            token,
            served: AtomicBool::new(false),
            wake: Signal::new(),
        });
        state.queue.push_back(Arc::clone(&waiter));
        Queued {
            state: Some(state),
            waiter,
            keep: false,
        }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let Some(state) = &mut self.state else {
            return;
        };
        if self.keep {
            return;
        }
        if self.waiter.served.load(Ordering::Relaxed) {
            state.permits += self.waiter.need;
        } else if let Some(at) = state
            .queue
            .iter()
            .position(|w| Arc::ptr_eq(w, &self.waiter))
        {
            state.queue.remove(at);
        }
        state.serve();
    }
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Gives the permits up without returning them to the semaphore: it has that many fewer
    /// from now on.
    pub fn forget(self) {
        detect::released(&self.semaphore.meta, Access::Permit);
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        detect::released(&self.semaphore.meta, Access::Permit);
        self.semaphore.state.lock().give(self.permits);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Semaphore");
        match self.state.try_lock() {
            Some(state) => d.field("permits", &state.permits),
            None => d.field("permits", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

// Every unwind point leaves the queue and the count consistent (see `Queued`).
impl UnwindSafe for Semaphore {}
impl RefUnwindSafe for Semaphore {}
