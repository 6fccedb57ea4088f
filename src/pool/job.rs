//! A task: its closure, its stage, and its result `None | Ok(T) | Panic(payload)` (rayon-core's
//! `job.rs` is the model); how a task is claimed, finished or cancelled; and the wait of a
//! thread that cannot help run it (`Core::wait_blocking`, a cooperative wait).
//!
//! One allocation per task, a [`TaskCell`], seen three ways: by the queues as a [`Job`], by its
//! handle as a [`Completion<T>`], by a scope as a `ScopedTask` (`scope.rs`). It is a `std`
//! `Arc`, not the facade's: loom's `Arc` cannot be coerced to a trait object (that needs the
//! unstable `CoerceUnsized`), and the reference count needs no model — the cell's state is
//! behind facade locks and atomics, which loom checks.
//!
//! Invariant: the stage leaves `Queued` exactly once, under the task's lock, either to
//! `Running` by the thread that then runs the closure, or to `Cancelling` by the thread that
//! then drops it; only that thread touches the closure, and it is gone (run or dropped) before
//! the task is over (`Ran` or `Ended`, never changed again, `done` set with it). Whoever moves
//! the stage grants the waiters on the task's resource before notifying them
//! (`detect/cooperative.rs`), and a task that is over tells every subscriber once, after its
//! lock is released.

use super::registry::WorkerWake;
use super::unwind::{self, Panic};
use super::wait::Signal;
use super::TaskError;
use crate::detect::{self, CoopWait, ResourceMeta, ThreadToken, WakeBy};
use crate::facade::cell::UnsafeCell;
use crate::facade::sync::atomic::{AtomicBool, Ordering};
use crate::facade::sync::{Arc, Condvar, Mutex};
use crate::report::{Access, ResourceKind};
use std::any::Any;
use std::mem;
use std::panic::Location;
use std::time::Instant;

/// A task as the queues hold it.
pub(super) type JobRef = std::sync::Arc<dyn Job>;

/// The type-erased face of a task: what a worker (or a helping waiter) does with it.
pub(super) trait Job: Send + Sync {
    /// Runs the task on the calling thread if it is still queued, claiming it under its lock
    /// so that it runs exactly once. Whether it ran here.
    fn run(&self) -> bool;

    /// Ends the task without running it, if it is still queued. Whether it was.
    fn cancel(&self, why: Cancel) -> bool;
}

/// A task's typed face, for its handle.
pub(super) trait Completion<T>: Job {
    fn core(&self) -> &Core<T>;
}

/// Why a queued task ends without running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cancel {
    /// Its handle, or `shutdown_now`, cancelled it.
    Cancelled,
    /// Its pool's workers are gone.
    ShutDown,
}

/// What a task's closure left: nothing yet (or taken), its value, or its panic.
pub(super) enum JobResult<T> {
    None,
    Ok(T),
    Panic(Box<dyn Any + Send>),
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy)]
enum Stage {
    Queued,
    /// Being cancelled: the thread that moved it here drops the closure, then ends it.
    Cancelling,
    /// Run by this thread (which the detector then names as the one to wait for).
    Running(ThreadToken),
    Ran,
    Ended(Cancel),
}

impl Stage {
    fn is_over(self) -> bool {
        matches!(self, Stage::Ran | Stage::Ended(_))
    }
}

/// Who can end a wait for a task in this stage: its runner, or anyone while it is queued.
fn wake_by(stage: Stage) -> WakeBy {
    match stage {
        Stage::Running(runner) => WakeBy::Thread(runner),
        _ => WakeBy::Anyone,
    }
}

/// Someone to tell when a task is over.
pub(super) enum Subscriber {
    /// A worker helping while it waits for the task (`registry.rs`).
    Worker(WorkerWake),
    /// A wait for any of several tasks (`wait.rs`), told the task's index.
    Signal(Arc<Signal>, usize),
}

impl Subscriber {
    fn notify(self) {
        match self {
            Subscriber::Worker(worker) => worker.wake(),
            Subscriber::Signal(signal, index) => signal.notify(index),
        }
    }

    fn is(&self, other: &Subscriber) -> bool {
        match (self, other) {
            (Subscriber::Worker(a), Subscriber::Worker(b)) => a.is(b),
            _ => false,
        }
    }
}

