//! impasse finds deadlocks before they find you.
//!
//! Swap one `use` line and your locks report a deadlock **the moment it forms** — inside the
//! blocking call that closes the cycle, with every thread, every lock and the source line of
//! every acquisition and wait — instead of hanging your test run.
//!
//! ```
//! use impasse::{Mutex, RwLock};        // was: use parking_lot::{Mutex, RwLock};
//! use impasse::stdsync;                // std's signatures: LockResult, poisoning
//!
//! let accounts = Mutex::named("accounts", vec![100, 50]);
//! accounts.lock()[0] -= 30;
//! let config = RwLock::new("v1");
//! assert_eq!(*config.read(), "v1");
//! let legacy = stdsync::Mutex::new(0);
//! *legacy.lock().unwrap() += 1;
//! ```
//!
//! # What a deadlock looks like
//!
//! Two threads take two locks in opposite orders. With impasse, the thread whose wait closes
//! the cycle panics (the default [`policy`]) with a report like this one, its guards unwind,
//! and the other thread goes on:
//!
//! ```text
//! impasse: deadlock detected: 2 threads wait for each other in a cycle
//!   thread "transfer-b" (T3) waits for Mutex "alice" (created at src/bank.rs:8:17)
//!       at src/bank.rs:21:25
//!       held by thread "transfer-a" (T2), acquired at src/bank.rs:14:25
//!     holds Mutex "bob" (created at src/bank.rs:9:15), acquired at src/bank.rs:20:25
//!   thread "transfer-a" (T2) waits for Mutex "bob" (created at src/bank.rs:9:15)
//!       at src/bank.rs:15:25
//!       held by thread "transfer-b" (T3), acquired at src/bank.rs:20:25
//!     holds Mutex "alice" (created at src/bank.rs:8:17), acquired at src/bank.rs:14:25
//!   cycle: transfer-b -> alice -> transfer-a -> bob -> transfer-b
//!   detected by thread "transfer-b" (T3), whose wait closed the cycle
//! ```
//!
//! The same [`Report`] is a serde value: `IMPASSE_REPORT=FILE` appends each one as a JSON line.
//!
//! # Zero cost when off
//!
//! The `detect` feature (on by default) instruments the primitives. Without it they are
//! parking_lot's own locks in all but name: same size, same inlined fast path. The usual
//! set-up is instrumented tests and a plain production build:
//!
//! ```toml
//! [dependencies]
//! impasse = { version = "0.1", default-features = false }
//! [dev-dependencies]
//! impasse = { version = "0.1", features = ["detect"] }
//! ```
//!
//! # How it works
//!
//! An uncontended acquisition touches only the lock and a thread-local stack of what the
//! thread holds. A thread that is about to block publishes what it holds and what it waits
//! for into a resource-allocation graph and searches it for a cycle through itself; since
//! only blocked threads are in the graph and a blocked thread releases nothing, a cycle found
//! there is a deadlock, and the last thread to block always finds it. The argument, with
//! parking_lot's reader-writer rules, is in `src/detect/README.md` and the guide in `docs/`.
//!
//! # Rooms
//!
//! - [`Mutex`], [`RwLock`], [`ReentrantMutex`]: parking_lot's API; [`stdsync`]: std's.
//! - [`policy`]: what a finding does (`IMPASSE_ON_DEADLOCK`), from the environment or code.
//! - [`report`]: the [`Report`] type, its text and JSON forms.
//! - [`model`], [`predict`]: the pure vocabulary and lock-order rules that the runtime detector
//!   and the analyzer share, for tools built on impasse.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod detect;
mod facade;
pub mod model;
pub mod mpsc;
pub mod policy;
pub mod pool;
pub mod predict;
pub mod report;
mod sync;
#[cfg(not(loom))]
pub mod testing;
pub mod thread;
pub mod trace;

pub use crate::report::Report;
pub use crate::sync::stdsync;
pub use crate::sync::{const_mutex, const_reentrant_mutex, const_rwlock};
pub use crate::sync::{
    Barrier, BarrierWaitResult, Condvar, MappedMutexGuard, MappedReentrantMutexGuard,
    MappedRwLockReadGuard, MappedRwLockWriteGuard, Mutex, MutexGuard, Once, OnceLock, OnceState,
    RawMutex, RawReentrantMutex, RawRwLock, ReentrantMutex, ReentrantMutexGuard, RwLock,
    RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard, Semaphore, SemaphorePermit,
    WaitTimeoutResult,
};
/// lock_api, which impasse's guards come from, re-exported as parking_lot does.
pub use lock_api;

/// Runs a test in a world of its own, so that impasse can judge every wait in it.
///
/// `#[impasse::test]` is `#[test]` plus [`testing::run`]: the test's thread and the threads it
/// spawns through [`thread`] form the test's world. When they are blocked (a receive, a send
/// into a full channel, a condition variable, a barrier, a semaphore, a join) and no thread of
/// the process could still wake them, one of them reports the deadlock and the test fails with
/// the report. A stall that proves nothing (a thread that may still act could end it) fails the
/// test after its timeout (60 s, or `IMPASSE_TEST_TIMEOUT` seconds, or the attribute's
/// `timeout = "5s"` / `"500ms"`) with every thread's wait; the rest of the suite runs on.
/// Deadlocks among locks alone need no world: a plain `#[test]` reports them.
///
/// The function keeps its other attributes (`#[should_panic]`, `#[ignore]`, docs) and its
/// return type (a `Result` test works, `?` included); the world is named
/// `<module path>::<function name>`.
///
/// ```
/// use impasse::{mpsc, thread};
///
/// #[impasse::test(timeout = "5s")]
/// fn the_pipeline_drains() {
///     let (tx, rx) = mpsc::channel_named("numbers");
///     let summer = thread::spawn(move || rx.iter().sum::<u32>());
///     for n in 1..=10 {
///         tx.send(n).unwrap();
///     }
///     drop(tx); // disconnect: the summer's loop ends
///     assert_eq!(summer.join().unwrap(), 55);
/// }
/// ```
///
/// A malformed timeout, an `async fn` and a function with arguments are compile errors:
///
/// ```compile_fail
/// #[impasse::test(timeout = "soon")]
/// fn malformed_timeout() {}
/// ```
///
/// ```compile_fail
/// #[impasse::test]
/// async fn asynchronous() {}
/// ```
///
/// ```compile_fail
/// #[impasse::test]
/// fn with_arguments(n: u32) {}
/// ```
#[cfg(not(loom))]
pub use impasse_macros::test;
