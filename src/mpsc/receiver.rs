//! The receiving end, [`Receiver`], and its iterators.
//!
//! There is one receiver per channel, and it is not `Sync`, so at most one thread receives at
//! a time: the channel has at most one waiting receiver. Its drop disconnects the senders.

use super::chan::Chan;
use super::{RecvError, RecvTimeoutError, TryRecvError};
use crate::facade::sync::Arc;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::time::{Duration, Instant};

/// The receiving half of a channel, as `std::sync::mpsc::Receiver`: `Send`, not `Sync`, not
/// `Clone`.
///
/// ```compile_fail
/// fn shared<T: Sync>(_: T) {}
/// shared(impasse::mpsc::channel::<u8>().1);
/// ```
///
/// ```compile_fail
/// let (_tx, rx) = impasse::mpsc::channel::<u8>();
/// let _second = rx.clone();
/// ```
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// Not `Sync`: one thread receives at a time.
    _not_sync: PhantomData<Cell<()>>,
}

impl<T> Receiver<T> {
    pub(super) fn new(chan: Arc<Chan<T>>) -> Receiver<T> {
        Receiver {
            chan,
            _not_sync: PhantomData,
        }
    }

    /// Waits for a value; `Err` once the channel is empty and every sender is gone.
    ///
    /// A wait that can never end (the only senders wait for something this thread holds, or
    /// the whole world is asleep) is reported as a deadlock.
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.chan.recv(None).map_err(|_| RecvError)
    }

    /// A value if one is queued: `Empty` if none is, `Disconnected` if none ever will be.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// Waits at most `timeout` for a value. A timed wait gives up by itself, so it is never
    /// reported as part of a deadlock.
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.chan.recv(Some(deadline)),
            None => self
                .chan
                .recv(None)
                .map_err(|_| RecvTimeoutError::Disconnected),
        }
    }

    /// An iterator that waits for each value, and ends once the channel is disconnected.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the values queued now; it never waits.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.receiver_dropped();
    }
}

// As std's receiver: a panic never leaves the channel half-changed (a wait that unwinds
// undoes itself, `chan.rs`), and its lock does not poison.
impl<T> UnwindSafe for Receiver<T> {}
impl<T> RefUnwindSafe for Receiver<T> {}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// The values of a [`Receiver`], waiting for each: [`Receiver::iter`].
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// The values queued in a [`Receiver`] now: [`Receiver::try_iter`].
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// The values of a [`Receiver`] it owns, waiting for each.
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for TryIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryIter").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter").finish_non_exhaustive()
    }
}
