//! The raw layer of [`RwLock`](crate::RwLock): one acquisition path for every access
//! (read, recursive read, upgradable read, write, upgrade), written once, behind lock_api's
//! `RawRwLock` family of traits.
//!
//! Besides the resource's identity it keeps one [`Owner`] word: the thread that holds the
//! lock for writing. The detector needs it to tell a writer bit held by an owning writer from
//! one held by a queued writer, which new readers must wait behind (parking_lot's rule).

use super::raw_mutex::deadline_after;
use crate::detect::{self, Acquire, Owner, ResourceMeta};
use crate::facade::{self, SpinWait};
use crate::report::{Access, ResourceKind};
use lock_api::{
    RawRwLock as _, RawRwLockRecursive as _, RawRwLockRecursiveTimed as _, RawRwLockTimed as _,
    RawRwLockUpgrade as _, RawRwLockUpgradeTimed as _,
};
use std::panic::Location;
use std::time::{Duration, Instant};

/// The raw reader-writer lock behind [`RwLock`](crate::RwLock): parking_lot's raw rwlock plus,
/// with the `detect` feature, the resource's identity and the writing owner's key.
pub struct RawRwLock {
    raw: facade::raw::RawRwLock,
    meta: ResourceMeta,
    owner: Owner,
}

impl RawRwLock {
    pub(crate) const fn new(meta: ResourceMeta) -> RawRwLock {
        RawRwLock {
            raw: <facade::raw::RawRwLock as lock_api::RawRwLock>::INIT,
            meta,
            owner: Owner::new(),
        }
    }

    /// One non-blocking attempt at `access`.
    #[inline]
    fn attempt(&self, access: Access) -> bool {
        match access {
            Access::Exclusive => self.raw.try_lock_exclusive(),
            Access::Shared => self.raw.try_lock_shared(),
            Access::SharedRecursive => self.raw.try_lock_shared_recursive(),
            Access::Upgradable => self.raw.try_lock_upgradable(),
            // SAFETY: `Upgrade` is only requested by a caller holding an upgradable lock.
            Access::Upgrade => unsafe { self.raw.try_upgrade() },
        }
    }

    /// Blocks for `access` in the raw lock, until `deadline` if there is one.
    fn block(&self, access: Access, deadline: Option<Instant>) -> bool {
        let Some(deadline) = deadline else {
            match access {
                Access::Exclusive => self.raw.lock_exclusive(),
                Access::Shared => self.raw.lock_shared(),
                Access::SharedRecursive => self.raw.lock_shared_recursive(),
                Access::Upgradable => self.raw.lock_upgradable(),
                // SAFETY: `Upgrade` is only requested by a caller holding an upgradable lock.
                Access::Upgrade => unsafe { self.raw.upgrade() },
            }
            return true;
        };
        match access {
            Access::Exclusive => self.raw.try_lock_exclusive_until(deadline),
            Access::Shared => self.raw.try_lock_shared_until(deadline),
            Access::SharedRecursive => self.raw.try_lock_shared_recursive_until(deadline),
            Access::Upgradable => self.raw.try_lock_upgradable_until(deadline),
            // SAFETY: `Upgrade` is only requested by a caller holding an upgradable lock.
            Access::Upgrade => unsafe { self.raw.try_upgrade_until(deadline) },
        }
    }

    /// The one acquisition path: fast attempt, else the cold path; then the bookkeeping.
    #[inline]
    #[track_caller]
    fn acquire(&self, access: Access, deadline: Option<Instant>) -> bool {
        let acquired = self.attempt(access) || self.acquire_slow(access, deadline);
        if acquired {
            self.record(access, Location::caller());
        }
        acquired
    }

    #[cold]
    #[track_caller]
    fn acquire_slow(&self, access: Access, deadline: Option<Instant>) -> bool {
        let mut spin = SpinWait::new();
        while spin.spin() {
            if self.attempt(access) {
                return true;
            }
        }
        detect::wait(
            &self.meta,
            access,
            Location::caller(),
            deadline,
            &Request { lock: self, access },
        )
    }

    #[inline]
    fn record(&self, access: Access, at: &'static Location<'static>) {
        match access {
            Access::Exclusive => {
                let holder = detect::acquired(&self.meta, Access::Exclusive, at);
                self.owner.set(holder);
            }
            Access::Upgrade => {
                let holder = detect::changed(&self.meta, Access::Upgradable, Access::Exclusive);
                self.owner.set(holder);
            }
            // A recursive read is held like any read, and released by `unlock_shared`.
            Access::Shared | Access::SharedRecursive => {
                detect::acquired(&self.meta, Access::Shared, at);
            }
            Access::Upgradable => {
                detect::acquired(&self.meta, Access::Upgradable, at);
            }
        }
    }

