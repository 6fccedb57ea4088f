//! Re-locks: a thread taking back a lock that a live guard owns (a condition variable's mutex
//! after the wait, `MutexGuard::unlocked`, `bump`). A report made during a re-lock cannot
//! unwind the thread: the guard would then release a lock the thread does not hold, and a
//! second thread could hold it at the same time as a third. So the policy aborts instead.
//!
//! Two ways to know: impasse's own re-locks mark the thread ([`relocking`]); lock_api's (its
//! `unlocked` on the guards of `Mutex` and `RwLock`) are made from inside lock_api's own source
//! files, whose paths a probe learns once by running those very re-locks on a lock that only
//! records where it was called from (exact paths: a user's file that merely has `lock_api` in
//! its name is an ordinary caller).

use super::this_thread;
use crate::facade::Lazy;
use std::cell::Cell;
use std::panic::Location;

/// Marks the calling thread as re-locking a lock that a live guard owns until the returned
/// value is dropped (see the module docs).
#[must_use]
pub(crate) fn relocking() -> Relocking {
    this_thread::with(|t| t.set_relocking(true));
    Relocking(())
}

/// The calling thread re-locks while this lives; see [`relocking`].
#[derive(Debug)]
pub(crate) struct Relocking(());

impl Drop for Relocking {
    fn drop(&mut self) {
        this_thread::with(|t| t.set_relocking(false));
    }
}

/// Whether an acquisition at `at` re-locks a lock a live guard owns: marked by [`relocking`],
/// or made by lock_api itself from inside its guards' `unlocked`.
pub(crate) fn is_relocking(at: &Location<'_>) -> bool {
    this_thread::with(|t| t.is_relocking()).unwrap_or(false)
        || LOCK_API_RELOCKS.iter().any(|file| *file == at.file())
}

/// The files lock_api re-locks from, learnt by [`probe`].
static LOCK_API_RELOCKS: Lazy<[&'static str; 2]> = Lazy::new(probe);

/// Runs lock_api's `unlocked` on a `Mutex` and on an `RwLock` whose raw lock records the site
/// of each acquisition: the site of the re-lock is in the file lock_api re-locks from.
fn probe() -> [&'static str; 2] {
    let mutex = lock_api::Mutex::<Probe, ()>::new(());
    let mut guard = mutex.lock();
    lock_api::MutexGuard::unlocked(&mut guard, || ());
    drop(guard);
    let rwlock = lock_api::RwLock::<Probe, ()>::new(());
    let mut guard = rwlock.read();
    lock_api::RwLockReadGuard::unlocked(&mut guard, || ());
    drop(guard);
    // SAFETY: `raw` gives shared access to the raw lock, which is only read here; the locks
    // are not used again.
    let sites = unsafe { [mutex.raw().last.get(), rwlock.raw().last.get()] };
    sites.map(|site| site.map_or("", |site| site.file()))
}

/// A raw lock that locks nothing and remembers where it was last acquired.
struct Probe {
    last: Cell<Option<&'static Location<'static>>>,
}

// SAFETY: the probe is used by one thread, on locks that guard `()`, and never for exclusion.
unsafe impl lock_api::RawMutex for Probe {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Probe = Probe {
        last: Cell::new(None),
    };
    type GuardMarker = lock_api::GuardNoSend;

    #[track_caller]
    fn lock(&self) {
        self.last.set(Some(Location::caller()));
    }

    fn try_lock(&self) -> bool {
        true
    }

    unsafe fn unlock(&self) {}
}

// SAFETY: as for `RawMutex` above.
unsafe impl lock_api::RawRwLock for Probe {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Probe = Probe {
        last: Cell::new(None),
    };
    type GuardMarker = lock_api::GuardNoSend;

    #[track_caller]
    fn lock_shared(&self) {
        self.last.set(Some(Location::caller()));
    }

    fn try_lock_shared(&self) -> bool {
        true
    }

    unsafe fn unlock_shared(&self) {}

    #[track_caller]
    fn lock_exclusive(&self) {
        self.last.set(Some(Location::caller()));
    }

    fn try_lock_exclusive(&self) -> bool {
        true
    }

    unsafe fn unlock_exclusive(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_api_relocks_are_known_by_their_files_and_nothing_else_is() {
        let [mutex, rwlock] = *LOCK_API_RELOCKS;
        assert!(
            mutex.ends_with("mutex.rs") && mutex.contains("lock_api"),
            "{mutex}"
        );
        assert!(
            rwlock.ends_with("rwlock.rs") && rwlock.contains("lock_api"),
            "{rwlock}"
        );
        assert!(!is_relocking(Location::caller()));
    }
}