/// A task's state, its latch and its identity; everything but the closure.
pub(super) struct Core<T> {
    state: Mutex<State<T>>,
    /// Set, under the lock, once the stage is past `Running`: what the `#[inline]` probe of
    /// a waiter reads before it takes any lock.
    done: AtomicBool,
    /// Where threads that cannot help wait (`wait_blocking`).
    finished: Condvar,
    /// The task, as a resource to wait for: kind `Task`, created at its submit site.
    meta: ResourceMeta,
    /// The address of the pool's registry, to tell its own workers (who help) from others.
    pool: usize,
}

struct State<T> {
    stage: Stage,
    result: JobResult<T>,
    subscribers: Vec<Subscriber>,
    /// The past the task brings: its submitter's until it runs (the runner takes it in), then
    /// its runner's once it is over (whoever takes its result takes that in).
    carried: detect::Carried,
}

/// A task: its [`Core`] and its closure.
pub(super) struct TaskCell<T, F> {
    core: Core<T>,
    /// The closure, until the thread that moves the stage out of `Queued` takes it.
    body: UnsafeCell<Option<F>>,
}

// SAFETY: `body` is the only field that is not `Sync` by itself. It is read or written only by
// the one thread that moved the stage out of `Queued` (`run` or `cancel`, each after its
// transition under the task's lock succeeded), once, so no two threads ever access it; the
// lock's release and acquire order that access after the cell's creation. `F: Send` because
// that thread may not be the one that made the cell; `T: Send` for the result, kept under the
// lock.
unsafe impl<T: Send, F: Send> Sync for TaskCell<T, F> {}

impl<T, F> TaskCell<T, F>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    /// A queued task running `body`, submitted at `at` to the pool with registry `pool`.
    pub(super) fn new(body: F, at: &'static Location<'static>, pool: usize) -> TaskCell<T, F> {
        TaskCell {
            core: Core {
                state: Mutex::new(State {
                    stage: Stage::Queued,
                    result: JobResult::None,
                    subscribers: Vec::new(),
                    carried: detect::release(),
                }),
                done: AtomicBool::new(false),
                finished: Condvar::new(),
                meta: ResourceMeta::new(ResourceKind::Task, at),
                pool,
            },
            body: UnsafeCell::new(Some(body)),
        }
    }

    /// Takes the closure out; only after this thread moved the stage out of `Queued`.
    fn take_body(&self) -> Option<F> {
        // SAFETY: called only by `run` and `cancel`, right after `Core::claim` or
        // `Core::start_cancel` returned `true` on this thread: the stage left `Queued` once, so
        // this is the one access to `body` there will ever be (see `unsafe impl Sync`).
        self.body.with_mut(|body| unsafe { (*body).take() })
    }
}

impl<T, F> Job for TaskCell<T, F>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self) -> bool {
        if !self.core.claim() {
            return false;
        }
        let body = self
            .take_body()
            .expect("impasse: a claimed task has its closure");
        let result = match unwind::halt_unwinding(body) {
            Ok(value) => JobResult::Ok(value),
            Err(payload) => JobResult::Panic(payload),
        };
        self.core.finish(Stage::Ran, result);
        true
    }

    fn cancel(&self, why: Cancel) -> bool {
        if !self.core.start_cancel() {
            return false;
        }
        // Dropped outside the task's lock (a closure's captures may do anything on drop), but
        // before the task is over: once it is, a scope may end, and with it what `F` borrows.
        // A panic while dropping it still ends the task, then goes on in the canceller.
        let body = self.take_body();
        let dropped = unwind::halt_unwinding(move || drop(body));
        self.core.finish(Stage::Ended(why), JobResult::None);
        if let Err(payload) = dropped {
            unwind::resume_unwinding(payload);
        }
        true
    }
}

impl<T, F> Completion<T> for TaskCell<T, F>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn core(&self) -> &Core<T> {
        &self.core
    }
}

impl<T> Core<T> {
    /// Whether the task is over (ran, or was cancelled): the latch probe, no lock taken.
    #[inline]
    pub(super) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// The address of the task's pool's registry.
    pub(super) fn pool(&self) -> usize {
        self.pool
    }

    pub(super) fn meta(&self) -> &ResourceMeta {
        &self.meta
    }

