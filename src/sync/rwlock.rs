//! [`RwLock`]: parking_lot's reader-writer lock API over the instrumented [`RawRwLock`].
//!
//! Like [`Mutex`](crate::Mutex), a thin newtype over lock_api's lock, for the creation site
//! and the name; the guards are lock_api's.

use super::raw_rwlock::RawRwLock;
use crate::detect::ResourceMeta;
use crate::report::ResourceKind;
use std::borrow::Cow;
use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

/// A reader-writer lock, a swap-in for `parking_lot::RwLock`.
///
/// The blocking rules are parking_lot's, and the detector knows them: a writer waits for
/// every reader; a reader waits for a writer, and also behind a writer that is queued for
/// the lock (so `read` while this thread already reads can deadlock, and is reported, where
/// `read_recursive` would pass); a thread that reads and then asks to write the same lock
/// waits for itself, which is reported at once.
///
/// One difference, with the detector on: a timed write (`try_write_for`, `try_write_until`,
/// and the timed upgrades) retries with short pauses instead of queueing, so it does not hold
/// new readers back while it waits, and a reader behind an untimed writer can be judged with
/// certainty. Without the detector every call is parking_lot's.
///
/// ```
/// use impasse::RwLock;
///
/// let config = RwLock::new(String::from("v1"));
/// assert_eq!(*config.read(), "v1");
/// config.write().push_str(".1");
/// assert_eq!(*config.read(), "v1.1");
/// ```
pub struct RwLock<T: ?Sized> {
    inner: lock_api::RwLock<RawRwLock, T>,
}

/// A guard of a read lock of an [`RwLock`].
pub type RwLockReadGuard<'a, T> = lock_api::RwLockReadGuard<'a, RawRwLock, T>;
/// A guard of the write lock of an [`RwLock`].
pub type RwLockWriteGuard<'a, T> = lock_api::RwLockWriteGuard<'a, RawRwLock, T>;
/// A guard of an upgradable read lock of an [`RwLock`].
pub type RwLockUpgradableReadGuard<'a, T> = lock_api::RwLockUpgradableReadGuard<'a, RawRwLock, T>;
/// A read guard of a part of the data, made by `RwLockReadGuard::map`.
pub type MappedRwLockReadGuard<'a, T> = lock_api::MappedRwLockReadGuard<'a, RawRwLock, T>;
/// A write guard of a part of the data, made by `RwLockWriteGuard::map`.
pub type MappedRwLockWriteGuard<'a, T> = lock_api::MappedRwLockWriteGuard<'a, RawRwLock, T>;

impl<T> RwLock<T> {
    /// Creates an unlocked lock; reports name it by the caller's source line.
    #[inline]
    #[track_caller]
    pub const fn new(value: T) -> RwLock<T> {
        RwLock::from_meta(
            ResourceMeta::new(ResourceKind::RwLock, Location::caller()),
            value,
        )
    }