    /// Blocking acquisition: parking_lot's own call when the detector is off.
    #[inline]
    #[track_caller]
    fn lock_blocking(&self, access: Access) {
        if !detect::ENABLED {
            self.block(access, None);
            return;
        }
        self.acquire(access, None);
    }

    #[inline]
    #[track_caller]
    fn lock_timed(&self, access: Access, deadline: Option<Instant>) -> bool {
        if !detect::ENABLED {
            return match deadline {
                Some(deadline) => self.block(access, Some(deadline)),
                None => {
                    self.block(access, None);
                    true
                }
            };
        }
        self.acquire(access, deadline)
    }

    #[inline]
    #[track_caller]
    fn try_acquire(&self, access: Access) -> bool {
        let acquired = self.attempt(access);
        if acquired {
            self.record(access, Location::caller());
        }
        acquired
    }
}

/// One acquisition of an RwLock with a given access, as the detector drives it.
struct Request<'a> {
    lock: &'a RawRwLock,
    access: Access,
}

impl Acquire for Request<'_> {
    fn attempt(&self) -> bool {
        self.lock.attempt(self.access)
    }

    fn block(&self, deadline: Option<Instant>) -> bool {
        self.lock.block(self.access, deadline)
    }

    fn writer_queued(&self) -> bool {
        self.lock.raw.is_locked_exclusive() && !self.lock.owner.is_owned()
    }
}

// SAFETY: exclusion and memory ordering are the raw parking_lot (or loom) rwlock's; this
// layer adds bookkeeping after successful acquisitions and before releases, and acquires
// nothing itself.
unsafe impl lock_api::RawRwLock for RawRwLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawRwLock =
        RawRwLock::new(ResourceMeta::new(ResourceKind::RwLock, Location::caller()));

    type GuardMarker = lock_api::GuardNoSend;

    #[inline]
    #[track_caller]
    fn lock_shared(&self) {
        self.lock_blocking(Access::Shared);
    }

    #[inline]
    #[track_caller]
    fn try_lock_shared(&self) -> bool {
        self.try_acquire(Access::Shared)
    }

    #[inline]
    unsafe fn unlock_shared(&self) {
        detect::released(&self.meta, Access::Shared);
        // SAFETY: the caller holds a shared lock, as `unlock_shared` requires.
        unsafe { self.raw.unlock_shared() }
    }

    #[inline]
    #[track_caller]
    fn lock_exclusive(&self) {
        self.lock_blocking(Access::Exclusive);
    }

    #[inline]
    #[track_caller]
    fn try_lock_exclusive(&self) -> bool {
        self.try_acquire(Access::Exclusive)
    }

    #[inline]
    unsafe fn unlock_exclusive(&self) {
        detect::released(&self.meta, Access::Exclusive);
        self.owner.clear();
        // SAFETY: the caller holds the exclusive lock, as `unlock_exclusive` requires.
        unsafe { self.raw.unlock_exclusive() }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    #[inline]
    fn is_locked_exclusive(&self) -> bool {
        self.raw.is_locked_exclusive()
    }
}

// SAFETY: as above; fairness is the raw lock's.
unsafe impl lock_api::RawRwLockFair for RawRwLock {
    #[inline]
    unsafe fn unlock_shared_fair(&self) {
        detect::released(&self.meta, Access::Shared);
        // SAFETY: forwarded caller contract.
        unsafe { self.raw.unlock_shared_fair() }
    }

    #[inline]
    unsafe fn unlock_exclusive_fair(&self) {
        detect::released(&self.meta, Access::Exclusive);
        self.owner.clear();
        // SAFETY: forwarded caller contract.
        unsafe { self.raw.unlock_exclusive_fair() }
    }

    #[inline]
    #[track_caller]
    unsafe fn bump_shared(&self) {
        // SAFETY: forwarded caller contract; the lock is taken again below.
        unsafe { lock_api::RawRwLockFair::unlock_shared_fair(self) };
        lock_api::RawRwLock::lock_shared(self);
    }

    #[inline]
    #[track_caller]
    unsafe fn bump_exclusive(&self) {
        // SAFETY: forwarded caller contract; the lock is taken again below.
        unsafe { lock_api::RawRwLockFair::unlock_exclusive_fair(self) };
        lock_api::RawRwLock::lock_exclusive(self);
    }
}

