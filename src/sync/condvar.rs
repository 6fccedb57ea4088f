//! [`Condvar`]: parking_lot's condition variable API, as a cooperative wait the detector sees.
//!
//! The wait protocol lives here once, in `Condvar::wait_raw`; the std flavour
//! (`stdsync::Condvar`) calls it too. The invariant it keeps: a waiter is on the queue, under
//! the queue's lock, before the user's mutex is released, and it leaves the queue only when a
//! notifier takes it off (granting it and setting its `notified` flag before waking it), or by
//! itself when it goes without a notification (timeout, unwinding). So no notification is
//! lost, a spurious wake-up is never taken for one, `notify_one` wakes (and grants) exactly
//! one waiter, and the detector never counts a notified waiter as asleep.

use super::mutex::MutexGuard;
use super::raw_mutex::{deadline_after, RawMutex};
use crate::detect::{self, CoopWait, ResourceMeta, WaiterToken, WakeBy};
use crate::facade::sync::atomic::{AtomicBool, Ordering};
use crate::facade::sync::{Arc, Condvar as Signal, Mutex, MutexGuard as QueueGuard};
use crate::report::{Access, ResourceKind};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::panic::{Location, RefUnwindSafe, UnwindSafe};
use std::time::{Duration, Instant};

/// A condition variable, a swap-in for `parking_lot::Condvar`, used with [`crate::Mutex`].
///
/// A wait is a wait the detector sees: any thread may end it with a notification, so a
/// waiter that can never be notified (every thread that could notify it is blocked, directly
/// or through locks the waiter holds) is reported in a closed world (`impasse::testing::run`,
/// or a program whose every thread impasse knows). A timed wait is never reported.
///
/// As in parking_lot there are no spurious wake-ups: a wait returns early only when notified.
/// Unlike parking_lot, one condition variable may serve several mutexes at once.
///
/// If the thread that finds a deadlock is a waiter here, it unwinds out of `wait` with the
/// user's mutex locked again, as the guard expects. Should a re-lock (on return or on
/// unwinding) itself be reported, as a deadlock (the mutex is held by a thread that waits for
/// something the waiter holds) or as a lock-order inversion, the process aborts after the
/// report: unwinding from there would release a mutex the thread does not hold.
///
/// ```
/// use impasse::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// let t = std::thread::spawn(move || {
///     let (started, ready) = &*pair2;
///     *started.lock() = true;
///     ready.notify_one();
/// });
/// let (started, ready) = &*pair;
/// let mut started = started.lock();
/// ready.wait_while(&mut started, |started| !*started);
/// # drop(started);
/// t.join().unwrap();
/// ```
pub struct Condvar {
    /// The waiters, oldest first: the "internal lock" of the cooperative-wait protocol.
    waiters: Mutex<VecDeque<Arc<Waiter>>>,
    meta: ResourceMeta,
}

/// One thread in `wait`, as its notifier sees it.
struct Waiter {
    token: Option<WaiterToken>,
    /// Set, under the queue's lock, by the notifier that took this waiter off the queue.
    notified: AtomicBool,
    /// This waiter's own wake-up, so a notification wakes exactly the thread it was meant for.
    wake: Signal,
}

/// Whether a timed wait of a [`Condvar`] returned because its time ran out.
#[derive(Debug, PartialEq, Eq, Copy, Clone)]
pub struct WaitTimeoutResult(pub(crate) bool);

impl WaitTimeoutResult {
    /// Whether the wait timed out (rather than being notified).
    #[inline]
    pub fn timed_out(self) -> bool {
        self.0
    }
}

impl Condvar {
    crate::facade::const_unless_loom! {
        /// Creates a condition variable; reports name it by the caller's source line.
        #[inline]
        #[track_caller]
        pub fn new() -> Condvar {
            Condvar::from_meta(ResourceMeta::new(ResourceKind::Condvar, Location::caller()))
        }
    }

