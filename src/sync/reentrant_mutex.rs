//! [`ReentrantMutex`]: a mutex its owner may lock again, a swap-in for parking_lot's.
//!
//! Built on the instrumented [`RawMutex`] rather than on lock_api's reentrant wrapper, whose
//! raw `lock` does not carry the caller's location: here the first acquisition goes through
//! the raw mutex (and the detector) with the user's site, and relocking by the owner only
//! counts. To the detector the lock is held once, from the first lock to the last unlock.

use super::raw_mutex::RawMutex;
use crate::detect::{self, ResourceMeta};
use crate::facade::plain::{AtomicUsize, Ordering};
use crate::facade::thread::current_id;
use crate::report::ResourceKind;
use lock_api::{RawMutex as _, RawMutexFair as _, RawMutexTimed as _};
use std::borrow::Cow;
use std::cell::{Cell, UnsafeCell};
use std::convert::Infallible;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::panic::Location;
use std::time::{Duration, Instant};

/// The raw reentrant mutex: an instrumented raw mutex, its owner and the lock count.
pub struct RawReentrantMutex {
    mutex: RawMutex,
    /// `facade::thread::current_id` of the owner, `0` when unlocked.
    owner: AtomicUsize,
    /// Times the owner has locked; read and written only by the owner (guarded by `mutex`).
    count: Cell<usize>,
}

// SAFETY: `count` is only touched by the thread that holds `mutex` (the owner), so sharing
// the struct shares no unsynchronised access; the rest is Sync already.
unsafe impl Sync for RawReentrantMutex {}

impl RawReentrantMutex {
    const fn new(meta: ResourceMeta) -> Self {
        RawReentrantMutex {
            mutex: RawMutex::new(meta),
            owner: AtomicUsize::new(0),
            count: Cell::new(0),
        }
    }

    /// Counts one more lock if this thread owns the mutex already.
    #[inline]
    fn relock(&self) -> Option<usize> {
        let me = current_id().get();
        if self.owner.load(Ordering::Relaxed) != me {
            return Some(me);
        }
        let count = self.count.get().checked_add(1);
        self.count
            .set(count.expect("impasse: ReentrantMutex lock count overflow"));
        None
    }

    #[inline]
    fn take(&self, me: usize) {
        self.owner.store(me, Ordering::Relaxed);
        self.count.set(1);
    }

    #[inline]
    #[track_caller]
    fn lock(&self) {
        if let Some(me) = self.relock() {
            self.mutex.lock();
            self.take(me);
        }
    }

    #[inline]
    #[track_caller]
    fn try_lock(&self) -> bool {
        match self.relock() {
            None => true,
            Some(me) => {
                let acquired = self.mutex.try_lock();
                if acquired {
                    self.take(me);
                }
                acquired
            }
        }
    }

    #[inline]
    #[track_caller]
    fn try_lock_until(&self, deadline: Instant) -> bool {
        match self.relock() {
            None => true,
            Some(me) => {
                let acquired = self.mutex.try_lock_until(deadline);
                if acquired {
                    self.take(me);
                }
                acquired
            }
        }
    }

    /// # Safety
    ///
    /// The current thread must own the mutex.
    #[inline]
    unsafe fn unlock(&self, fair: bool) {
        let count = self.count.get() - 1;
        self.count.set(count);
        if count == 0 {
            self.owner.store(0, Ordering::Relaxed);
            // SAFETY: the owner (the caller) holds the inner mutex.
            unsafe {
                if fair {
                    self.mutex.unlock_fair();
                } else {
                    self.mutex.unlock();
                }
            }
        }
    }

    /// Releases one level of the lock (`fair`ly or not) for the duration of `f`, then takes it
    /// again, also when `f` panics. The caller holds a level through a live guard (which is
    /// why this is safe to call: the guard's `&mut` proves it).
    fn unlocked<U>(&self, fair: bool, f: impl FnOnce() -> U) -> U {
        // SAFETY: the caller's guard holds one level of the lock; `Relock` takes it again.
        unsafe { self.unlock(fair) };
        let _relock = Relock(self);
        f()
    }

