//! [`Condvar`] with `std::sync::Condvar`'s signatures: guards by value, `LockResult`,
//! poisoning.
//!
//! A thin adapter: every wait is one wait of [`crate::Condvar`] (the protocol is written once,
//! there) on the lock underneath the std-flavoured guard, followed by std's poison check: the
//! result is `Err` when the mutex is poisoned once the wait is over.

use super::mutex::MutexGuard;
use super::poison;
use crate::sync::raw_mutex::deadline_after;
use std::borrow::Cow;
use std::fmt;
use std::sync::LockResult;
use std::time::{Duration, Instant};

/// A condition variable, a swap-in for `std::sync::Condvar`, used with
/// [`stdsync::Mutex`](super::Mutex) and instrumented like [`crate::Condvar`].
///
/// ```
/// use impasse::stdsync::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// let t = std::thread::spawn(move || {
///     let (started, ready) = &*pair2;
///     *started.lock().unwrap() = true;
///     ready.notify_one();
/// });
/// let (started, ready) = &*pair;
/// let started = ready.wait_while(started.lock().unwrap(), |started| !*started).unwrap();
/// assert!(*started);
/// # drop(started);
/// t.join().unwrap();
/// ```
pub struct Condvar {
    inner: crate::Condvar,
}

/// Whether a timed wait of a std-flavoured [`Condvar`] returned because its time ran out
/// (std's own type has no public constructor).
#[derive(Debug, PartialEq, Eq, Copy, Clone)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait timed out (rather than being notified).
    #[must_use]
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    crate::facade::const_unless_loom! {
        /// Creates a condition variable; reports name it by the caller's source line.
        #[inline]
        #[track_caller]
        pub fn new() -> Condvar {
            Condvar {
                inner: crate::Condvar::new(),
            }
        }
    }

    /// Creates a condition variable that reports call `name`.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>) -> Condvar {
        Condvar {
            inner: crate::Condvar::named(name),
        }
    }

    /// Releases the mutex of `guard`, waits for a notification and locks the mutex again;
    /// `Err` (still holding the lock) when the mutex is poisoned. Spurious wake-ups do not
    /// happen, but std allows them: check your condition in a loop (or use `wait_while`).
    #[track_caller]
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let (guard, _) = self.wait_until(guard, None);
        poison::result(guard.0, guard.1)
    }

    /// Waits while `condition` holds for the protected data (checked first, then after every
    /// notification).
    #[track_caller]
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// As [`Condvar::wait`], giving up after `dur`.
    #[track_caller]
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let ((poisoned, guard), result) = self.wait_until(guard, deadline_after(dur));
        poison::result(poisoned, (guard, result))
    }

    /// As [`Condvar::wait_while`], giving up after `dur`; the result says `timed_out` when
    /// the condition still held at the end.
    #[track_caller]
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let start = Instant::now();
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            let Some(left) = dur.checked_sub(start.elapsed()) else {
                return Ok((guard, WaitTimeoutResult(true)));
            };
            guard = self.wait_timeout(guard, left)?.0;
        }
    }

    /// Wakes the longest-waiting thread, if any.
    pub fn notify_one(&self) {
        self.inner.notify_one();
    }

    /// Wakes every waiting thread.
    pub fn notify_all(&self) {
        self.inner.notify_all();
    }

    /// One wait of the parking_lot flavour on the lock underneath; returns whether the
    /// mutex is poisoned once it is locked again, with the guard.
    #[track_caller]
    fn wait_until<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> ((bool, MutexGuard<'a, T>), WaitTimeoutResult) {
        let (mutex, inner) = MutexGuard::split(&mut guard);
        let result = self.inner.wait_until_internal(inner, deadline);
        let poisoned = mutex.is_poisoned();
        ((poisoned, guard), WaitTimeoutResult(result.timed_out()))
    }
}

impl Default for Condvar {
    #[track_caller]
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}
