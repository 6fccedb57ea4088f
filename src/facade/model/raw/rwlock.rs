//! A raw reader-writer lock for loom with parking_lot's blocking rules.
//!
//! The rules impasse's detector relies on are modelled exactly: a writer first takes the
//! writer bit (once no writer or upgradable reader has it), then waits for the readers to
//! leave; while the bit is set new readers block, except recursive readers when other
//! readers are present; an upgradable reader excludes writers and other upgradable readers.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Word {
    /// Shared holders, upgradable holder included.
    readers: usize,
    /// Set by a writer from the moment it claims the lock until it unlocks.
    writer_bit: bool,
    upgradable: bool,
}

struct State {
    word: loom::sync::Mutex<Word>,
    changed: loom::sync::Condvar,
}

/// `lock_api::RawRwLock` and friends over loom's primitives.
pub(crate) struct RawRwLock {
    state: OnceLock<State>,
}

impl std::fmt::Debug for RawRwLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawRwLock")
    }
}

impl RawRwLock {
    fn state(&self) -> &State {
        self.state.get_or_init(|| State {
            word: loom::sync::Mutex::new(Word::default()),
            changed: loom::sync::Condvar::new(),
        })
    }

    /// Waits until `ready` holds, then applies `take`.
    fn acquire(&self, ready: impl Fn(&Word) -> bool, take: impl FnOnce(&mut Word)) {
        let state = self.state();
        let mut word = state.word.lock().unwrap();
        while !ready(&word) {
            word = state.changed.wait(word).unwrap();
        }
        take(&mut word);
    }

    fn attempt(&self, ready: impl Fn(&Word) -> bool, take: impl FnOnce(&mut Word)) -> bool {
        let mut word = self.state().word.lock().unwrap();
        let ok = ready(&word);
        if ok {
            take(&mut word);
        }
        ok
    }

    /// A timed acquisition (loom has no clock): an attempt, then (if it failed) one wait for a
    /// change of the lock's state, then a last attempt.
    fn attempt_once_more(
        &self,
        ready: impl Fn(&Word) -> bool,
        take: impl FnOnce(&mut Word),
    ) -> bool {
        let state = self.state();
        let mut word = state.word.lock().unwrap();
        if !ready(&word) {
            word = state.changed.wait(word).unwrap();
        }
        let ok = ready(&word);
        if ok {
            take(&mut word);
        }
        ok
    }

    fn update(&self, change: impl FnOnce(&mut Word)) {
        let state = self.state();
        change(&mut state.word.lock().unwrap());
        state.changed.notify_all();
    }

    fn shared_ready(recursive: bool) -> impl Fn(&Word) -> bool {
        move |w: &Word| !w.writer_bit || (recursive && w.readers > 0)
    }

    fn exclusive_ready(w: &Word) -> bool {
        !w.writer_bit && !w.upgradable && w.readers == 0
    }

    fn lock_exclusive_blocking(&self) {
        // Claim the writer bit first, then wait for the readers: new readers now block.
        self.acquire(|w| !w.writer_bit && !w.upgradable, |w| w.writer_bit = true);
        self.acquire(|w| w.readers == 0, |_| {});
    }
}

// SAFETY: every transition happens under loom's mutex and follows the table above, so a
// writer excludes everyone and readers exclude writers.
unsafe impl lock_api::RawRwLock for RawRwLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawRwLock = RawRwLock {
        state: OnceLock::new(),
    };
    type GuardMarker = lock_api::GuardNoSend;

    fn lock_shared(&self) {
        self.acquire(Self::shared_ready(false), |w| w.readers += 1);
    }

    fn try_lock_shared(&self) -> bool {
        self.attempt(Self::shared_ready(false), |w| w.readers += 1)
    }

    unsafe fn unlock_shared(&self) {
        self.update(|w| w.readers -= 1);
    }

    fn lock_exclusive(&self) {
        self.lock_exclusive_blocking();
    }

    fn try_lock_exclusive(&self) -> bool {
        self.attempt(Self::exclusive_ready, |w| w.writer_bit = true)
    }

    unsafe fn unlock_exclusive(&self) {
        self.update(|w| w.writer_bit = false);
    }

    fn is_locked(&self) -> bool {
        let w = self.state().word.lock().unwrap();
        w.writer_bit || w.readers > 0
    }

    fn is_locked_exclusive(&self) -> bool {
        self.state().word.lock().unwrap().writer_bit
    }
}

// SAFETY: fair variants are the plain ones; loom explores every hand-over.
unsafe impl lock_api::RawRwLockFair for RawRwLock {
    unsafe fn unlock_shared_fair(&self) {
        // SAFETY: forwarded caller contract.
        unsafe { lock_api::RawRwLock::unlock_shared(self) }
    }

    unsafe fn unlock_exclusive_fair(&self) {
        // SAFETY: forwarded caller contract.
        unsafe { lock_api::RawRwLock::unlock_exclusive(self) }
    }
}