    /// Moves a queued task to `Running` on the calling thread. Waiters that waited for a
    /// queued task (anyone could have run it) now wait for this thread by name, in place: a
    /// cycle through it is then a cycle of known wakers, reported at once.
    fn claim(&self) -> bool {
        let mut state = self.state.lock();
        if !matches!(state.stage, Stage::Queued) {
            return false;
        }
        let runner = ThreadToken::current();
        state.stage = Stage::Running(runner);
        detect::name_waker(&self.meta, runner);
        detect::acquire(&state.carried);
        true
    }

    /// Moves a queued task to `Cancelling`; `false` if it was not queued any more.
    fn start_cancel(&self) -> bool {
        let mut state = self.state.lock();
        if !matches!(state.stage, Stage::Queued) {
            return false;
        }
        state.stage = Stage::Cancelling;
        true
    }

    /// Records the end, grants and wakes every waiter, then tells the subscribers.
    fn finish(&self, stage: Stage, result: JobResult<T>) {
        let subscribers = {
            let mut state = self.state.lock();
            state.stage = stage;
            state.result = result;
            state.carried = detect::release();
            self.done.store(true, Ordering::Release);
            detect::grant_all(&self.meta);
            self.finished.notify_all();
            mem::take(&mut state.subscribers)
        };
        for subscriber in subscribers {
            subscriber.notify();
        }
    }

    /// Takes the result: the value, the panic, or why there is none.
    pub(super) fn take(&self) -> Result<T, TaskError> {
        let mut state = self.state.lock();
        if state.stage.is_over() {
            detect::acquire(&state.carried);
        }
        match state.stage {
            Stage::Ran => match mem::replace(&mut state.result, JobResult::None) {
                JobResult::Ok(value) => Ok(value),
                JobResult::Panic(payload) => Err(TaskError::Panicked(Panic::new(payload))),
                JobResult::None => Err(TaskError::Taken),
            },
            Stage::Ended(Cancel::Cancelled) => Err(TaskError::Cancelled),
            Stage::Ended(Cancel::ShutDown) => Err(TaskError::PoolShutDown),
            Stage::Queued | Stage::Cancelling | Stage::Running(_) => Err(TaskError::TimedOut),
        }
    }

    /// Drops a result nobody took, returning its panic if it is one (a scope's end).
    pub(super) fn discard(&self) -> Option<Box<dyn Any + Send>> {
        let result = {
            let mut state = self.state.lock();
            detect::acquire(&state.carried);
            mem::replace(&mut state.result, JobResult::None)
        };
        match result {
            JobResult::Panic(payload) => Some(payload),
            JobResult::Ok(value) => {
                drop(value);
                None
            }
            JobResult::None => None,
        }
    }

    /// Whether the task ran and panicked, its panic not taken yet.
    pub(super) fn panicked(&self) -> bool {
        matches!(self.state.lock().result, JobResult::Panic(_))
    }

    /// Arranges for `subscriber` to be told when the task is over, once. Hands it back if
    /// the task is over already; otherwise returns who can end a wait for the task now.
    pub(super) fn subscribe(&self, subscriber: Subscriber) -> Result<WakeBy, Subscriber> {
        let mut state = self.state.lock();
        if state.stage.is_over() {
            return Err(subscriber);
        }
        if !state.subscribers.iter().any(|s| s.is(&subscriber)) {
            state.subscribers.push(subscriber);
        }
        Ok(wake_by(state.stage))
    }

    /// Waits on the task's own lock until it is over or `deadline` passes (then `false`): a
    /// cooperative wait at `at`, for threads that cannot help run the task (a thread outside
    /// the pool, a worker of another pool, or a timed wait). `judged: false` registers the
    /// wait as one the detector never judges (a scope's end after a report).
    #[track_caller]
    pub(super) fn wait_blocking(
        &self,
        at: &'static Location<'static>,
        deadline: Option<Instant>,
        judged: bool,
    ) -> bool {
        let mut state = self.state.lock();
        if state.stage.is_over() {
            return true;
        }
        let timed = deadline.is_some() || !judged;
        // A task queued still is named by its runner in this wait when it is claimed (`claim`).
        let mut waiting = CoopWait::begin(
            &self.meta,
            Access::TaskResult,
            wake_by(state.stage),
            at,
            timed,
        );
        loop {
            state = waiting.sleep(&self.state, state, &self.finished, deadline);
            if state.stage.is_over() {
                return true;
            }
            if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
                return false;
            }
            waiting.again();
        }
    }
}
