//! [`TaskHandle`]: a submitted task's result, and how a thread waits for it; [`TaskError`].
//!
//! A wait first probes the task's latch (`#[inline]`, no lock). If the task is not over, a
//! worker of the task's own pool helps (`Registry::help`: it runs the task itself if it is
//! still queued, else other queued tasks, and sleeps only when there is nothing to run), and
//! any other thread waits on the task's lock (`Core::wait_blocking`). Both are waits the
//! detector sees: for the task's runner by name once it runs, for anyone while it is queued.
//!
//! Invariant: a handle's task is submitted to a pool whose workers will run or end it, so
//! every wait on a handle ends unless the program deadlocks (and then the detector says so).

use super::job::{Cancel, Completion, Subscriber};
use super::registry::{self, Awaited, Registry, WorkerWake};
use super::unwind::Panic;
use crate::detect::{ResourceMeta, WakeBy};
use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a task gave no value.
///
/// ```
/// use impasse::pool::{TaskError, ThreadPool};
///
/// let pool = ThreadPool::new(1);
/// let err = pool.submit(|| panic!("lost")).result().unwrap_err();
/// assert!(matches!(err, TaskError::Panicked(_)));
/// assert_eq!(err.to_string(), "the task panicked: lost");
/// // A `TaskError` is `Send + Sync + 'static`, so `?` works into `Box<dyn Error + Send + Sync>`.
/// let _: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked; the [`Panic`] keeps its message and payload.
    Panicked(Panic),
    /// The task was cancelled before it started ([`TaskHandle::cancel`],
    /// [`ThreadPool::shutdown_now`](super::ThreadPool::shutdown_now)); it never ran.
    Cancelled,
    /// The pool's workers were gone before the task could run.
    PoolShutDown,
    /// The task did not finish in time ([`TaskHandle::result_timeout`]); the handle stays
    /// usable.
    TimedOut,
    /// The result was taken already (by an earlier [`TaskHandle::result_timeout`]).
    Taken,
}

impl TaskError {
    /// The same error for another item of a chunk that failed as a whole (`map.rs`).
    pub(super) fn for_another_item(&self) -> TaskError {
        match self {
            TaskError::Panicked(panic) => TaskError::Panicked(Panic::copy_of(panic)),
            TaskError::Cancelled => TaskError::Cancelled,
            TaskError::PoolShutDown => TaskError::PoolShutDown,
            TaskError::TimedOut => TaskError::TimedOut,
            TaskError::Taken => TaskError::Taken,
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(panic) => write!(f, "the task panicked: {}", panic.message()),
            TaskError::Cancelled => f.write_str("the task was cancelled before it started"),
            TaskError::PoolShutDown => f.write_str("the pool shut down before the task could run"),
            TaskError::TimedOut => f.write_str("the task did not finish in time"),
            TaskError::Taken => f.write_str("the task's result was taken already"),
        }
    }
}

impl Error for TaskError {}

/// A task's handle, with the lifetime of what the task may borrow: `'static` for
/// [`TaskHandle`], the scope's for [`ScopedTaskHandle`](super::ScopedTaskHandle).
pub(super) struct Handle<'a, T> {
    task: Arc<dyn Completion<T> + 'a>,
}

impl<'a, T> Handle<'a, T> {
    pub(super) fn new(task: Arc<dyn Completion<T> + 'a>) -> Handle<'a, T> {
        Handle { task }
    }

    pub(super) fn task(&self) -> &(dyn Completion<T> + 'a) {
        &*self.task
    }

    #[inline]
    pub(super) fn is_done(&self) -> bool {
        self.task.core().is_done()
    }

    #[inline]
    #[track_caller]
    pub(super) fn wait(&self) {
        if !self.is_done() {
            wait_for(&*self.task, Location::caller());
        }
    }

    #[track_caller]
    pub(super) fn wait_timeout(&self, timeout: Duration) -> bool {
        self.is_done() || wait_until(&*self.task, Location::caller(), deadline(timeout))
    }

    #[track_caller]
    pub(super) fn result(self) -> Result<T, TaskError> {
        self.result_at(Location::caller())
    }

    /// Waits, at `at`, for the task and takes its result.
    #[track_caller]
    pub(super) fn result_at(self, at: &'static Location<'static>) -> Result<T, TaskError> {
        if !self.is_done() {
            wait_for(&*self.task, at);
        }
        self.task.core().take()
    }

    #[track_caller]
    pub(super) fn result_timeout(&mut self, timeout: Duration) -> Result<T, TaskError> {
        if self.wait_timeout(timeout) {
            self.task.core().take()
        } else {
            Err(TaskError::TimedOut)
        }
    }

    pub(super) fn cancel(&self) -> bool {
        self.task.cancel(Cancel::Cancelled)
    }
}

/// `now + timeout`, or no deadline for a timeout too long to represent.
fn deadline(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Waits, at `at`, until `task` is over: helping on a worker of its pool, blocking elsewhere.
#[cold]
#[track_caller]
pub(super) fn wait_for<T>(task: &dyn Completion<T>, at: &'static Location<'static>) {
    match registry::current_worker(task.core().pool()) {
        Some((registry, me)) => Registry::help(&registry, me, &OneTask(task), at),
        None => {
            task.core().wait_blocking(at, None, true);
        }
    }
}

/// Waits, at `at`, until `task` is over or `deadline` passes; whether it is over. A worker
/// of the task's pool runs the task itself if it is still queued, but runs nothing else: a
/// task it picked up could outlast the deadline.
#[cold]
#[track_caller]
fn wait_until<T>(
    task: &dyn Completion<T>,
    at: &'static Location<'static>,
    deadline: Option<Instant>,
) -> bool {
    if registry::current_worker(task.core().pool()).is_some() && task.run() {
        return true;
    }
    task.core().wait_blocking(at, deadline, true)
}

/// One task, as a helping worker waits for it.
struct OneTask<'t, T>(&'t dyn Completion<T>);

impl<T> Awaited for OneTask<'_, T> {
    fn is_over(&self) -> bool {
        self.0.core().is_done()
    }

