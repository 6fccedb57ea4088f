//! [`Once`]: `std::sync::Once`'s API, with the wait for another thread's initialisation as a
//! cooperative wait on that thread; and [`OnceLock`] on top of it.
//!
//! The state word says where the initialisation is; it changes only under the run lock, and
//! `COMPLETE` is stored with `Release` after the initialisation has run, so a thread that reads
//! it with `Acquire` sees everything the initialisation did. The run lock also names the
//! thread running the initialisation now (and counts the attempts), so a waiter waits for
//! exactly that thread: an initialisation that blocks on something its waiter holds, or that
//! calls its own `Once` again, is a cycle the detector reports at once.

mod lock;

pub use self::lock::OnceLock;

use crate::detect::{self, CoopWait, ResourceMeta, ThreadToken, WakeBy};
use crate::facade::cell::UnsafeCell;
use crate::facade::sync::atomic::{AtomicUsize, Ordering};
use crate::facade::sync::{Condvar, Mutex, MutexGuard};
use crate::report::{Access, ResourceKind};
use std::borrow::Cow;
use std::fmt;
use std::panic::{Location, RefUnwindSafe, UnwindSafe};

const INCOMPLETE: usize = 0;
const RUNNING: usize = 1;
const POISONED: usize = 2;
const COMPLETE: usize = 3;

/// A one-time initialisation, a swap-in for `std::sync::Once`.
///
/// A thread that finds another thread running the initialisation waits for that thread. If
/// the initialisation then waits for something the waiting thread holds (a lock, say), or
/// calls `call_once` on its own `Once` again (std deadlocks or panics there), the deadlock is
/// reported at once. A panicking initialisation poisons the `Once`, as in std.
///
/// ```
/// use impasse::Once;
///
/// static INIT: Once = Once::new();
/// let mut runs = 0;
/// INIT.call_once(|| runs += 1);
/// INIT.call_once(|| runs += 1);
/// assert_eq!(runs, 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    /// `INCOMPLETE`, `RUNNING`, `POISONED` or `COMPLETE`; written under `run`.
    state: AtomicUsize,
    /// The initialiser's past (`detect::release`), which every thread that sees the `Once`
    /// complete takes in: what the initialisation did happened before what its users do. Written
    /// by the thread that completes the `Once`, before the `Release` store of `COMPLETE`; read
    /// only after an `Acquire` load of `COMPLETE` (or through `&mut self`).
    carried: UnsafeCell<detect::Carried>,
    run: Mutex<Run>,
    /// Signalled when a run ends (completed or poisoned).
    ended: Condvar,
    meta: ResourceMeta,
}

/// The current run, under the run lock.
struct Run {
    /// Counts the runs started, so a waiter sees that the run it waited for has ended.
    attempt: u64,
    /// The thread running the initialisation now.
    runner: Option<ThreadToken>,
}

/// What [`Once::call_once_force`] tells its closure.
#[derive(Debug)]
pub struct OnceState {
    poisoned: bool,
}

impl OnceState {
    /// Whether an earlier initialisation panicked.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

impl Once {
    crate::facade::const_unless_loom! {
        /// Creates a `Once` that has not run; reports name it by the caller's source line.
        #[allow(clippy::new_without_default)] // as std's `Once`
        #[inline]
        #[track_caller]
        pub fn new() -> Once {
            Once::from_meta(ResourceMeta::new(ResourceKind::Once, Location::caller()))
        }
    }

    /// Creates a `Once` that has not run and that reports call `name`.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>) -> Once {
        Once::from_meta(ResourceMeta::named(
            ResourceKind::Once,
            Location::caller(),
            name.into(),
        ))
    }

    crate::facade::const_unless_loom! {
        fn from_meta(meta: ResourceMeta) -> Once {
            Once {
                state: AtomicUsize::new(INCOMPLETE),
                carried: UnsafeCell::new(detect::Carried::NONE),
                run: Mutex::new(Run {
                    attempt: 0,
                    runner: None,
                }),
                ended: Condvar::new(),
                meta,
            }
        }
    }