    /// Hands the mutex to a waiting thread and takes it back, if the caller holds only one
    /// level of it (with more levels the mutex cannot be released, so nothing happens), as
    /// parking_lot's `bump` does.
    ///
    /// # Safety
    ///
    /// The current thread must own the mutex.
    #[track_caller]
    unsafe fn bump(&self) {
        if self.count.get() == 1 {
            // Leave the mutex as unlocked (no owner, no levels) while another thread may hold
            // it, and take both back after: the other thread's lock and unlock count from 0.
            let me = self.owner.load(Ordering::Relaxed);
            self.owner.store(0, Ordering::Relaxed);
            self.count.set(0);
            // SAFETY: the owner (the caller) holds the inner mutex; `bump` takes it again.
            unsafe { self.mutex.bump() };
            self.take(me);
        }
    }

    fn is_owned_by_current_thread(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == current_id().get()
    }
}

impl fmt::Debug for RawReentrantMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawReentrantMutex")
            .field("mutex", &self.mutex)
            .finish_non_exhaustive()
    }
}

/// A mutex that the thread holding it may lock again, a swap-in for
/// `parking_lot::ReentrantMutex`. Guards give shared access only (`&T`), as parking_lot's do.
///
/// ```
/// use impasse::ReentrantMutex;
///
/// let log = ReentrantMutex::new(std::cell::RefCell::new(Vec::new()));
/// let outer = log.lock();
/// let inner = log.lock(); // same thread: no deadlock
/// inner.borrow_mut().push(1);
/// drop(inner);
/// outer.borrow_mut().push(2);
/// ```
pub struct ReentrantMutex<T: ?Sized> {
    raw: RawReentrantMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the guard only hands out `&T`, and only to the thread that holds the lock, so
// sharing the mutex sends `T` between threads at most: `T: Send` suffices, as in lock_api.
unsafe impl<T: ?Sized + Send> Sync for ReentrantMutex<T> {}
// SAFETY: moving the mutex moves `T`.
unsafe impl<T: ?Sized + Send> Send for ReentrantMutex<T> {}

impl<T> ReentrantMutex<T> {
    /// Creates an unlocked reentrant mutex; reports name it by the caller's source line.
    #[inline]
    #[track_caller]
    pub const fn new(value: T) -> ReentrantMutex<T> {
        ReentrantMutex::from_meta(
            ResourceMeta::new(ResourceKind::ReentrantMutex, Location::caller()),
            value,
        )
    }

    /// Creates an unlocked reentrant mutex that reports call `name`.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, value: T) -> ReentrantMutex<T> {
        ReentrantMutex::from_meta(
            ResourceMeta::named(
                ResourceKind::ReentrantMutex,
                Location::caller(),
                name.into(),
            ),
            value,
        )
    }

    const fn from_meta(meta: ResourceMeta, value: T) -> ReentrantMutex<T> {
        ReentrantMutex {
            raw: RawReentrantMutex::new(meta),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning its data.
    #[inline]
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> ReentrantMutex<T> {
    /// Locks, blocking unless this thread holds the mutex already (then it only counts).
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> ReentrantMutexGuard<'_, T> {
        self.raw.lock();
        // SAFETY: the lock is held.
        unsafe { self.make_guard_unchecked() }
    }

    /// Locks if that is possible right now. Never part of a deadlock.
    #[inline]
    #[track_caller]
    pub fn try_lock(&self) -> Option<ReentrantMutexGuard<'_, T>> {
        // SAFETY: the lock is held when `try_lock` says so.
        self.raw
            .try_lock()
            .then(|| unsafe { self.make_guard_unchecked() })
    }

    /// Locks, waiting at most `timeout` (never part of a deadlock).
    #[inline]
    #[track_caller]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<ReentrantMutexGuard<'_, T>> {
        match super::raw_mutex::deadline_after(timeout) {
            Some(deadline) => self.try_lock_until(deadline),
            None => Some(self.lock()),
        }
    }