    /// Creates a condition variable that reports call `name`.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>) -> Condvar {
        Condvar::from_meta(ResourceMeta::named(
            ResourceKind::Condvar,
            Location::caller(),
            name.into(),
        ))
    }

    crate::facade::const_unless_loom! {
        fn from_meta(meta: ResourceMeta) -> Condvar {
            Condvar {
                waiters: Mutex::new(VecDeque::new()),
                meta,
            }
        }
    }

    /// Wakes the longest-waiting thread, if any; returns whether there was one.
    pub fn notify_one(&self) -> bool {
        let mut waiters = self.waiters.lock();
        let Some(waiter) = waiters.pop_front() else {
            return false;
        };
        waiter.notified.store(true, Ordering::Relaxed);
        if let Some(token) = waiter.token {
            detect::grant(token);
        }
        waiter.wake.notify_one();
        true
    }

    /// Wakes every waiting thread; returns how many there were.
    pub fn notify_all(&self) -> usize {
        let mut waiters = self.waiters.lock();
        let count = waiters.len();
        if count == 0 {
            return 0;
        }
        // Every thread registered on this condition variable is on the queue or already
        // notified (it registers and queues under this lock): granting them all is exact.
        detect::grant_all(&self.meta);
        for waiter in waiters.drain(..) {
            waiter.notified.store(true, Ordering::Relaxed);
            waiter.wake.notify_one();
        }
        count
    }

    /// Releases the mutex of `mutex_guard`, waits for a notification, and locks the mutex
    /// again before returning (also when it unwinds).
    #[inline]
    #[track_caller]
    pub fn wait<T: ?Sized>(&self, mutex_guard: &mut MutexGuard<'_, T>) {
        self.wait_until_internal(mutex_guard, None);
    }

    /// As [`Condvar::wait`], giving up at `timeout`.
    #[inline]
    #[track_caller]
    pub fn wait_until<T: ?Sized>(
        &self,
        mutex_guard: &mut MutexGuard<'_, T>,
        timeout: Instant,
    ) -> WaitTimeoutResult {
        self.wait_until_internal(mutex_guard, Some(timeout))
    }

    /// As [`Condvar::wait`], giving up after `timeout`.
    #[inline]
    #[track_caller]
    pub fn wait_for<T: ?Sized>(
        &self,
        mutex_guard: &mut MutexGuard<'_, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        self.wait_until_internal(mutex_guard, deadline_after(timeout))
    }

    /// Waits while `condition` holds for the protected data (checked first, then after every
    /// notification).
    #[inline]
    #[track_caller]
    pub fn wait_while<T, F>(&self, mutex_guard: &mut MutexGuard<'_, T>, condition: F)
    where
        T: ?Sized,
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while_until_internal(mutex_guard, condition, None);
    }

    /// As [`Condvar::wait_while`], giving up at `timeout`.
    #[inline]
    #[track_caller]
    pub fn wait_while_until<T, F>(
        &self,
        mutex_guard: &mut MutexGuard<'_, T>,
        condition: F,
        timeout: Instant,
    ) -> WaitTimeoutResult
    where
        T: ?Sized,
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while_until_internal(mutex_guard, condition, Some(timeout))
    }

    /// As [`Condvar::wait_while`], giving up after `timeout`.
    #[inline]
    #[track_caller]
    pub fn wait_while_for<T: ?Sized, F>(
        &self,
        mutex_guard: &mut MutexGuard<'_, T>,
        condition: F,
        timeout: Duration,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while_until_internal(mutex_guard, condition, deadline_after(timeout))
    }

    #[inline]
    #[track_caller]
    fn wait_while_until_internal<T, F>(
        &self,
        mutex_guard: &mut MutexGuard<'_, T>,
        mut condition: F,
        deadline: Option<Instant>,
    ) -> WaitTimeoutResult
    where
        T: ?Sized,
        F: FnMut(&mut T) -> bool,
    {
        let mut result = WaitTimeoutResult(false);
        while !result.timed_out() && condition(&mut **mutex_guard) {
            result = self.wait_until_internal(mutex_guard, deadline);
        }
        result
    }

    /// One wait, for both flavours: `deadline` `None` waits for a notification only.
    #[inline]
    #[track_caller]
    pub(crate) fn wait_until_internal<T: ?Sized>(
        &self,
        mutex_guard: &mut MutexGuard<'_, T>,
        deadline: Option<Instant>,
    ) -> WaitTimeoutResult {
        // SAFETY: `wait_raw` unlocks the raw mutex and locks it again before it returns or
        // unwinds, while `mutex_guard` (which holds it) stays borrowed mutably by this call.
        let raw = unsafe { MutexGuard::mutex(mutex_guard).raw() };
        self.wait_raw(raw, deadline)
    }

    /// The wait protocol (`detect/cooperative.rs`), not generic over the data: take the
    /// queue's lock, release the user's mutex, register, queue, sleep in slices until
    /// notified (or the deadline), leave the queue and the graph, lock the user's mutex.
    #[track_caller]
    fn wait_raw(&self, raw: &RawMutex, deadline: Option<Instant>) -> WaitTimeoutResult {
        use lock_api::RawMutex as _;
        // Declared first, so dropped last: unwinding locks the user's mutex again only after
        // the queue's lock is released and this thread has left the graph.
        let mut relock = Relock(Some(raw));
        // Taken before the user's mutex is released: a notifier, which must get this lock
        // to notify, finds this thread queued.
        let waiters = self.waiters.lock();
        // SAFETY: this thread holds `raw`, through the guard our caller borrows mutably; the
        // guard cannot be used or dropped before this function returns, and every way out of
        // it (return below, unwinding through `relock`) locks `raw` again first, as lock_api's
        // `MutexGuard::unlocked` does.
        unsafe { raw.unlock() };
        let mut waiting = CoopWait::begin(
            &self.meta,
            Access::Notification,
            WakeBy::Anyone,
            Location::caller(),
            deadline.is_some(),
        );
        let mut queued = Queued::new(waiters, waiting.token());
        let waiter = Arc::clone(&queued.waiter);
        let notified = waiting.wait_for(
            &self.waiters,
            &mut queued.waiters,
            &waiter.wake,
            deadline,
            |_| waiter.notified.load(Ordering::Relaxed),
        );
        drop(queued); // off the queue (if not notified), and the queue's lock released
        #[allow(clippy::drop_non_drop)] // without `detect`, `CoopWait` is nothing
        drop(waiting); // out of the graph before the lock below, which may block in turn
        relock.0 = None;
        let abort = AbortIfUnwinding;
        let relocking = detect::relocking();
        raw.lock(); // here, so the re-acquisition's site is the caller's
        drop(relocking);
        std::mem::forget(abort);
        WaitTimeoutResult(!notified)
    }
}

