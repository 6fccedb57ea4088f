//! Panics in tasks: caught once, where a task runs ([`halt_unwinding`]), carried to whoever
//! takes the task's result as a [`Panic`], and re-raised from there on request
//! ([`Panic::resume`]) — rayon-core's `unwind.rs` is the model.
//!
//! Invariant: a panic in a task never unwinds into the worker that ran it. The one other
//! place the pool catches a panic is a worker's idle wait, where only a deadlock report can
//! come from (`registry.rs`).

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};

/// Runs `f`, turning a panic into `Err(payload)`. The payload is carried to the task's
/// joiner, who sees it whole, so `f` is treated as unwind-safe.
pub(super) fn halt_unwinding<R>(f: impl FnOnce() -> R) -> Result<R, Box<dyn Any + Send>> {
    panic::catch_unwind(AssertUnwindSafe(f))
}

/// Continues a panic caught by [`halt_unwinding`] on the calling thread.
pub(super) fn resume_unwinding(payload: Box<dyn Any + Send>) -> ! {
    panic::resume_unwind(payload)
}

/// A task's panic, as its handle hands it back: the panic's message and its payload.
///
/// ```
/// use impasse::pool::{TaskError, ThreadPool};
///
/// let pool = ThreadPool::new(1);
/// let task = pool.submit(|| -> u32 { panic!("no answer for {}", 41 + 1) });
/// match task.result() {
///     Err(TaskError::Panicked(panic)) => assert_eq!(panic.message(), "no answer for 42"),
///     other => unreachable!("{other:?}"),
/// }
/// ```
pub struct Panic {
    message: Cow<'static, str>,
    payload: Payload,
}

/// The message of a panic whose payload is neither a `&str` nor a `String`.
const OPAQUE: &str = "<a panic payload that is not a string>";

impl Panic {
    pub(super) fn new(payload: Box<dyn Any + Send>) -> Panic {
        let message = if let Some(text) = payload.downcast_ref::<&'static str>() {
            Cow::Borrowed(*text)
        } else if let Some(text) = payload.downcast_ref::<String>() {
            Cow::Owned(text.clone())
        } else {
            Cow::Borrowed(OPAQUE)
        };
        Panic {
            message,
            payload: Payload(payload),
        }
    }

    /// A panic that stands for `other`, whose payload cannot be shared: same message, the
    /// message as payload (for the items of a chunk whose task failed as a whole).
    pub(super) fn copy_of(other: &Panic) -> Panic {
        Panic::new(Box::new(other.message.clone().into_owned()))
    }

    /// The panic's message, when its payload is a `&str` or a `String` (what `panic!`
    /// makes); otherwise a placeholder that says so.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The payload, as `std::thread::JoinHandle::join` would have returned it.
    pub fn into_payload(self) -> Box<dyn Any + Send> {
        self.payload.0
    }

    /// Continues the panic on the calling thread, with the original payload.
    ///
    /// ```should_panic
    /// use impasse::pool::{TaskError, ThreadPool};
    ///
    /// let pool = ThreadPool::new(1);
    /// if let Err(TaskError::Panicked(panic)) = pool.submit(|| panic!("boom")).result() {
    ///     panic.resume(); // the caller now panics with "boom"
    /// }
    /// ```
    pub fn resume(self) -> ! {
        resume_unwinding(self.payload.0)
    }
}

impl fmt::Debug for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Panic")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A panic payload that nothing reads through a shared reference, so that a [`Panic`] (and
/// with it `TaskError`) can be `Sync` and travel in `Box<dyn Error + Send + Sync>`.
struct Payload(Box<dyn Any + Send>);

// SAFETY: `Sync` only lets `&Payload` be shared between threads. Nothing in this module (the
// field is private to it) reads the box through `&Payload`: the message is copied out when the
// `Panic` is made, on the thread that owns the box, and the box is only ever moved out by value
// (`into_payload`, `resume`). So no `&(dyn Any + Send)` is ever reachable from two threads.
unsafe impl Sync for Payload {}
