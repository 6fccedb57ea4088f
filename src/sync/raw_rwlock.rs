//! The raw layer of [`RwLock`](crate::RwLock): one acquisition path for every access
//! (read, recursive read, upgradable read, write, upgrade), written once, behind lock_api's
//! `RawRwLock` family of traits.
//!
//! Releases do their bookkeeping after the raw release, as the mutex's do (`raw_mutex.rs`).
//!
//! Besides the resource's identity it keeps one [`Owner`] word: the thread that holds the
//! lock for writing. The detector needs it to tell a writer bit held by an owning writer from
//! one held by a queued writer, which new readers must wait behind (parking_lot's rule). With
//! the detector, timed writes and upgrades never wait inside the raw lock (`poll_until`), so
//! the writer bit is held by a queued writer only if that writer is untimed.

use super::raw_mutex::deadline_after;
use crate::detect::{self, Acquire, Blocking, Owner, ResourceMeta};
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

    /// One non-blocking attempt at `mode`.
    #[inline]
    fn attempt(&self, mode: Mode) -> bool {
        match mode {
            Mode::Exclusive => self.raw.try_lock_exclusive(),
            Mode::Shared => self.raw.try_lock_shared(),
            Mode::SharedRecursive => self.raw.try_lock_shared_recursive(),
            Mode::Upgradable => self.raw.try_lock_upgradable(),
            // SAFETY: `Upgrade` is only requested by a caller holding an upgradable lock.
            Mode::Upgrade => unsafe { self.raw.try_upgrade() },
        }
    }

    /// Blocks for `mode` in the raw lock, until `deadline` if there is one.
    fn block(&self, mode: Mode, deadline: Option<Instant>) -> bool {
        let Some(deadline) = deadline else {
            match mode {
                Mode::Exclusive => self.raw.lock_exclusive(),
                Mode::Shared => self.raw.lock_shared(),
                Mode::SharedRecursive => self.raw.lock_shared_recursive(),
                Mode::Upgradable => self.raw.lock_upgradable(),
                // SAFETY: `Upgrade` is only requested by a caller holding an upgradable lock.
                Mode::Upgrade => unsafe { self.raw.upgrade() },
            }
            return true;
        };
        match mode {
            Mode::Exclusive | Mode::Upgrade if detect::ENABLED && !cfg!(loom) => {
                self.poll_until(mode, deadline)
            }
            Mode::Exclusive => self.raw.try_lock_exclusive_until(deadline),
            Mode::Shared => self.raw.try_lock_shared_until(deadline),
            Mode::SharedRecursive => self.raw.try_lock_shared_recursive_until(deadline),
            Mode::Upgradable => self.raw.try_lock_upgradable_until(deadline),
            // SAFETY: `Upgrade` is only requested by a caller holding an upgradable lock.
            Mode::Upgrade => unsafe { self.raw.try_upgrade_until(deadline) },
        }
    }

    /// A timed write or upgrade, with the detector: attempts until `deadline`, pausing (25 µs,
    /// doubling to 2 ms) between attempts, and never waits inside the raw lock. parking_lot's
    /// own timed write claims the writer bit while it waits for the readers to leave, which
    /// stops new readers; a writer that holds the bit that way and then gives up left the
    /// detector unable to tell whether a reader behind the bit waits for a writer that will
    /// give up or for one that never will (`src/detect/README.md`). So with the detector only
    /// an untimed writer ever holds the bit without owning the lock. The price: a timed writer
    /// does not stop new readers while it waits, as an untimed one does.
    #[cold]
    fn poll_until(&self, mode: Mode, deadline: Instant) -> bool {
        let mut pause = Duration::from_micros(25);
        loop {
            if self.attempt(mode) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            facade::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(2));
        }
    }

    /// The one acquisition path: fast attempt, else the cold path; then the bookkeeping.
    #[inline]
    #[track_caller]
    fn acquire(&self, mode: Mode, deadline: Option<Instant>) -> bool {
        let acquired = self.attempt(mode) || self.acquire_slow(mode, deadline);
        if acquired {
            let blocking = match deadline {
                None => Blocking::Untimed,
                Some(_) => Blocking::GivesUp,
            };
            self.record(mode, Location::caller(), blocking);
        }
        acquired
    }

    #[cold]
    #[track_caller]
    fn acquire_slow(&self, mode: Mode, deadline: Option<Instant>) -> bool {
        let mut spin = SpinWait::new();
        while spin.spin() {
            if self.attempt(mode) {
                return true;
            }
        }
        detect::wait(
            &self.meta,
            mode.access(),
            Location::caller(),
            deadline,
            &Request { lock: self, mode },
        )
    }

    #[inline]
    #[track_caller]
    fn record(&self, mode: Mode, at: &'static Location<'static>, blocking: Blocking) {
        let undo = Request { lock: self, mode };
        match mode {
            Mode::Exclusive => {
                detect::acquired(&self.meta, Access::Exclusive, at, blocking, &undo);
                self.owner.set(detect::holder());
            }
            Mode::Upgrade => {
                detect::changed(&self.meta, Access::Upgradable, Access::Exclusive);
                self.owner.set(detect::holder());
            }
            // A recursive read is held like any read, and released by `unlock_shared`.
            Mode::Shared | Mode::SharedRecursive => {
                detect::acquired(&self.meta, Access::Shared, at, blocking, &undo);
            }
            Mode::Upgradable => {
                detect::acquired(&self.meta, Access::Upgradable, at, blocking, &undo);
            }
        }
    }

    /// Blocking acquisition: parking_lot's own call when the detector is off.
    #[inline]
    #[track_caller]
    fn lock_blocking(&self, mode: Mode) {
        if !detect::ENABLED {
            self.block(mode, None);
            return;
        }
        self.acquire(mode, None);
    }

    #[inline]
    #[track_caller]
    fn lock_timed(&self, mode: Mode, deadline: Option<Instant>) -> bool {
        if !detect::ENABLED {
            return self.block(mode, deadline);
        }
        self.acquire(mode, deadline)
    }

    #[inline]
    #[track_caller]
    fn try_acquire(&self, mode: Mode) -> bool {
        let acquired = self.attempt(mode);
        if acquired {
            self.record(mode, Location::caller(), Blocking::GivesUp);
        }
        acquired
    }
}