// SAFETY: the writer becomes a reader in one step under loom's mutex.
unsafe impl lock_api::RawRwLockDowngrade for RawRwLock {
    unsafe fn downgrade(&self) {
        self.update(|w| {
            w.writer_bit = false;
            w.readers += 1;
        });
    }
}

// SAFETY: see `shared_ready`: recursive readers pass a pending writer when readers exist.
unsafe impl lock_api::RawRwLockRecursive for RawRwLock {
    fn lock_shared_recursive(&self) {
        self.acquire(Self::shared_ready(true), |w| w.readers += 1);
    }

    fn try_lock_shared_recursive(&self) -> bool {
        self.attempt(Self::shared_ready(true), |w| w.readers += 1)
    }
}

// SAFETY: timed attempts take the lock only in the states the blocking ones do.
unsafe impl lock_api::RawRwLockTimed for RawRwLock {
    type Duration = Duration;
    type Instant = Instant;

    fn try_lock_shared_for(&self, _timeout: Duration) -> bool {
        self.attempt_once_more(Self::shared_ready(false), |w| w.readers += 1)
    }

    fn try_lock_shared_until(&self, _timeout: Instant) -> bool {
        self.attempt_once_more(Self::shared_ready(false), |w| w.readers += 1)
    }

    fn try_lock_exclusive_for(&self, _timeout: Duration) -> bool {
        self.attempt_once_more(Self::exclusive_ready, |w| w.writer_bit = true)
    }

    fn try_lock_exclusive_until(&self, _timeout: Instant) -> bool {
        self.attempt_once_more(Self::exclusive_ready, |w| w.writer_bit = true)
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockRecursiveTimed for RawRwLock {
    fn try_lock_shared_recursive_for(&self, _timeout: Duration) -> bool {
        self.attempt_once_more(Self::shared_ready(true), |w| w.readers += 1)
    }

    fn try_lock_shared_recursive_until(&self, _timeout: Instant) -> bool {
        self.attempt_once_more(Self::shared_ready(true), |w| w.readers += 1)
    }
}

// SAFETY: the upgradable reader is a reader that also excludes writers and other
// upgradable readers; upgrading claims the writer bit, then waits for the other readers.
unsafe impl lock_api::RawRwLockUpgrade for RawRwLock {
    fn lock_upgradable(&self) {
        self.acquire(
            |w| !w.writer_bit && !w.upgradable,
            |w| {
                w.upgradable = true;
                w.readers += 1;
            },
        );
    }

    fn try_lock_upgradable(&self) -> bool {
        self.attempt(
            |w| !w.writer_bit && !w.upgradable,
            |w| {
                w.upgradable = true;
                w.readers += 1;
            },
        )
    }

    unsafe fn unlock_upgradable(&self) {
        self.update(|w| {
            w.upgradable = false;
            w.readers -= 1;
        });
    }

    unsafe fn upgrade(&self) {
        self.update(|w| w.writer_bit = true);
        self.acquire(
            |w| w.readers == 1,
            |w| {
                w.upgradable = false;
                w.readers = 0;
            },
        );
    }

    unsafe fn try_upgrade(&self) -> bool {
        self.attempt(
            |w| w.readers == 1 && !w.writer_bit,
            |w| {
                w.upgradable = false;
                w.readers = 0;
                w.writer_bit = true;
            },
        )
    }
}

// SAFETY: fair variants are the plain ones.
unsafe impl lock_api::RawRwLockUpgradeFair for RawRwLock {
    unsafe fn unlock_upgradable_fair(&self) {
        // SAFETY: forwarded caller contract.
        unsafe { lock_api::RawRwLockUpgrade::unlock_upgradable(self) }
    }
}

// SAFETY: each downgrade is one step under loom's mutex.
unsafe impl lock_api::RawRwLockUpgradeDowngrade for RawRwLock {
    unsafe fn downgrade_upgradable(&self) {
        self.update(|w| w.upgradable = false);
    }

    unsafe fn downgrade_to_upgradable(&self) {
        self.update(|w| {
            w.writer_bit = false;
            w.upgradable = true;
            w.readers += 1;
        });
    }
}

// SAFETY: as above.
unsafe impl lock_api::RawRwLockUpgradeTimed for RawRwLock {
    fn try_lock_upgradable_for(&self, _timeout: Duration) -> bool {
        self.attempt_once_more(
            |w| !w.writer_bit && !w.upgradable,
            |w| {
                w.upgradable = true;
                w.readers += 1;
            },
        )
    }

    fn try_lock_upgradable_until(&self, _timeout: Instant) -> bool {
        self.attempt_once_more(
            |w| !w.writer_bit && !w.upgradable,
            |w| {
                w.upgradable = true;
                w.readers += 1;
            },
        )
    }

    unsafe fn try_upgrade_for(&self, _timeout: Duration) -> bool {
        // SAFETY: forwarded caller contract.
        unsafe { lock_api::RawRwLockUpgrade::try_upgrade(self) }
    }

    unsafe fn try_upgrade_until(&self, _timeout: Instant) -> bool {
        // SAFETY: forwarded caller contract.
        unsafe { lock_api::RawRwLockUpgrade::try_upgrade(self) }
    }
}