/// A waiter on the queue, holding the queue's lock whenever it is not asleep. Dropped, it
/// takes itself off the queue if no notifier did (a timeout, or unwinding from a report).
struct Queued<'a> {
    waiters: Option<QueueGuard<'a, VecDeque<Arc<Waiter>>>>,
    waiter: Arc<Waiter>,
}

impl<'a> Queued<'a> {
    fn new(
        mut waiters: QueueGuard<'a, VecDeque<Arc<Waiter>>>,
        token: Option<WaiterToken>,
    ) -> Queued<'a> {
        let waiter = Arc::new(Waiter {
            token,
            notified: AtomicBool::new(false),
            wake: Signal::new(),
        });
        waiters.push_back(Arc::clone(&waiter));
        Queued {
            waiters: Some(waiters),
            waiter,
        }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let Some(waiters) = &mut self.waiters else {
            return;
        };
        if !self.waiter.notified.load(Ordering::Relaxed) {
            if let Some(at) = waiters.iter().position(|w| Arc::ptr_eq(w, &self.waiter)) {
                waiters.remove(at);
            }
        }
    }
}

/// Locks the user's mutex again when a wait unwinds, as the guard that owns it expects.
struct Relock<'a>(Option<&'a RawMutex>);

impl Drop for Relock<'_> {
    fn drop(&mut self) {
        if let Some(raw) = self.0.take() {
            let _relocking = detect::relocking();
            lock_api::RawMutex::lock(raw);
        }
    }
}

/// Aborts if the re-lock at the end of a wait unwinds (a deadlock or lock-order report): the
/// caller's guard would then release a mutex this thread does not hold.
struct AbortIfUnwinding;

impl Drop for AbortIfUnwinding {
    fn drop(&mut self) {
        eprintln!(
            "impasse: a Condvar wait could not lock its mutex again (see the report above); \
             aborting, since unwinding would release a mutex this thread does not hold"
        );
        std::process::abort();
    }
}

impl Default for Condvar {
    #[inline]
    #[track_caller]
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Condvar { .. }")
    }
}

// As parking_lot's: every unwind point leaves the queue consistent (see `Queued`).
impl UnwindSafe for Condvar {}
impl RefUnwindSafe for Condvar {}
