//! Where a thread in a cooperative wait sleeps while the detector sees it: a parker of its
//! own, which the detector can wake (`unpark`) at any moment, whatever the primitive is.
//!
//! The waiter releases the primitive's lock and parks; whoever ends its wait (a waker granting
//! it, the detector nudging it to look again, a stalled test's watchdog ending it) unparks it.
//! A parker keeps what it was woken for until the waiter takes it, so an unpark that comes
//! before the park is never lost. Unparks happen under the detector's lock and so does the
//! clearing of stale ones when a wait is registered: a waiter only ever sees the wake-ups of
//! its current registration. Lock order: the detector's lock, then the parker's.

use crate::facade::sync::{Condvar, Mutex};
use std::time::Instant;

/// Why a parked thread was woken; several may be pending at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Woken(u8);

impl Woken {
    /// Nothing yet (or the park's deadline passed).
    pub(crate) const NOTHING: Woken = Woken(0);
    /// A waker made the wait satisfiable: the condition is worth checking.
    pub(crate) const GRANTED: Woken = Woken(1);
    /// The detector asks the thread to look again (a change elsewhere, its world's end).
    pub(crate) const NUDGED: Woken = Woken(2);

    pub(crate) fn contains(self, other: Woken) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    pub(crate) fn is_nothing(self) -> bool {
        self.0 == 0
    }
}

/// One thread's parker.
#[derive(Debug, Default)]
pub(crate) struct Parker {
    woken: Mutex<Woken>,
    wake: Condvar,
}

impl Parker {
    /// Wakes the thread (now, or at its next park) for `why`.
    pub(crate) fn unpark(&self, why: Woken) {
        let mut woken = self.woken.lock();
        woken.0 |= why.0;
        self.wake.notify_one();
    }

    /// Forgets wake-ups meant for an earlier wait.
    pub(crate) fn clear(&self) {
        *self.woken.lock() = Woken::NOTHING;
    }

    /// Sleeps until woken or `until` passes; returns (and forgets) why it was woken, which is
    /// [`Woken::NOTHING`] when the deadline passed first.
    pub(crate) fn park(&self, until: Option<Instant>) -> Woken {
        let mut woken = self.woken.lock();
        loop {
            if !woken.is_nothing() {
                return std::mem::take(&mut *woken);
            }
            match until {
                None => woken = self.wake.wait(woken),
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Woken::NOTHING;
                    }
                    woken = self.wake.wait_timeout(woken, left).0;
                }
            }
        }
    }
}
