//! [`Scope`]: tasks that borrow from the caller's stack, as `std::thread::scope` threads do;
//! [`ThreadPool::scope`](super::ThreadPool::scope) runs one.
//!
//! The pool's workers outlive any scope, so a scoped task enters the queues with its
//! lifetime erased (`Scope::submit`, the one `unsafe` of the pool). What makes that sound is
//! the scope's end: it waits until every task submitted in it is over (and keeps waiting after
//! a deadlock report, without judging again), then drops every result nobody took.
//!
//! Invariant: from its submit until the scope's end, every scoped task is in the scope's
//! list; when `scope` returns or unwinds, each of them is over, its closure dropped, and its
//! result taken or dropped, so nothing that borrows from `'scope` is left in any task cell.

use super::handle::{wait_for, Handle, TaskError};
use super::job::{Completion, Job, JobRef, TaskCell};
use super::registry::{self, Registry};
use super::unwind;
use crate::facade::sync::{Arc, Mutex};
use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::mem::{self, ManuallyDrop};
use std::panic::Location;
use std::time::Duration;

/// A scope's end, as it sees each task: waits and the results it must not leave behind.
trait ScopedTask: Send + Sync {
    /// Waits at `at` until the task is over (helping on a worker of its pool).
    fn wait_done(&self, at: &'static Location<'static>);
    /// Waits until the task is over, as a wait the detector does not judge.
    fn wait_quietly(&self, at: &'static Location<'static>);
    /// Drops a result nobody took; returns its panic if it was one.
    fn discard(&self) -> Option<Box<dyn Any + Send>>;
}

impl<T, F> ScopedTask for TaskCell<T, F>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    #[track_caller]
    fn wait_done(&self, at: &'static Location<'static>) {
        if !self.core().is_done() {
            wait_for(self, at);
        }
    }

    fn wait_quietly(&self, at: &'static Location<'static>) {
        if registry::current_worker(self.core().pool()).is_some() {
            self.run(); // if it is still queued
        }
        self.core().wait_blocking(at, None, false);
    }

    fn discard(&self) -> Option<Box<dyn Any + Send>> {
        self.core().discard()
    }
}

/// A scope to submit borrowing tasks in. See [`ThreadPool::scope`](super::ThreadPool::scope).
pub struct Scope<'scope, 'env: 'scope> {
    registry: Arc<Registry>,
    /// Every task submitted in the scope, in submit order. `ManuallyDrop` because a value
    /// that mentions `'scope` and has drop glue could not be dropped where the scope, borrowed
    /// for `'scope`, is; `end` empties it instead (what it leaves is `Vec::new()`, which owns
    /// no memory).
    tasks: ManuallyDrop<Mutex<Vec<std::sync::Arc<dyn ScopedTask + 'scope>>>>,
    /// Where the scope was opened: the site of its end's waits.
    at: &'static Location<'static>,
    /// Invariant in `'scope` and `'env`, as `std::thread::Scope` is.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// Runs `f` with a fresh scope on `registry`'s pool, then ends the scope.
