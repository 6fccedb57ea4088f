//! The raw layer of [`Mutex`](crate::Mutex): the fast path, the slow path and the detector
//! hooks, written once, behind `lock_api::RawMutex`.
//!
//! Fast path: one raw `try_lock` (a CAS), then the thread-local held stack. Slow path
//! (`#[cold]`): a bounded spin, then the detector, which tries once more under its graph
//! lock, looks for a cycle, and blocks on the raw lock. Release: the raw unlock, then the held
//! stack (after, to keep the critical section short: only this thread reads its held stack,
//! and it cannot block, which would publish it, in between). With `detect` off every method is
//! parking_lot's, plus nothing.

use crate::detect::{self, Acquire, Blocking, ResourceMeta};
use crate::facade::{self, SpinWait};
use crate::report::{Access, ResourceKind};
use lock_api::{RawMutex as _, RawMutexTimed as _};
use std::panic::Location;
use std::time::{Duration, Instant};

/// The raw mutex behind [`Mutex`](crate::Mutex): parking_lot's raw mutex plus, with the
/// `detect` feature, the resource's identity (creation site, lazily assigned id).
///
/// You rarely name this type: it appears in the guard types, as `RawMutex` does in
/// parking_lot's.
pub struct RawMutex {
    raw: facade::raw::RawMutex,
    meta: ResourceMeta,
}

impl RawMutex {
    pub(crate) const fn new(meta: ResourceMeta) -> RawMutex {
        RawMutex {
            raw: <facade::raw::RawMutex as lock_api::RawMutex>::INIT,
            meta,
        }
    }

    /// The slow path: spin, then block through the detector. `false` only when `deadline`
    /// passed.
    #[cold]
    #[track_caller]
    fn lock_slow(&self, deadline: Option<Instant>) -> bool {
        let mut spin = SpinWait::new();
        while spin.spin() {
            if self.raw.try_lock() {
                return true;
            }
        }
        detect::wait(
            &self.meta,
            Access::Exclusive,
            Location::caller(),
            deadline,
            &Exclusive(&self.raw),
        )
    }

    #[inline]
    #[track_caller]
    fn lock_timed(&self, deadline: Option<Instant>) -> bool {
        let acquired = self.raw.try_lock() || self.lock_slow(deadline);
        if acquired {
            let blocking = match deadline {
                None => Blocking::Untimed,
                Some(_) => Blocking::GivesUp,
            };
            detect::acquired(
                &self.meta,
                Access::Exclusive,
                Location::caller(),
                blocking,
                &Exclusive(&self.raw),
            );
        }
        acquired
    }
}

/// One exclusive acquisition of a raw mutex, as the detector drives it.
pub(crate) struct Exclusive<'a>(pub(crate) &'a facade::raw::RawMutex);

impl Acquire for Exclusive<'_> {
    fn attempt(&self) -> bool {
        self.0.try_lock()
    }

    fn block(&self, deadline: Option<Instant>) -> bool {
        match deadline {
            None => {
                self.0.lock();
                true
            }
            Some(deadline) => self.0.try_lock_until(deadline),
        }
    }

    unsafe fn release(&self) {
        // SAFETY: the caller has just acquired the lock on this thread (`release`'s contract).
        unsafe { self.0.unlock() }
    }
}

/// A deadline `timeout` from now; `None` when that is beyond what `Instant` can hold, which
/// is a wait without a deadline (as parking_lot treats it).
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

// SAFETY: mutual exclusion and its memory ordering are the raw parking_lot (or loom) mutex's;
// this layer only adds bookkeeping before `unlock` and after a successful acquisition, and
// acquires nothing itself.
unsafe impl lock_api::RawMutex for RawMutex {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawMutex =
        RawMutex::new(ResourceMeta::new(ResourceKind::Mutex, Location::caller()));

    type GuardMarker = lock_api::GuardNoSend;

    #[inline]
    #[track_caller]
    fn lock(&self) {
        if !detect::ENABLED {
            return self.raw.lock();
        }
        self.lock_timed(None);
    }

    #[inline]
    #[track_caller]
    fn try_lock(&self) -> bool {
        let acquired = self.raw.try_lock();
        if acquired {
            detect::acquired(
                &self.meta,
                Access::Exclusive,
                Location::caller(),
                Blocking::GivesUp,
                &Exclusive(&self.raw),
            );
        }
        acquired
    }

    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock, as `unlock` requires.
        unsafe { self.raw.unlock() };
        // After the raw release, to keep the critical section short: the held stack is read
        // only by this thread, which cannot block (and publish it) in between.
        detect::released(&self.meta, Access::Exclusive);
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }
}

// SAFETY: as for `RawMutex`; fairness is the raw mutex's.
unsafe impl lock_api::RawMutexFair for RawMutex {
    #[inline]
    unsafe fn unlock_fair(&self) {
        // SAFETY: the caller holds the lock, as `unlock_fair` requires.
        unsafe { self.raw.unlock_fair() };
        detect::released(&self.meta, Access::Exclusive);
    }

    #[inline]
    #[track_caller]
    unsafe fn bump(&self) {
        // SAFETY: the caller holds the lock, as `bump` requires; it is re-acquired below.
        unsafe { lock_api::RawMutexFair::unlock_fair(self) };
        let _relocking = detect::relocking();
        lock_api::RawMutex::lock(self);
    }
}

// SAFETY: as for `RawMutex`; a timed acquisition that gives up leaves nothing behind.
unsafe impl lock_api::RawMutexTimed for RawMutex {
    type Duration = Duration;
    type Instant = Instant;

    #[inline]
    #[track_caller]
    fn try_lock_for(&self, timeout: Duration) -> bool {
        if !detect::ENABLED {
            return self.raw.try_lock_for(timeout);
        }
        self.lock_timed(deadline_after(timeout))
    }

    #[inline]
    #[track_caller]
    fn try_lock_until(&self, deadline: Instant) -> bool {
        if !detect::ENABLED {
            return self.raw.try_lock_until(deadline);
        }
        self.lock_timed(Some(deadline))
    }
}

impl std::fmt::Debug for RawMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMutex")
            .field("locked", &self.raw.is_locked())
            .field("meta", &self.meta)
            .finish()
    }
}