    /// Locks, waiting until `deadline` at most.
    #[inline]
    #[track_caller]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<ReentrantMutexGuard<'_, T>> {
        // SAFETY: the lock is held when `try_lock_until` says so.
        self.raw
            .try_lock_until(deadline)
            .then(|| unsafe { self.make_guard_unchecked() })
    }

    /// A mutable reference to the data; the borrow proves exclusivity.
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Whether some thread holds the mutex right now (a snapshot).
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.mutex.is_locked()
    }

    /// Whether this thread holds the mutex.
    #[inline]
    pub fn is_owned_by_current_thread(&self) -> bool {
        self.raw.is_owned_by_current_thread()
    }

    /// Releases one level of the lock without a guard.
    ///
    /// # Safety
    ///
    /// The current thread must hold the mutex through a guard it gave up with `mem::forget`.
    #[inline]
    pub unsafe fn force_unlock(&self) {
        // SAFETY: forwarded caller contract.
        unsafe { self.raw.unlock(false) }
    }

    /// [`ReentrantMutex::force_unlock`] with a fair unlock.
    ///
    /// # Safety
    ///
    /// As for [`ReentrantMutex::force_unlock`].
    #[inline]
    pub unsafe fn force_unlock_fair(&self) {
        // SAFETY: forwarded caller contract.
        unsafe { self.raw.unlock(true) }
    }

    /// Makes a guard without locking.
    ///
    /// # Safety
    ///
    /// The current thread must hold the mutex (a guard given up with `mem::forget`).
    #[inline]
    pub unsafe fn make_guard_unchecked(&self) -> ReentrantMutexGuard<'_, T> {
        ReentrantMutexGuard {
            remutex: self,
            marker: PhantomData,
        }
    }

    /// The raw mutex.
    ///
    /// # Safety
    ///
    /// Unlocking it while a guard is alive is undefined behaviour.
    #[inline]
    pub unsafe fn raw(&self) -> &RawReentrantMutex {
        &self.raw
    }

    /// A raw pointer to the data, which stays valid while the mutex lives.
    #[inline]
    pub fn data_ptr(&self) -> *mut T {
        self.data.get()
    }
}

impl<T: Default> Default for ReentrantMutex<T> {
    #[track_caller]
    fn default() -> Self {
        ReentrantMutex::new(T::default())
    }
}

impl<T> From<T> for ReentrantMutex<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        ReentrantMutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ReentrantMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ReentrantMutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// A guard of a locked [`ReentrantMutex`]: shared access to the data; one level of the lock
/// is released when it is dropped.
#[clippy::has_significant_drop]
#[must_use = "if unused the ReentrantMutex will immediately unlock"]
pub struct ReentrantMutexGuard<'a, T: ?Sized> {
    remutex: &'a ReentrantMutex<T>,
    /// Not `Send`: the lock belongs to the thread that took it.
    marker: PhantomData<(&'a T, *const ())>,
}

// SAFETY: sharing the guard shares `&T` (needs `T: Sync`); it cannot be sent (raw pointer).
unsafe impl<T: ?Sized + Sync> Sync for ReentrantMutexGuard<'_, T> {}

impl<'a, T: ?Sized> ReentrantMutexGuard<'a, T> {
    /// The mutex this guard locks.
    pub fn remutex(s: &Self) -> &'a ReentrantMutex<T> {
        s.remutex
    }

    /// A guard of a part of the data. If `f` panics, the original guard is dropped.
    #[inline]
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedReentrantMutexGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        let raw = &s.remutex.raw;
        match project(raw, s, |data| Ok::<_, Infallible>(f(data))) {
            Ok(part) => part,
            Err((_, never)) => match never {},
        }
    }

    /// A guard of a part of the data, or the original guard when `f` returns `None`.
    #[inline]
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedReentrantMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        Self::try_map_or_err(s, |data| f(data).ok_or(())).map_err(|(s, ())| s)
    }

    /// Unlocks for the duration of `f`, then locks again (also when `f` panics).
    pub fn unlocked<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        s.remutex.raw.unlocked(false, f)
    }

    /// Unlocks fairly for the duration of `f` (handing the mutex to a waiting thread if this
    /// was the last level), then locks again (also when `f` panics).
    pub fn unlocked_fair<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        s.remutex.raw.unlocked(true, f)
    }

    /// Lets a waiting thread take the mutex and then takes it back, if this guard holds the
    /// only level of it; with more levels it does nothing.
    #[track_caller]
    pub fn bump(s: &mut Self) {
        // SAFETY: the guard holds a level of the lock.
        unsafe { s.remutex.raw.bump() }
    }

    /// A guard of a part of the data, or the original guard and `f`'s error.
    #[inline]
    pub fn try_map_or_err<U: ?Sized, F, E>(
        s: Self,
        f: F,
    ) -> Result<MappedReentrantMutexGuard<'a, U>, (Self, E)>
    where
        F: FnOnce(&T) -> Result<&U, E>,
    {
        let raw = &s.remutex.raw;
        project(raw, s, f)
    }

    /// Unlocks fairly, handing the mutex to a waiting thread if this was the last level.
    pub fn unlock_fair(s: Self) {
        let remutex = s.remutex;
        std::mem::forget(s);
        // SAFETY: the guard held one level of the lock and is gone.
        unsafe { remutex.raw.unlock(true) }
    }
}