/// The ways to acquire an RwLock, one per raw operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Exclusive,
    Shared,
    SharedRecursive,
    Upgradable,
    Upgrade,
}

impl Mode {
    /// How the detector names the request.
    fn access(self) -> Access {
        match self {
            Mode::Exclusive => Access::Exclusive,
            Mode::Shared => Access::Shared,
            Mode::SharedRecursive => Access::SharedRecursive,
            Mode::Upgradable => Access::Upgradable,
            Mode::Upgrade => Access::Upgrade,
        }
    }
}

/// One acquisition of an RwLock with a given access, as the detector drives it.
struct Request<'a> {
    lock: &'a RawRwLock,
    mode: Mode,
}

impl Acquire for Request<'_> {
    fn attempt(&self) -> bool {
        self.lock.attempt(self.mode)
    }

    fn block(&self, deadline: Option<Instant>) -> bool {
        self.lock.block(self.mode, deadline)
    }

    fn writer_queued(&self) -> bool {
        self.lock.raw.is_locked_exclusive() && !self.lock.owner.is_owned()
    }

    unsafe fn release(&self) {
        let raw = &self.lock.raw;
        // SAFETY: the caller has just acquired `self.mode` on this thread (`release`'s
        // contract); each arm undoes exactly that acquisition.
        unsafe {
            match self.mode {
                Mode::Exclusive => {
                    self.lock.owner.clear();
                    raw.unlock_exclusive();
                }
                Mode::Shared | Mode::SharedRecursive => raw.unlock_shared(),
                Mode::Upgradable => raw.unlock_upgradable(),
                Mode::Upgrade => {
                    self.lock.owner.clear();
                    lock_api::RawRwLockUpgradeDowngrade::downgrade_to_upgradable(raw);
                }
            }
        }
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
        self.lock_blocking(Mode::Shared);
    }

    #[inline]
    #[track_caller]
    fn try_lock_shared(&self) -> bool {
        self.try_acquire(Mode::Shared)
    }

    #[inline]
    unsafe fn unlock_shared(&self) {
        // SAFETY: the caller holds a shared lock, as `unlock_shared` requires.
        unsafe { self.raw.unlock_shared() };
        detect::released(&self.meta, Access::Shared);
    }

    #[inline]
    #[track_caller]
    fn lock_exclusive(&self) {
        self.lock_blocking(Mode::Exclusive);
    }

    #[inline]
    #[track_caller]
    fn try_lock_exclusive(&self) -> bool {
        self.try_acquire(Mode::Exclusive)
    }

    #[inline]
    unsafe fn unlock_exclusive(&self) {
        self.owner.clear();
        // SAFETY: the caller holds the exclusive lock, as `unlock_exclusive` requires.
        unsafe { self.raw.unlock_exclusive() };
        detect::released(&self.meta, Access::Exclusive);
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
        // SAFETY: forwarded caller contract.
        unsafe { self.raw.unlock_shared_fair() };
        detect::released(&self.meta, Access::Shared);
    }

    #[inline]
    unsafe fn unlock_exclusive_fair(&self) {
        self.owner.clear();
        // SAFETY: forwarded caller contract.
        unsafe { self.raw.unlock_exclusive_fair() };
        detect::released(&self.meta, Access::Exclusive);
    }

    #[inline]
    #[track_caller]
    unsafe fn bump_shared(&self) {
        // SAFETY: forwarded caller contract; the lock is taken again below.
        unsafe { lock_api::RawRwLockFair::unlock_shared_fair(self) };
        let _relocking = detect::relocking();
        lock_api::RawRwLock::lock_shared(self);
    }

    #[inline]
    #[track_caller]
    unsafe fn bump_exclusive(&self) {
        // SAFETY: forwarded caller contract; the lock is taken again below.
        unsafe { lock_api::RawRwLockFair::unlock_exclusive_fair(self) };
        let _relocking = detect::relocking();
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
        self.lock_timed(Mode::Shared, deadline_after(timeout))
    }

    #[inline]
    #[track_caller]
    fn try_lock_shared_until(&self, deadline: Instant) -> bool {
        self.lock_timed(Mode::Shared, Some(deadline))
    }

    #[inline]
    #[track_caller]
    fn try_lock_exclusive_for(&self, timeout: Duration) -> bool {
        self.lock_timed(Mode::Exclusive, deadline_after(timeout))
    }

    #[inline]
    #[track_caller]
    fn try_lock_exclusive_until(&self, deadline: Instant) -> bool {
        self.lock_timed(Mode::Exclusive, Some(deadline))
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockRecursive for RawRwLock {
    #[inline]
    #[track_caller]
    fn lock_shared_recursive(&self) {
        self.lock_blocking(Mode::SharedRecursive);
    }

    #[inline]
    #[track_caller]
    fn try_lock_shared_recursive(&self) -> bool {
        self.try_acquire(Mode::SharedRecursive)
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockRecursiveTimed for RawRwLock {
    #[inline]
    #[track_caller]
    fn try_lock_shared_recursive_for(&self, timeout: Duration) -> bool {
        self.lock_timed(Mode::SharedRecursive, deadline_after(timeout))
    }

    #[inline]
    #[track_caller]
    fn try_lock_shared_recursive_until(&self, deadline: Instant) -> bool {
        self.lock_timed(Mode::SharedRecursive, Some(deadline))
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockUpgrade for RawRwLock {
    #[inline]
    #[track_caller]
    fn lock_upgradable(&self) {
        self.lock_blocking(Mode::Upgradable);
    }

    #[inline]
    #[track_caller]
    fn try_lock_upgradable(&self) -> bool {
        self.try_acquire(Mode::Upgradable)
    }

    #[inline]
    unsafe fn unlock_upgradable(&self) {
        // SAFETY: forwarded caller contract.
        unsafe { self.raw.unlock_upgradable() };
        detect::released(&self.meta, Access::Upgradable);
    }

    #[inline]
    #[track_caller]
    unsafe fn upgrade(&self) {
        self.lock_blocking(Mode::Upgrade);
    }

    #[inline]
    #[track_caller]
    unsafe fn try_upgrade(&self) -> bool {
        self.try_acquire(Mode::Upgrade)
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockUpgradeFair for RawRwLock {
    #[inline]
    unsafe fn unlock_upgradable_fair(&self) {
        // SAFETY: forwarded caller contract.
        unsafe { self.raw.unlock_upgradable_fair() };
        detect::released(&self.meta, Access::Upgradable);
    }

    #[inline]
    #[track_caller]
    unsafe fn bump_upgradable(&self) {
        // SAFETY: forwarded caller contract; the lock is taken again below.
        unsafe { lock_api::RawRwLockUpgradeFair::unlock_upgradable_fair(self) };
        let _relocking = detect::relocking();
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
        self.lock_timed(Mode::Upgradable, deadline_after(timeout))
    }

    #[inline]
    #[track_caller]
    fn try_lock_upgradable_until(&self, deadline: Instant) -> bool {
        self.lock_timed(Mode::Upgradable, Some(deadline))
    }

    #[inline]
    #[track_caller]
    unsafe fn try_upgrade_for(&self, timeout: Duration) -> bool {
        self.lock_timed(Mode::Upgrade, deadline_after(timeout))
    }

    #[inline]
    #[track_caller]
    unsafe fn try_upgrade_until(&self, deadline: Instant) -> bool {
        self.lock_timed(Mode::Upgrade, Some(deadline))
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
