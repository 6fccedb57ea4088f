//! The sending ends: [`Sender`] (of an unbounded channel: never waits) and [`SyncSender`] (of
//! a bounded or rendezvous channel: waits for room, or for the receiver to take the value).
//!
//! Each end counts once in the channel's senders, from its creation or clone until its drop;
//! the drop of the last one disconnects the receiver.

use super::chan::Chan;
use super::{SendError, TrySendError};
use crate::facade::sync::Arc;
use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};

/// The sending half of a [`channel`](super::channel), as `std::sync::mpsc::Sender`: clone it
/// for more senders; a send never waits.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    pub(super) fn new(chan: Arc<Chan<T>>) -> Sender<T> {
        Sender { chan }
    }

    /// Sends `value`; `Err` gives it back if the receiver is gone.
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.send(value)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.chan.sender_added();
        Sender::new(Arc::clone(&self.chan))
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.sender_dropped();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The sending half of a [`sync_channel`](super::sync_channel), as
/// `std::sync::mpsc::SyncSender`: a send waits while the channel is full, and on a rendezvous
/// channel (bound 0) until the receiver has taken the value. Those waits are seen by the
/// detector.
pub struct SyncSender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> SyncSender<T> {
    pub(super) fn new(chan: Arc<Chan<T>>) -> SyncSender<T> {
        SyncSender { chan }
    }

    /// Sends `value`, waiting for room (or, on a rendezvous channel, for the receiver to take
    /// it); `Err` gives it back if the receiver is gone, before or during the wait.
    ///
    /// A wait that can never end (the receiver waits for something this thread holds, or the
    /// whole world is asleep) is reported as a deadlock.
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.send(value)
    }

    /// Sends `value` only if that needs no wait: `Full` if the channel is full (on a
    /// rendezvous channel: unless the receiver is waiting), `Disconnected` if the receiver is
    /// gone; both give the value back.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value)
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> SyncSender<T> {
        self.chan.sender_added();
        SyncSender::new(Arc::clone(&self.chan))
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        self.chan.sender_dropped();
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").finish_non_exhaustive()
    }
}

// As std's ends: a panic never leaves the channel half-changed (a wait that unwinds undoes
// itself, `chan.rs`), and its lock does not poison.
impl<T> UnwindSafe for Sender<T> {}
impl<T> RefUnwindSafe for Sender<T> {}
impl<T> UnwindSafe for SyncSender<T> {}
impl<T> RefUnwindSafe for SyncSender<T> {}
