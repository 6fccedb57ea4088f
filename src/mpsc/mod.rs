//! Channels the detector sees: `std::sync::mpsc`'s API, with every blocking operation a wait
//! the detector can judge.
//!
//! `use impasse::mpsc;` replaces `use std::sync::mpsc;`: [`channel`], [`sync_channel`]
//! (bound `0` is a rendezvous), [`Sender`], [`SyncSender`], [`Receiver`] and std's own error
//! types. Disconnection is std's: `recv` fails once every sender is gone and the queue is
//! empty; `send` fails, giving the value back, once the receiver is gone.
//!
//! ```
//! use impasse::{mpsc, thread};
//!
//! let (tx, rx) = mpsc::sync_channel_named("jobs", 4);
//! let worker = thread::spawn(move || rx.iter().sum::<u64>());
//! for job in 1..=100 {
//!     tx.send(job).unwrap();
//! }
//! drop(tx); // disconnects: the worker's loop ends
//! assert_eq!(worker.join().unwrap(), 5050);
//! ```
//!
//! A receive, a send into a full channel and a rendezvous send wait for *any* other thread, so
//! no single cycle proves them stuck. They are judged by the closed-world rule: a wait is
//! reported once no thread of the process could still wake it (every other thread is blocked in
//! impasse, or blocked forever outside it), e.g. a thread that receives while it holds the
//! channel's only sender, under `#[impasse::test]`:
//!
//! ```text
//! impasse: deadlock detected: the only thread of the test `mailbox::lonely` waits, and no other thread is left to wake it
//!   thread "lonely" (T1) waits to receive from channel "mailbox" (created at tests/mailbox.rs:7:22)
//!       at tests/mailbox.rs:8:8
//!       any other thread could wake it, but none can run
//!   detected by thread "lonely" (T1), one of them: no thread of the process is left that could wake them
//! ```
//!
//! A channel is named for reports by [`channel_named`] or [`sync_channel_named`]; an unnamed
//! one by the line that created it. Waits with a timeout ([`Receiver::recv_timeout`]) give up
//! by themselves and are never reported.

mod chan;
mod receiver;
mod sender;

pub use self::receiver::{IntoIter, Iter, Receiver, TryIter};
pub use self::sender::{Sender, SyncSender};
pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use self::chan::Chan;
use crate::detect::ResourceMeta;
use crate::facade::sync::Arc;
use crate::report::ResourceKind;
use std::borrow::Cow;
use std::panic::Location;

/// An unbounded channel, as `std::sync::mpsc::channel`: sends never wait. Reports name it by
/// the caller's line.
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(None, meta(None)));
    (Sender::new(Arc::clone(&chan)), Receiver::new(chan))
}

/// An unbounded channel that reports call `name`.
#[track_caller]
pub fn channel_named<T>(name: impl Into<Cow<'static, str>>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(None, meta(Some(name.into()))));
    (Sender::new(Arc::clone(&chan)), Receiver::new(chan))
}

/// A channel that holds at most `bound` values, as `std::sync::mpsc::sync_channel`: a send
/// waits while it is full. With `bound == 0` it is a rendezvous: a send returns once the
/// receiver has taken the value. Reports name it by the caller's line.
#[track_caller]
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(Some(bound), meta(None)));
    (SyncSender::new(Arc::clone(&chan)), Receiver::new(chan))
}

/// A [`sync_channel`] that reports call `name`.
#[track_caller]
pub fn sync_channel_named<T>(
    name: impl Into<Cow<'static, str>>,
    bound: usize,
) -> (SyncSender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(Some(bound), meta(Some(name.into()))));
    (SyncSender::new(Arc::clone(&chan)), Receiver::new(chan))
}

#[track_caller]
fn meta(name: Option<Cow<'static, str>>) -> ResourceMeta {
    match name {
        Some(name) => ResourceMeta::named(ResourceKind::Channel, Location::caller(), name),
        None => ResourceMeta::new(ResourceKind::Channel, Location::caller()),
    }
}