    /// Runs `f` if no call has completed yet; returns once some call's `f` has completed.
    ///
    /// # Panics
    ///
    /// If the `Once` is poisoned (an earlier `f` panicked), or this `f` panics.
    #[inline]
    #[track_caller]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.call(false, &mut |_| {
            f.take().expect("the initialisation runs once")()
        });
    }

    /// As [`Once::call_once`], but runs `f` on a poisoned `Once` too, telling it so.
    #[inline]
    #[track_caller]
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        if self.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.call(true, &mut |state| {
            f.take().expect("the initialisation runs once")(state)
        });
    }

    /// Whether some call's initialisation has completed.
    #[inline]
    pub fn is_completed(&self) -> bool {
        let completed = self.state.load(Ordering::Acquire) == COMPLETE;
        if detect::ENABLED && completed {
            // SAFETY: `COMPLETE` was read with `Acquire`, and `carried` was written before the
            // `Release` store of it and is never written again while `&self` is shared (see
            // the field).
            self.carried
                .with(|carried| detect::acquire(unsafe { &*carried }));
        }
        completed
    }

    /// Forgets the completed initialisation (for `OnceLock::take`, which has the only borrow).
    pub(crate) fn reset(&mut self) {
        self.state.store(INCOMPLETE, Ordering::Relaxed);
    }

    /// The slow path: run `f`, or wait for the thread that runs it, until the `Once` has
    /// completed (or is poisoned and `ignore_poison` is off).
    #[cold]
    #[track_caller]
    pub(crate) fn call(&self, ignore_poison: bool, f: &mut dyn FnMut(&OnceState)) {
        let at = Location::caller();
        let mut run = self.run.lock();
        loop {
            match self.state.load(Ordering::Acquire) {
                COMPLETE => return,
                POISONED if !ignore_poison => {
                    drop(run);
                    panic!("Once instance has previously been poisoned");
                }
                RUNNING => run = self.wait_for_runner(run, at),
                state => {
                    self.state.store(RUNNING, Ordering::Relaxed);
                    run.attempt += 1;
                    run.runner = Some(ThreadToken::current());
                    drop(run);
                    let mut ending = Ending {
                        once: self,
                        state: POISONED,
                    };
                    f(&OnceState {
                        poisoned: state == POISONED,
                    });
                    ending.state = COMPLETE;
                    return;
                }
            }
        }
    }

    /// Waits, registered as waiting for the runner, until the current run has ended.
    #[track_caller]
    fn wait_for_runner<'a>(
        &'a self,
        mut run: MutexGuard<'a, Run>,
        at: &'static Location<'static>,
    ) -> MutexGuard<'a, Run> {
        let attempt = run.attempt;
        let wake_by = match run.runner {
            Some(runner) => WakeBy::Thread(runner),
            None => WakeBy::Anyone,
        };
        let mut waiting = CoopWait::begin(&self.meta, Access::Completion, wake_by, at, false);
        loop {
            run = waiting.sleep(&self.run, run, &self.ended, None);
            if run.attempt != attempt || self.state.load(Ordering::Relaxed) != RUNNING {
                return run;
            }
            waiting.again();
        }
    }
}

/// The end of a run, by return or by unwinding: publishes the new state (`POISONED` unless
/// the run completed), then grants and wakes the waiters.
struct Ending<'a> {
    once: &'a Once,
    state: usize,
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        let mut run = self.once.run.lock();
        run.runner = None;
        if self.state == COMPLETE {
            let carried = detect::release();
            // SAFETY: this thread runs the initialisation, so it has the `Once` to itself until
            // the store below (no one reads `carried` before seeing `COMPLETE`; see the field).
            self.once
                .carried
                .with_mut(|slot| unsafe { *slot = carried });
        }
        self.once.state.store(self.state, Ordering::Release);
        detect::grant_all(&self.once.meta);
        self.once.ended.notify_all();
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}

// SAFETY: every field but `carried` is `Sync` by itself. `carried` is written once, by the
// thread that completes the `Once` while no other thread reads it (none reads it before seeing
// `COMPLETE`, stored with `Release` after the write), and after that only read, through `&self`
// (its value is `Sync`: an `Arc` to a clock); `&mut self` is the only other access.
unsafe impl Sync for Once {}

// As std's: a panicking initialisation poisons the `Once`, which every later call sees.
impl UnwindSafe for Once {}
impl RefUnwindSafe for Once {}
