//! [`JoinHandle`]: a join as a cooperative wait, so the detector sees who waits for whom.
//!
//! The spawned thread hands its result over in a packet shared with its handle: its value in
//! the packet's typed slot, then, under the lock of the packet's untyped half ([`Finish`]), the
//! news that it finished, its panic if it panicked, and its clock; it grants its joiners before
//! waking them. A joiner waits on the `Finish` (not in the OS join, which it calls only once the
//! thread has finished). A scope's end waits on the same `Finish`, which names no type, so a
//! scope can keep one for every thread it spawned (`scope.rs`).
//!
//! Invariant: once `Finish` says finished, the thread's value is in the slot or its panic is
//! in the `Finish`, until the one join of the thread takes it.

use crate::detect::{self, CoopWait, ResourceMeta, ThreadToken, WakeBy};
use crate::facade::sync::{Arc, Condvar, Mutex, MutexGuard};
use crate::facade::thread::{JoinHandle as NativeHandle, Thread};
use crate::report::{Access, ResourceKind};
use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};

/// What the spawned thread and its handle share.
pub(super) struct Packet<T> {
    /// Whether the thread has finished, and how: what every join waits on.
    pub(super) finish: Arc<Finish>,
    /// The thread's return value, from when it finishes until its join takes it.
    value: Mutex<Option<T>>,
}

/// The untyped half of a [`Packet`]: the thread's progress, as a resource to join.
pub(super) struct Finish {
    state: Mutex<Progress>,
    /// Where joiners wait.
    joiners: Condvar,
    /// The thread, as a resource to join: named by its name, created at the spawn site.
    meta: ResourceMeta,
}

struct Progress {
    /// The spawned thread, once it has started.
    child: Option<ThreadToken>,
    finished: bool,
    /// The thread's panic, from when it finishes until a join takes it.
    panic: Option<Box<dyn Any + Send>>,
    /// The thread's clock at its end, for the joiner to take in.
    ending: Option<detect::Ending>,
}

impl<T> Packet<T> {
    pub(super) fn new(
        name: Option<String>,
        spawned_at: &'static Location<'static>,
    ) -> Arc<Packet<T>> {
        let meta = match name {
            Some(name) => ResourceMeta::named(ResourceKind::Thread, spawned_at, Cow::Owned(name)),
            None => ResourceMeta::new(ResourceKind::Thread, spawned_at),
        };
        Arc::new(Packet {
            finish: Arc::new(Finish {
                state: Mutex::new(Progress {
                    child: None,
                    finished: false,
                    panic: None,
                    ending: None,
                }),
                joiners: Condvar::new(),
                meta,
            }),
            value: Mutex::new(None),
        })
    }

    /// The spawned thread's side: runs `f`, then hands its result (or panic) to the joiner.
    pub(super) fn run(&self, f: impl FnOnce() -> T) {
        self.finish.started();
        let result = panic::catch_unwind(AssertUnwindSafe(f));
        let ending = detect::finishing();
        let panic = match result {
            Ok(value) => {
                *self.value.lock() = Some(value);
                None
            }
            Err(payload) => Some(payload),
        };
        self.finish.finished(panic, ending);
    }

    /// Waits (a cooperative wait at `at`) for the thread to finish, takes its result, then
    /// lets `native_join` join the OS thread (brief: it has handed over its result and is
    /// finishing). The joiner takes in the finished thread's clock, so what the thread did
    /// happened before what the joiner does next. Only one join per packet.
    pub(super) fn join(
        &self,
        at: &'static Location<'static>,
        native_join: impl FnOnce(),
    ) -> std::thread::Result<T> {
        let result = self.take(at);
        native_join();
        result
    }

    fn take(&self, at: &'static Location<'static>) -> std::thread::Result<T> {
        let (panic, ending) = self.finish.wait(at).leftovers();
        if let Some(ending) = ending {
            detect::joined(ending);
        }
        match panic {
            Some(payload) => Err(payload),
            None => Ok(self
                .value
                .lock()
                .take()
                .expect("impasse: a thread that finished without panicking left its value")),
        }
    }
}

impl Finish {
    /// In the spawned thread, first: it becomes known, and joiners that began to wait before
    /// it did now wait for it by name (without being woken: `detect::name_waker`).
    fn started(&self) {
        let mut state = self.state.lock();
        let child = ThreadToken::current();
        state.child = Some(child);
        detect::name_waker(&self.meta, child);
    }

    /// In the spawned thread, last: grants every joiner, then wakes them.
    fn finished(&self, panic: Option<Box<dyn Any + Send>>, ending: detect::Ending) {
        let mut state = self.state.lock();
        state.finished = true;
        state.panic = panic;
        state.ending = Some(ending);
        detect::grant_all(&self.meta);
        self.joiners.notify_all();
    }

    /// Whether the thread has finished running its closure.
    pub(super) fn is_finished(&self) -> bool {
        self.state.lock().finished
    }

    /// Waits until the thread has finished: a cooperative wait at `at`, so a join that can
    /// never end (the thread waits for a lock the joiner holds, or the whole world is asleep)
    /// is reported as a deadlock. Returns the progress, locked.
    #[track_caller]
    pub(super) fn wait(&self, at: &'static Location<'static>) -> Done<'_> {
        let mut state = self.state.lock();
        if state.finished {
            return Done(state);
        }
        // A thread that has not started yet names itself in this wait when it starts
        // (`started`), so that a cycle through it is seen without the closed-world rule.
        let mut waiting = CoopWait::begin(&self.meta, Access::Join, wake_by(&state), at, false);
        loop {
            state = waiting.sleep(&self.state, state, &self.joiners, None);
            if state.finished {
                return Done(state);
            }
            waiting.again();
        }
    }
}

/// Who can end a join: the thread, once it is known; anyone before (it will run, but the
/// detector cannot name it yet).
fn wake_by(state: &Progress) -> WakeBy {
    match state.child {
        Some(child) => WakeBy::Thread(child),
        None => WakeBy::Anyone,
    }
}

/// A finished thread's progress, locked.
pub(super) struct Done<'a>(MutexGuard<'a, Progress>);

impl Done<'_> {
    /// What the thread left for its joiner: its panic, if it panicked, and its clock.
    pub(super) fn leftovers(mut self) -> (Option<Box<dyn Any + Send>>, Option<detect::Ending>) {
        (self.0.panic.take(), self.0.ending.take())
    }
}

/// An owned permission to join a thread, as `std::thread::JoinHandle`.
pub struct JoinHandle<T> {
    native: NativeHandle<()>,
    packet: Arc<Packet<T>>,
}

impl<T> JoinHandle<T> {
    pub(super) fn new(native: NativeHandle<()>, packet: Arc<Packet<T>>) -> JoinHandle<T> {
        JoinHandle { native, packet }
    }

    /// Waits for the thread to finish; `Err` holds its panic payload, as std's `join`.
    ///
    /// A join that can never end (the thread waits for a lock the joiner holds, or the whole
    /// world is asleep) is reported as a deadlock.
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        self.packet
            .join(Location::caller(), || drop(self.native.join()))
    }

    /// The thread's handle.
    pub fn thread(&self) -> &Thread {
        self.native.thread()
    }

    /// Whether the thread has finished running its closure.
    pub fn is_finished(&self) -> bool {
        self.packet.finish.is_finished()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").finish_non_exhaustive()
    }
}