// SAFETY: the raw downgrade is atomic; the owner is cleared first, so it never names a
// thread that no longer writes.
unsafe impl lock_api::RawRwLockDowngrade for RawRwLock {
    #[inline]
    unsafe fn downgrade(&self) {
        self.owner.clear();
        detect::changed(&self.meta, Access::Exclusive, Access::Shared);
        // SAFETY: forwarded caller contract.
        unsafe { self.raw.downgrade() }
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockTimed for RawRwLock {
    type Duration = Duration;
    type Instant = Instant;

    #[inline]
    #[track_caller]
    fn try_lock_shared_for(&self, timeout: Duration) -> bool {
        self.lock_timed(Access::Shared, deadline_after(timeout))
    }

    #[inline]
    #[track_caller]
    fn try_lock_shared_until(&self, deadline: Instant) -> bool {
        self.lock_timed(Access::Shared, Some(deadline))
    }

    #[inline]
    #[track_caller]
    fn try_lock_exclusive_for(&self, timeout: Duration) -> bool {
        self.lock_timed(Access::Exclusive, deadline_after(timeout))
    }

    #[inline]
    #[track_caller]
    fn try_lock_exclusive_until(&self, deadline: Instant) -> bool {
        self.lock_timed(Access::Exclusive, Some(deadline))
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockRecursive for RawRwLock {
    #[inline]
    #[track_caller]
    fn lock_shared_recursive(&self) {
        self.lock_blocking(Access::SharedRecursive);
    }

    #[inline]
    #[track_caller]
    fn try_lock_shared_recursive(&self) -> bool {
        self.try_acquire(Access::SharedRecursive)
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockRecursiveTimed for RawRwLock {
    #[inline]
    #[track_caller]
    fn try_lock_shared_recursive_for(&self, timeout: Duration) -> bool {
        self.lock_timed(Access::SharedRecursive, deadline_after(timeout))
    }

    #[inline]
    #[track_caller]
    fn try_lock_shared_recursive_until(&self, deadline: Instant) -> bool {
        self.lock_timed(Access::SharedRecursive, Some(deadline))
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockUpgrade for RawRwLock {
    #[inline]
    #[track_caller]
    fn lock_upgradable(&self) {
        self.lock_blocking(Access::Upgradable);
    }

    #[inline]
    #[track_caller]
    fn try_lock_upgradable(&self) -> bool {
        self.try_acquire(Access::Upgradable)
    }

    #[inline]
    unsafe fn unlock_upgradable(&self) {
        detect::released(&self.meta, Access::Upgradable);
        // SAFETY: forwarded caller contract.
        unsafe { self.raw.unlock_upgradable() }
    }

    #[inline]
    #[track_caller]
    unsafe fn upgrade(&self) {
        self.lock_blocking(Access::Upgrade);
    }

    #[inline]
    #[track_caller]
    unsafe fn try_upgrade(&self) -> bool {
        self.try_acquire(Access::Upgrade)
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockUpgradeFair for RawRwLock {
    #[inline]
    unsafe fn unlock_upgradable_fair(&self) {
        detect::released(&self.meta, Access::Upgradable);
        // SAFETY: forwarded caller contract.
        unsafe { self.raw.unlock_upgradable_fair() }
    }

    #[inline]
    #[track_caller]
    unsafe fn bump_upgradable(&self) {
        // SAFETY: forwarded caller contract; the lock is taken again below.
        unsafe { lock_api::RawRwLockUpgradeFair::unlock_upgradable_fair(self) };
        lock_api::RawRwLockUpgrade::lock_upgradable(self);
    }
}

// SAFETY: the raw downgrades are atomic; the owner is cleared before a write lock stops
// being one.
unsafe impl lock_api::RawRwLockUpgradeDowngrade for RawRwLock {
    #[inline]
    unsafe fn downgrade_upgradable(&self) {
        detect::changed(&self.meta, Access::Upgradable, Access::Shared);
        // SAFETY: forwarded caller contract.
        unsafe { self.raw.downgrade_upgradable() }
    }

    #[inline]
    unsafe fn downgrade_to_upgradable(&self) {
        self.owner.clear();
        detect::changed(&self.meta, Access::Exclusive, Access::Upgradable);
        // SAFETY: forwarded caller contract.
        unsafe { self.raw.downgrade_to_upgradable() }
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockUpgradeTimed for RawRwLock {
    #[inline]
    #[track_caller]
    fn try_lock_upgradable_for(&self, timeout: Duration) -> bool {
        self.lock_timed(Access::Upgradable, deadline_after(timeout))
    }

    #[inline]
    #[track_caller]
    fn try_lock_upgradable_until(&self, deadline: Instant) -> bool {
        self.lock_timed(Access::Upgradable, Some(deadline))
    }

    #[inline]
    #[track_caller]
    unsafe fn try_upgrade_for(&self, timeout: Duration) -> bool {
        self.lock_timed(Access::Upgrade, deadline_after(timeout))
    }

    #[inline]
    #[track_caller]
    unsafe fn try_upgrade_until(&self, deadline: Instant) -> bool {
        self.lock_timed(Access::Upgrade, Some(deadline))
    }
}

impl std::fmt::Debug for RawRwLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRwLock")
            .field("locked", &self.raw.is_locked())
            .field("meta", &self.meta)
            .finish()
    }
}
