//! [`Mutex`]: parking_lot's mutex API over the instrumented [`RawMutex`].
//!
//! A thin newtype over `lock_api::Mutex<RawMutex, T>`, so the guards are lock_api's own
//! (mapped guards, `unlocked`, `unlock_fair`, `bump` included) and every method is the same
//! call. The newtype exists for what a type alias cannot give: `new` records its caller as
//! the lock's creation site, and `named` gives the lock a name for reports.

use super::raw_mutex::RawMutex;
use crate::detect::ResourceMeta;
use crate::report::ResourceKind;
use std::borrow::Cow;
use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

/// A mutual exclusion primitive, a swap-in for `parking_lot::Mutex`.
///
/// With the `detect` feature, a thread that is about to block on this mutex first checks
/// whether its wait closes a cycle of threads waiting for each other; if it does, the
/// deadlock is reported at once (by default the thread panics with the report).
///
/// ```
/// use impasse::Mutex;
///
/// let counter = Mutex::new(0);
/// *counter.lock() += 1;
/// assert_eq!(*counter.lock(), 1);
/// ```
pub struct Mutex<T: ?Sized> {
    inner: lock_api::Mutex<RawMutex, T>,
}

/// A guard of a locked [`Mutex`]; the lock is released when it is dropped.
pub type MutexGuard<'a, T> = lock_api::MutexGuard<'a, RawMutex, T>;

/// A guard of a part of the data of a locked [`Mutex`], made by `MutexGuard::map`.
pub type MappedMutexGuard<'a, T> = lock_api::MappedMutexGuard<'a, RawMutex, T>;

impl<T> Mutex<T> {
    /// Creates an unlocked mutex; reports name it by the caller's source line.
    #[inline]
    #[track_caller]
    pub const fn new(value: T) -> Mutex<T> {
        Mutex::from_meta(
            ResourceMeta::new(ResourceKind::Mutex, Location::caller()),
            value,
        )
    }

    /// Creates an unlocked mutex that reports call `name`.
    ///
    /// ```
    /// let fork = impasse::Mutex::named(format!("fork-{}", 1), ());
    /// # drop(fork);
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> Mutex<T> {
        Mutex::from_meta(
            ResourceMeta::named(ResourceKind::Mutex, Location::caller(), name.into()),
            value,
        )
    }

    const fn from_meta(meta: ResourceMeta, value: T) -> Mutex<T> {
        Mutex {
            inner: lock_api::Mutex::from_raw(RawMutex::new(meta), value),
        }
    }

    /// Consumes the mutex, returning its data.
    #[inline]
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the mutex, blocking until it is available.
    ///
    /// With `detect`, relocking a mutex this thread holds, or a wait that closes a cycle,
    /// is reported instead of hanging (see [`crate::policy`]).
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.inner.lock()
    }

    /// Acquires the mutex if it is free right now. Never blocks, so never part of a deadlock.
    #[inline]
    #[track_caller]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.inner.try_lock()
    }

    /// Acquires the mutex, waiting at most `timeout`. A timed wait gives up by itself, so
    /// it is never reported as part of a deadlock.
    #[inline]
    #[track_caller]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        self.inner.try_lock_for(timeout)
    }

    /// Acquires the mutex, waiting until `deadline` at most.
    #[inline]
    #[track_caller]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
        self.inner.try_lock_until(deadline)
    }

    /// A mutable reference to the data; no locking needed, the borrow proves exclusivity.
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// Whether the mutex is locked right now (a snapshot, stale by the time it returns).
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Releases the mutex without a guard.
    ///
    /// # Safety
    ///
    /// The current thread must hold the mutex through a guard it gave up with
    /// `mem::forget` (as for parking_lot's `force_unlock`).
    #[inline]
    pub unsafe fn force_unlock(&self) {
        // SAFETY: forwarded caller contract.
        unsafe { self.inner.force_unlock() }
    }

    /// Releases the mutex without a guard, handing it to a waiting thread if there is one.
    ///
    /// # Safety
    ///
    /// As for [`Mutex::force_unlock`].
    #[inline]
    pub unsafe fn force_unlock_fair(&self) {
        // SAFETY: forwarded caller contract.
        unsafe { self.inner.force_unlock_fair() }
    }

    /// Makes a guard without locking.
    ///
    /// # Safety
    ///
    /// The current thread must hold the mutex (a guard given up with `mem::forget`).
    #[inline]
    pub unsafe fn make_guard_unchecked(&self) -> MutexGuard<'_, T> {
        // SAFETY: forwarded caller contract.
        unsafe { self.inner.make_guard_unchecked() }
    }

    /// The raw mutex.
    ///
    /// # Safety
    ///
    /// Unlocking it while a guard is alive is undefined behaviour, as in parking_lot.
    #[inline]
    pub unsafe fn raw(&self) -> &RawMutex {
        // SAFETY: forwarded caller contract.
        unsafe { self.inner.raw() }
    }

    /// A raw pointer to the data, which stays valid while the mutex lives.
    #[inline]
    pub fn data_ptr(&self) -> *mut T {
        self.inner.data_ptr()
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    #[track_caller]
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// Creates a new Mutex in a `const` context, as parking_lot's `const_mutex` (the same as
/// [`Mutex::new`], which is `const` too). Reports name it by the caller's line.
#[inline]
#[track_caller]
pub const fn const_mutex<T>(value: T) -> Mutex<T> {
    Mutex::new(value)
}
