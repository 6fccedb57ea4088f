//! Poisoning as `std::sync` does it: a guard dropped while its thread panics marks the lock
//! poisoned, unless the thread was already panicking when it took the lock.

use crate::facade::plain::{AtomicBool, Ordering};
use crate::facade::thread::panicking;
use std::sync::{LockResult, PoisonError};

/// A lock's poison flag.
#[derive(Debug)]
pub(crate) struct Flag(AtomicBool);

/// Whether the thread was panicking when it acquired the lock.
#[derive(Debug)]
pub(crate) struct Entered {
    panicking: bool,
}

impl Flag {
    pub(crate) const fn new() -> Flag {
        Flag(AtomicBool::new(false))
    }

    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// Notes, at acquisition, whether the thread is panicking already.
    pub(crate) fn enter(&self) -> Entered {
        Entered {
            panicking: panicking(),
        }
    }

    /// At release: a panic that began while the lock was held poisons it.
    pub(crate) fn leave(&self, entered: &Entered) {
        if !entered.panicking && panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// `Ok(value)`, or the value wrapped as a poisoned result.
pub(crate) fn result<T>(poisoned: bool, value: T) -> LockResult<T> {
    if poisoned {
        Err(PoisonError::new(value))
    } else {
        Ok(value)
    }
}