    /// Creates an unlocked lock that reports call `name`.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> RwLock<T> {
        RwLock::from_meta(
            ResourceMeta::named(ResourceKind::RwLock, Location::caller(), name.into()),
            value,
        )
    }

    const fn from_meta(meta: ResourceMeta, value: T) -> RwLock<T> {
        RwLock {
            inner: lock_api::RwLock::from_raw(RawRwLock::new(meta), value),
        }
    }

    /// Consumes the lock, returning its data.
    #[inline]
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, blocking while a writer holds the lock or is queued for it.
    #[inline]
    #[track_caller]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.inner.read()
    }

    /// Locks for reading if that is possible right now. Never part of a deadlock.
    #[inline]
    #[track_caller]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.inner.try_read()
    }

    /// Locks for reading, waiting at most `timeout` (never part of a deadlock).
    #[inline]
    #[track_caller]
    pub fn try_read_for(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        self.inner.try_read_for(timeout)
    }

    /// Locks for reading, waiting until `deadline` at most.
    #[inline]
    #[track_caller]
    pub fn try_read_until(&self, deadline: Instant) -> Option<RwLockReadGuard<'_, T>> {
        self.inner.try_read_until(deadline)
    }

    /// Locks for reading, passing queued writers when other readers hold the lock (so a
    /// thread may read recursively), at the cost of writer fairness.
    #[inline]
    #[track_caller]
    pub fn read_recursive(&self) -> RwLockReadGuard<'_, T> {
        self.inner.read_recursive()
    }

    /// [`RwLock::read_recursive`] if possible right now.
    #[inline]
    #[track_caller]
    pub fn try_read_recursive(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.inner.try_read_recursive()
    }

    /// [`RwLock::read_recursive`], waiting at most `timeout`.
    #[inline]
    #[track_caller]
    pub fn try_read_recursive_for(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        self.inner.try_read_recursive_for(timeout)
    }

    /// [`RwLock::read_recursive`], waiting until `deadline` at most.
    #[inline]
    #[track_caller]
    pub fn try_read_recursive_until(&self, deadline: Instant) -> Option<RwLockReadGuard<'_, T>> {
        self.inner.try_read_recursive_until(deadline)
    }

    /// Locks for writing, blocking until no one else holds the lock.
    #[inline]
    #[track_caller]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.inner.write()
    }

    /// Locks for writing if that is possible right now. Never part of a deadlock.
    #[inline]
    #[track_caller]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.inner.try_write()
    }

    /// Locks for writing, waiting at most `timeout` (never part of a deadlock).
    #[inline]
    #[track_caller]
    pub fn try_write_for(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        self.inner.try_write_for(timeout)
    }

    /// Locks for writing, waiting until `deadline` at most.
    #[inline]
    #[track_caller]
    pub fn try_write_until(&self, deadline: Instant) -> Option<RwLockWriteGuard<'_, T>> {
        self.inner.try_write_until(deadline)
    }

    /// Locks for an upgradable read: shared with plain readers, exclusive among writers and
    /// upgradable readers, and upgradable to a write lock without letting a writer in.
    #[inline]
    #[track_caller]
    pub fn upgradable_read(&self) -> RwLockUpgradableReadGuard<'_, T> {
        self.inner.upgradable_read()
    }

    /// [`RwLock::upgradable_read`] if possible right now.
    #[inline]
    #[track_caller]
    pub fn try_upgradable_read(&self) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        self.inner.try_upgradable_read()
    }

    /// [`RwLock::upgradable_read`], waiting at most `timeout`.
    #[inline]
    #[track_caller]
    pub fn try_upgradable_read_for(
        &self,
        timeout: Duration,
    ) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        self.inner.try_upgradable_read_for(timeout)
    }

    /// [`RwLock::upgradable_read`], waiting until `deadline` at most.
    #[inline]
    #[track_caller]
    pub fn try_upgradable_read_until(
        &self,
        deadline: Instant,
    ) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        self.inner.try_upgradable_read_until(deadline)
    }

    /// A mutable reference to the data; the borrow proves exclusivity.
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// Whether the lock is held in any way right now (a snapshot).
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Whether a writer holds, or is queued with the writer bit for, the lock (a snapshot).
    #[inline]
    pub fn is_locked_exclusive(&self) -> bool {
        self.inner.is_locked_exclusive()
    }

    /// Releases a read lock without a guard.
    ///
    /// # Safety
    ///
    /// The current thread must hold a read lock through a guard it gave up with `mem::forget`.
    #[inline]
    pub unsafe fn force_unlock_read(&self) {
        // SAFETY: forwarded caller contract.
        unsafe { self.inner.force_unlock_read() }
    }

    /// Releases the write lock without a guard.
    ///
    /// # Safety
    ///
    /// The current thread must hold the write lock through a guard it gave up with
    /// `mem::forget`.
    #[inline]
    pub unsafe fn force_unlock_write(&self) {
        // SAFETY: forwarded caller contract.
        unsafe { self.inner.force_unlock_write() }
    }

    /// [`RwLock::force_unlock_read`] with a fair unlock.
    ///
    /// # Safety
    ///
    /// As for [`RwLock::force_unlock_read`].
    #[inline]
    pub unsafe fn force_unlock_read_fair(&self) {
        // SAFETY: forwarded caller contract.
        unsafe { self.inner.force_unlock_read_fair() }
    }

    /// [`RwLock::force_unlock_write`] with a fair unlock.
    ///
    /// # Safety
    ///
    /// As for [`RwLock::force_unlock_write`].
    #[inline]
    pub unsafe fn force_unlock_write_fair(&self) {
        // SAFETY: forwarded caller contract.
        unsafe { self.inner.force_unlock_write_fair() }
    }

    /// Makes a read guard without locking.
    ///
    /// # Safety
    ///
    /// The current thread must hold a read lock (a guard given up with `mem::forget`).
    #[inline]
    pub unsafe fn make_read_guard_unchecked(&self) -> RwLockReadGuard<'_, T> {
        // SAFETY: forwarded caller contract.
        unsafe { self.inner.make_read_guard_unchecked() }
    }

    /// Makes a write guard without locking.
    ///
    /// # Safety
    ///
    /// The current thread must hold the write lock (a guard given up with `mem::forget`).
    #[inline]
    pub unsafe fn make_write_guard_unchecked(&self) -> RwLockWriteGuard<'_, T> {
        // SAFETY: forwarded caller contract.
        unsafe { self.inner.make_write_guard_unchecked() }
    }

    /// Makes an upgradable read guard without locking.
    ///
    /// # Safety
    ///
    /// The current thread must hold an upgradable read lock (a guard given up with
    /// `mem::forget`).
    #[inline]
    pub unsafe fn make_upgradable_guard_unchecked(&self) -> RwLockUpgradableReadGuard<'_, T> {
        // SAFETY: forwarded caller contract.
        unsafe { self.inner.make_upgradable_guard_unchecked() }
    }

    /// The raw lock.
    ///
    /// # Safety
    ///
    /// Unlocking it while a guard is alive is undefined behaviour, as in parking_lot.
    #[inline]
    pub unsafe fn raw(&self) -> &RawRwLock {
        // SAFETY: forwarded caller contract.
        unsafe { self.inner.raw() }
    }

    /// A raw pointer to the data, which stays valid while the lock lives.
    #[inline]
    pub fn data_ptr(&self) -> *mut T {
        self.inner.data_ptr()
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    #[track_caller]
    fn from(value: T) -> RwLock<T> {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// Creates a new RwLock in a `const` context, as parking_lot's `const_rwlock` (the same as
/// [`RwLock::new`], which is `const` too). Reports name it by the caller's line.
#[inline]
#[track_caller]
pub const fn const_rwlock<T>(value: T) -> RwLock<T> {
    RwLock::new(value)
}
