//! A raw mutex for loom: a loom `Mutex<bool>` and `Condvar`, created on first use.
//! Timed acquisitions wait for one change of the lock instead of a duration (loom has no clock).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

struct State {
    locked: loom::sync::Mutex<bool>,
    released: loom::sync::Condvar,
}

/// `lock_api::RawMutex` over loom's primitives, so loom sees every block and wake-up.
pub(crate) struct RawMutex {
    state: OnceLock<State>,
}

impl RawMutex {
    fn state(&self) -> &State {
        self.state.get_or_init(|| State {
            locked: loom::sync::Mutex::new(false),
            released: loom::sync::Condvar::new(),
        })
    }
}

impl std::fmt::Debug for RawMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawMutex")
    }
}

// SAFETY: `locked` is only flipped under loom's mutex, so at most one caller sees it go
// from `false` to `true` before an `unlock`: that is mutual exclusion, and loom's mutex
// gives the acquire/release ordering.
unsafe impl lock_api::RawMutex for RawMutex {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawMutex = RawMutex {
        state: OnceLock::new(),
    };
    type GuardMarker = lock_api::GuardNoSend;

    fn lock(&self) {
        let state = self.state();
        let mut locked = state.locked.lock().unwrap();
        while *locked {
            locked = state.released.wait(locked).unwrap();
        }
        *locked = true;
    }

    fn try_lock(&self) -> bool {
        let mut locked = self.state().locked.lock().unwrap();
        !std::mem::replace(&mut *locked, true)
    }

    unsafe fn unlock(&self) {
        let state = self.state();
        *state.locked.lock().unwrap() = false;
        state.released.notify_all();
    }

    fn is_locked(&self) -> bool {
        *self.state().locked.lock().unwrap()
    }
}

// SAFETY: a fair unlock is a plain unlock here; loom explores who wins next.
unsafe impl lock_api::RawMutexFair for RawMutex {
    unsafe fn unlock_fair(&self) {
        // SAFETY: the caller holds the lock, as `unlock_fair` requires.
        unsafe { lock_api::RawMutex::unlock(self) }
    }
}

impl RawMutex {
    /// loom has no clock: a timed acquisition is modelled as "until the lock changes once":
    /// an attempt, then (if it failed) one wait for a release, then a last attempt. A model
    /// must not count on a timeout to end a wait that nothing else ends.
    fn try_lock_once_more(&self) -> bool {
        let state = self.state();
        let mut locked = state.locked.lock().unwrap();
        if *locked {
            locked = state.released.wait(locked).unwrap();
        }
        !std::mem::replace(&mut *locked, true)
    }
}

// SAFETY: a timed attempt takes the lock only when it is free, as `lock` does.
unsafe impl lock_api::RawMutexTimed for RawMutex {
    type Duration = Duration;
    type Instant = Instant;

    fn try_lock_for(&self, _timeout: Duration) -> bool {
        self.try_lock_once_more()
    }

    fn try_lock_until(&self, _timeout: Instant) -> bool {
        self.try_lock_once_more()
    }
}