pub(super) fn run<'env, F, R>(registry: Arc<Registry>, at: &'static Location<'static>, f: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let scope = Scope {
        registry,
        tasks: ManuallyDrop::new(Mutex::new(Vec::new())),
        at,
        scope: PhantomData,
        env: PhantomData,
    };
    let outcome = unwind::halt_unwinding(|| f(&scope));
    let panic = scope.end();
    match (outcome, panic) {
        (Err(payload), _) | (Ok(_), Some(payload)) => unwind::resume_unwinding(payload),
        (Ok(value), None) => value,
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Submits a task that may borrow anything that outlives the scope. It is over before
    /// [`ThreadPool::scope`](super::ThreadPool::scope) returns; its creation site (for
    /// reports) is the caller's line.
    ///
    /// ```
    /// use impasse::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2);
    /// let words = ["scoped", "tasks", "borrow"];
    /// let lengths = pool.scope(|s| {
    ///     let tasks: Vec<_> = words.iter().map(|w| s.submit(move || w.len())).collect();
    ///     tasks.into_iter().map(|t| t.result().unwrap()).collect::<Vec<_>>()
    /// });
    /// assert_eq!(lengths, [6, 5, 6]);
    /// ```
    #[track_caller]
    pub fn submit<F, T>(&'scope self, f: F) -> ScopedTaskHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let cell = std::sync::Arc::new(TaskCell::new(f, Location::caller(), self.registry.id()));
        // In the list before it is queued, so that the end waits for it.
        self.tasks
            .lock()
            .push(std::sync::Arc::clone(&cell) as std::sync::Arc<dyn ScopedTask + 'scope>);
        let job: std::sync::Arc<dyn Job + 'scope> = std::sync::Arc::clone(&cell) as _;
        // SAFETY: only the trait object's lifetime bound changes (same fat-pointer layout, as
        // std's scoped threads erase theirs). The queues may keep this `Arc` past `'scope`;
        // nothing borrowed for `'scope` is used through it then:
        // - the scope does not return or unwind before this task is over: it is in `tasks`
        //   (pushed above, before it is queued), and `Scope::end` waits for every task in
        //   `tasks`, and keeps waiting (unjudged) after a deadlock report;
        // - a task is over only after its closure was consumed by running, or dropped by a
        //   cancel (`TaskCell::run`, `TaskCell::cancel`), so no `F` is left;
        // - `Scope::end` then drops every result nobody took, so no `T` is left; a handle that
        //   could take one carries `'scope` and cannot outlive the scope's closure;
        // - what stays reachable is the task's core (lock, stage, latch, identity,
        //   subscribers), which holds nothing borrowed: a worker popping the stale entry
        //   later finds the stage past `Queued` and only drops an empty cell.
        let job: JobRef = unsafe {
            mem::transmute::<std::sync::Arc<dyn Job + 'scope>, std::sync::Arc<dyn Job + 'static>>(
                job,
            )
        };
        self.registry.push(job);
        ScopedTaskHandle {
            inner: Handle::new(cell),
        }
    }

    /// The scope's end: waits until every task is over, tasks submitted meanwhile included;
    /// then drops the results nobody took. Returns what to raise: a deadlock report made while
    /// waiting, else a panic from dropping a result, else the first panic nobody took.
    fn end(&self) -> Option<Box<dyn Any + Send>> {
        let mut report = None;
        let mut next = 0;
        loop {
            let task = self.tasks.lock().get(next).cloned();
            let Some(task) = task else {
                break;
            };
            if let Err(payload) = unwind::halt_unwinding(|| task.wait_done(self.at)) {
                // The policy panicked this wait with a report. The tasks may still use what
                // they borrow, so the scope cannot unwind yet: wait on, unjudged.
                report.get_or_insert(payload);
                task.wait_quietly(self.at);
            }
            next += 1;
        }
        let tasks = mem::take(&mut *self.tasks.lock());
        // Every result is dropped, even if dropping one panics (a later one would otherwise
        // be dropped by whoever drops its cell, after the scope).
        let (mut dropping, mut unclaimed) = (None, None);
        for task in tasks {
            match unwind::halt_unwinding(|| task.discard()) {
                Ok(Some(payload)) => {
                    unclaimed.get_or_insert(payload);
                }
                Ok(None) => {}
                Err(payload) => {
                    dropping.get_or_insert(payload);
                }
            }
        }
        report.or(dropping).or(unclaimed)
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("tasks", &self.tasks.lock().len())
            .finish_non_exhaustive()
    }
}

/// A task submitted in a [`Scope`]: [`TaskHandle`](super::TaskHandle)'s methods, for a task
/// that borrows. It cannot leave the scope.
pub struct ScopedTaskHandle<'scope, T> {
    inner: Handle<'scope, T>,
}

impl<T> ScopedTaskHandle<'_, T> {
    /// Waits for the task and takes its result, as [`TaskHandle::result`](super::TaskHandle::result).
    ///
    /// ```
    /// use impasse::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1);
    /// let data = vec![1, 2, 3];
    /// let sum = pool.scope(|s| s.submit(|| data.iter().sum::<i32>()).result().unwrap());
    /// assert_eq!(sum, 6);
    /// ```
    #[track_caller]
    pub fn result(self) -> Result<T, TaskError> {
        self.inner.result()
    }

    /// Waits at most `timeout` and takes the result, as
    /// [`TaskHandle::result_timeout`](super::TaskHandle::result_timeout).
    #[track_caller]
    pub fn result_timeout(&mut self, timeout: Duration) -> Result<T, TaskError> {
        self.inner.result_timeout(timeout)
    }

    /// Waits until the task is over, as [`TaskHandle::wait`](super::TaskHandle::wait).
    #[track_caller]
    pub fn wait(&self) {
        self.inner.wait()
    }

    /// Waits at most `timeout` until the task is over; whether it is.
    #[track_caller]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.inner.wait_timeout(timeout)
    }

    /// Whether the task is over. Never blocks.
    pub fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// Cancels the task if it has not started, as [`TaskHandle::cancel`](super::TaskHandle::cancel).
    pub fn cancel(&self) -> bool {
        self.inner.cancel()
    }
}

impl<T> fmt::Debug for ScopedTaskHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedTaskHandle")
            .field("done", &self.is_done())
            .finish_non_exhaustive()
    }
}