    fn run_queued(&self) -> bool {
        self.0.run()
    }

    fn subscribe(&self, wake: &WorkerWake) -> Option<WakeBy> {
        self.0
            .core()
            .subscribe(Subscriber::Worker(wake.clone()))
            .ok()
    }

    fn meta(&self) -> &ResourceMeta {
        self.0.core().meta()
    }
}

/// A submitted task: wait for it, take its result, or cancel it before it starts. Returned by
/// [`ThreadPool::submit`](super::ThreadPool::submit); the task's `concurrent.futures.Future`.
///
/// Dropping the handle does not cancel the task: it runs, and its result is dropped.
///
/// ```
/// use impasse::pool::ThreadPool;
/// use std::time::Duration;
///
/// let pool = ThreadPool::new(2);
/// let mut task = pool.submit(|| (1..=10u64).product::<u64>());
/// task.wait();
/// assert!(task.is_done());
/// assert_eq!(task.result_timeout(Duration::from_secs(1)).unwrap(), 3_628_800);
/// ```
pub struct TaskHandle<T> {
    inner: Handle<'static, T>,
}

impl<T> TaskHandle<T> {
    pub(super) fn new(inner: Handle<'static, T>) -> TaskHandle<T> {
        TaskHandle { inner }
    }

    pub(super) fn inner(&self) -> &Handle<'static, T> {
        &self.inner
    }

    pub(super) fn into_inner(self) -> Handle<'static, T> {
        self.inner
    }

    /// Waits for the task and takes its result: its value, or why there is none.
    ///
    /// Called on a worker of the task's own pool (a task waiting for another), the worker
    /// runs the task itself if it is still queued, or other queued tasks while it waits, so a
    /// pool cannot starve itself. A wait that can never end (the task waits for a lock the
    /// caller holds, two tasks wait for each other) is reported as a deadlock.
    ///
    /// ```
    /// use impasse::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2);
    /// assert_eq!(pool.submit(|| "done").result().unwrap(), "done");
    /// ```
    #[track_caller]
    pub fn result(self) -> Result<T, TaskError> {
        self.inner.result()
    }

    /// Waits at most `timeout` for the task and takes its result. On timeout returns
    /// `Err(TaskError::TimedOut)` and the handle can be asked again; once the result was
    /// taken, `Err(TaskError::Taken)`.
    ///
    /// ```
    /// use impasse::pool::{TaskError, ThreadPool};
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    ///
    /// let pool = ThreadPool::new(1);
    /// let (go, wait) = mpsc::channel::<()>();
    /// let mut task = pool.submit(move || wait.recv().map(|()| 7));
    /// let early = task.result_timeout(Duration::from_millis(10));
    /// assert!(matches!(early, Err(TaskError::TimedOut)));
    /// go.send(()).unwrap();
    /// assert_eq!(task.result_timeout(Duration::from_secs(5)).unwrap(), Ok(7));
    /// assert!(matches!(task.result_timeout(Duration::ZERO), Err(TaskError::Taken)));
    /// ```
    #[track_caller]
    pub fn result_timeout(&mut self, timeout: Duration) -> Result<T, TaskError> {
        self.inner.result_timeout(timeout)
    }

    /// Waits until the task is over (it ran, panicked, or was cancelled), helping on a
    /// worker of its own pool as [`result`](TaskHandle::result) does.
    ///
    /// ```
    /// use impasse::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1);
    /// let task = pool.submit(|| 1 + 1);
    /// task.wait();
    /// assert!(task.is_done());
    /// ```
    #[inline]
    #[track_caller]
    pub fn wait(&self) {
        self.inner.wait()
    }

    /// Waits at most `timeout` until the task is over; whether it is.
    ///
    /// ```
    /// use impasse::pool::ThreadPool;
    /// use std::time::Duration;
    ///
    /// let pool = ThreadPool::new(1);
    /// let task = pool.submit(|| ());
    /// assert!(task.wait_timeout(Duration::from_secs(5)));
    /// ```
    #[track_caller]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.inner.wait_timeout(timeout)
    }

    /// Whether the task is over (ran, panicked, or was cancelled). Never blocks.
    ///
    /// ```
    /// use impasse::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1);
    /// let task = pool.submit(|| ());
    /// task.wait();
    /// assert!(task.is_done());
    /// ```
    #[inline]
    pub fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// Cancels the task if it has not started: then it never runs, its closure is dropped,
    /// its result is `Err(TaskError::Cancelled)`, and this returns `true`. Returns `false`
    /// if it has started (or is over): it then runs to its end.
    ///
    /// ```
    /// use impasse::pool::{TaskError, ThreadPool};
    /// use std::sync::mpsc;
    ///
    /// let pool = ThreadPool::new(1);
    /// let (go, wait) = mpsc::channel::<()>();
    /// let busy = pool.submit(move || wait.recv().unwrap()); // occupies the only worker
    /// let queued = pool.submit(|| unreachable!("cancelled before it started"));
    /// assert!(queued.cancel());
    /// go.send(()).unwrap();
    /// busy.result().unwrap();
    /// assert!(matches!(queued.result(), Err(TaskError::Cancelled)));
    /// ```
    pub fn cancel(&self) -> bool {
        self.inner.cancel()
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("done", &self.is_done())
            .finish_non_exhaustive()
    }
}