/// Takes a level of the lock again when dropped (also when `unlocked`'s closure panics).
struct Relock<'a>(&'a RawReentrantMutex);

impl Drop for Relock<'_> {
    fn drop(&mut self) {
        // A report made while relocking must not unwind: the guard would then release a
        // level the thread does not hold (see `detect::relocking`).
        let _relocking = detect::relocking();
        self.0.lock();
    }
}

impl<T: ?Sized> Deref for ReentrantMutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the lock is held, and reentrant guards only ever give shared access.
        unsafe { &*self.remutex.data.get() }
    }
}

impl<T: ?Sized> Drop for ReentrantMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds one level of the lock.
        unsafe { self.remutex.raw.unlock(false) }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ReentrantMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for ReentrantMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// A guard of a part of the data of a locked [`ReentrantMutex`].
#[clippy::has_significant_drop]
#[must_use = "if unused the ReentrantMutex will immediately unlock"]
pub struct MappedReentrantMutexGuard<'a, T: ?Sized> {
    raw: &'a RawReentrantMutex,
    data: *const T,
    marker: PhantomData<&'a T>,
}

// SAFETY: as for `ReentrantMutexGuard`: shares `&T`, is never sent (raw pointer field).
unsafe impl<T: ?Sized + Sync> Sync for MappedReentrantMutexGuard<'_, T> {}

impl<'a, T: ?Sized> MappedReentrantMutexGuard<'a, T> {
    /// A guard of a part of this part.
    #[inline]
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedReentrantMutexGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        match project(s.raw, s, |data| Ok::<_, Infallible>(f(data))) {
            Ok(part) => part,
            Err((_, never)) => match never {},
        }
    }

    /// A guard of a part of this part, or this guard when `f` returns `None`.
    #[inline]
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedReentrantMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        Self::try_map_or_err(s, |data| f(data).ok_or(())).map_err(|(s, ())| s)
    }

    /// A guard of a part of this part, or this guard and `f`'s error.
    #[inline]
    pub fn try_map_or_err<U: ?Sized, F, E>(
        s: Self,
        f: F,
    ) -> Result<MappedReentrantMutexGuard<'a, U>, (Self, E)>
    where
        F: FnOnce(&T) -> Result<&U, E>,
    {
        project(s.raw, s, f)
    }

    /// Unlocks fairly, handing the mutex to a waiting thread if this was the last level.
    pub fn unlock_fair(s: Self) {
        let raw = s.raw;
        std::mem::forget(s);
        // SAFETY: the guard held one level of the lock and is gone.
        unsafe { raw.unlock(true) }
    }
}

impl<T: ?Sized> Deref for MappedReentrantMutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `data` points into the locked mutex's data, which outlives `'a`.
        unsafe { &*self.data }
    }
}

impl<T: ?Sized> Drop for MappedReentrantMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds one level of the lock.
        unsafe { self.raw.unlock(false) }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MappedReentrantMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The part of `guard`'s data that `f` picks, as a mapped guard of the same level of `raw`, or
/// `guard` back with `f`'s error. Shared by the two guard types' `map`s and `try_map`s.
fn project<'a, G, T, U, E>(
    raw: &'a RawReentrantMutex,
    guard: G,
    f: impl FnOnce(&T) -> Result<&U, E>,
) -> Result<MappedReentrantMutexGuard<'a, U>, (G, E)>
where
    G: Deref<Target = T>,
    T: ?Sized,
    U: ?Sized,
{
    let data = match f(&*guard) {
        Ok(data) => data as *const U,
        Err(error) => return Err((guard, error)),
    };
    // The level `guard` holds passes to the mapped guard, which releases it on drop.
    std::mem::forget(guard);
    Ok(MappedReentrantMutexGuard {
        raw,
        data,
        marker: PhantomData,
    })
}

/// Creates a new ReentrantMutex in a `const` context, as parking_lot's `const_reentrant_mutex` (the same as
/// [`ReentrantMutex::new`], which is `const` too). Reports name it by the caller's line.
#[inline]
#[track_caller]
pub const fn const_reentrant_mutex<T>(value: T) -> ReentrantMutex<T> {
    ReentrantMutex::new(value)
}
