//! Waiting for several tasks, as `concurrent.futures` does: [`wait`] (first completed, first
//! exception, all completed), [`wait_timeout`], and [`as_completed`] (handles in the order
//! their tasks end).
//!
//! Not by polling: a [`Signal`] subscribes to every task it waits for, and a task that ends
//! tells it its index (`job.rs`, after the task's lock is released). A thread waits on the
//! signal's own lock, a cooperative wait that anyone may end; a worker of the tasks' pool
//! helps instead, running a queued one of them itself, or other queued tasks, and the signal
//! forwards each ending to it.
//!
//! Invariant: every index a signal is told is the index of a task that is over, told once,
//! in the order the tasks ended (tasks over before the wait began come first, by index).

use super::handle::{wait_for, TaskHandle};
use super::job::{Completion, Subscriber};
use super::registry::{self, Awaited, Registry, WorkerWake};
use crate::detect::{self, CoopWait, ResourceMeta, WaiterToken, WakeBy};
use crate::facade::sync::{Arc, Condvar, Mutex, MutexGuard};
use crate::report::{Access, ResourceKind};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

/// When [`wait`] returns (Python's `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any task is over (ran, panicked, or was cancelled).
    FirstCompleted,
    /// As soon as any task has panicked, or when all are over.
    FirstException,
    /// When every task is over.
    AllCompleted,
}

/// Waits for `handles` until `when` says so; returns the indices of the tasks that are over
/// and of those that are not, each in index order.
///
/// On a worker of the tasks' pool, the wait helps run queued tasks (see
/// [`TaskHandle::result`]). A wait that can never end is reported as a deadlock: waiting for
/// all is a wait for each task's runner in turn; waiting for the first is a wait anyone may
/// end, judged when every thread of a closed world waits (`#[impasse::test]`).
///
/// ```
/// use impasse::pool::{wait, ReturnWhen, ThreadPool};
///
/// let pool = ThreadPool::new(2);
/// let tasks: Vec<_> = (0..4).map(|i| pool.submit(move || i * i)).collect();
/// let (done, not_done) = wait(&tasks, ReturnWhen::AllCompleted);
/// assert_eq!((done, not_done), (vec![0, 1, 2, 3], vec![]));
///
/// let failing = vec![pool.submit(|| panic!("bad input")), pool.submit(|| ())];
/// let (done, _) = wait(&failing, ReturnWhen::FirstException);
/// assert!(done.contains(&0));
/// ```
#[track_caller]
pub fn wait<T>(handles: &[TaskHandle<T>], when: ReturnWhen) -> (Vec<usize>, Vec<usize>) {
    settle(handles, when, Location::caller(), None);
    partition(handles)
}

/// [`wait`], giving up after `timeout`: then the tasks that are not over are in the second
/// list (and under [`ReturnWhen::FirstCompleted`] the first may be empty).
///
/// ```
/// use impasse::pool::{wait_timeout, ReturnWhen, ThreadPool};
/// use std::sync::mpsc;
/// use std::time::Duration;
///
/// let pool = ThreadPool::new(1);
/// let (go, wait) = mpsc::channel::<()>();
/// let tasks = vec![pool.submit(move || wait.recv().unwrap())];
/// let (done, not_done) = wait_timeout(&tasks, ReturnWhen::AllCompleted, Duration::from_millis(10));
/// assert_eq!((done, not_done), (vec![], vec![0]));
/// go.send(()).unwrap();
/// ```
#[track_caller]
pub fn wait_timeout<T>(
    handles: &[TaskHandle<T>],
    when: ReturnWhen,
    timeout: Duration,
) -> (Vec<usize>, Vec<usize>) {
    let deadline = Instant::now().checked_add(timeout);
    settle(handles, when, Location::caller(), deadline);
    partition(handles)
}

/// The handles, in the order their tasks end (those over already first, in their order).
///
/// ```
/// use impasse::pool::{as_completed, ThreadPool};
///
/// let pool = ThreadPool::new(2);
/// let tasks = (1..=3u64).map(|n| pool.submit(move || n * 10));
/// let mut total = 0;
/// for task in as_completed(tasks) {
///     total += task.result().unwrap();
/// }
/// assert_eq!(total, 60);
/// ```
#[track_caller]
pub fn as_completed<T, I>(handles: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = TaskHandle<T>>,
{
    let at = Location::caller();
    let handles: Vec<Option<TaskHandle<T>>> = handles.into_iter().map(Some).collect();
    let signal = Signal::new(format!("the next of {} tasks", handles.len()), at);
    for (index, handle) in handles.iter().enumerate() {
        let task = handle.as_ref().map(|h| h.inner().task());
        if let Some(task) = task {
            Signal::watch(&signal, task, index);
        }
    }
    AsCompleted {
        left: handles.len(),
        handles,
        signal,
        at,
    }
}

/// The iterator of [`as_completed`]: each `next` waits for the next task to end.
pub struct AsCompleted<T> {
    handles: Vec<Option<TaskHandle<T>>>,
    signal: Arc<Signal>,
    left: usize,
    at: &'static Location<'static>,
}

impl<T> Iterator for AsCompleted<T> {
    type Item = TaskHandle<T>;

    #[track_caller]
    fn next(&mut self) -> Option<TaskHandle<T>> {
        if self.left == 0 {
            return None;
        }
        let pending = || self.handles.iter().flatten().map(|h| h.inner().task());
        let index = self.signal.next(pending, self.at, None)?;
        self.left -= 1;
        self.handles[index].take()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for AsCompleted<T> {}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

/// Waits for `handles` until `when` is satisfied or `deadline` passes.
#[track_caller]
fn settle<T>(
    handles: &[TaskHandle<T>],
    when: ReturnWhen,
    at: &'static Location<'static>,
    deadline: Option<Instant>,
) {
    let task = |index: usize| handles[index].inner().task();
    let stops = |index: usize| match when {
        ReturnWhen::FirstCompleted => true,
        ReturnWhen::FirstException => task(index).core().panicked(),
        ReturnWhen::AllCompleted => false,
    };
    let mut pending = Vec::new();
    for (index, handle) in handles.iter().enumerate() {
        if !handle.is_done() {
            pending.push(index);
        } else if stops(index) {
            return;
        }
    }
    if pending.is_empty() {
        return;
    }
    if when == ReturnWhen::AllCompleted && deadline.is_none() {
        // A wait for each task in turn, each for its runner by name: exact for the detector.
        for handle in handles {
            if !handle.is_done() {
                wait_for(handle.inner().task(), at);
            }
        }
        return;
    }
    let name = match when {
        ReturnWhen::FirstCompleted => format!("the first of {} tasks", handles.len()),
        ReturnWhen::FirstException => format!("the first panic of {} tasks", handles.len()),
        ReturnWhen::AllCompleted => format!("all of {} tasks", handles.len()),
    };
    let signal = Signal::new(name, at);
    // Every task counted as pending is watched (one over since then is told at once), so
    // the signal hears of each of them exactly once.
    for &index in &pending {
        Signal::watch(&signal, task(index), index);
    }
    let tasks = || handles.iter().map(|h| h.inner().task());
    for _ in 0..pending.len() {
        let Some(index) = signal.next(tasks, at, deadline) else {
            return; // timed out
        };
        if stops(index) {
            return;
        }
    }
}

fn partition<T>(handles: &[TaskHandle<T>]) -> (Vec<usize>, Vec<usize>) {
    (0..handles.len()).partition(|&index| handles[index].is_done())
}

/// Where the ends of the tasks a wait watches arrive.
pub(super) struct Signal {
    state: Mutex<SignalState>,
    wakes: Condvar,
    /// The wait, as a resource: kind `Task`, named for what it waits for.
    meta: ResourceMeta,
}

struct SignalState {
    /// Indices of tasks that ended, not yet taken.
    over: VecDeque<usize>,
    /// The waiting thread's registration, for `notify` to grant.
    token: Option<WaiterToken>,
    /// A helping worker to wake on each end.
    forward: Option<WorkerWake>,
}

impl Signal {
    fn new(name: String, at: &'static Location<'static>) -> Arc<Signal> {
        Arc::new(Signal {
            state: Mutex::new(SignalState {
                over: VecDeque::new(),
                token: None,
                forward: None,
            }),
            wakes: Condvar::new(),
            meta: ResourceMeta::named(ResourceKind::Task, at, Cow::Owned(name)),
        })
    }

    /// Subscribes to `task`, told as `index`; a task over already is told at once.
    fn watch<T>(signal: &Arc<Signal>, task: &dyn Completion<T>, index: usize) {
        let subscriber = Subscriber::Signal(Arc::clone(signal), index);
        if task.core().subscribe(subscriber).is_err() {
            signal.state.lock().over.push_back(index);
        }
    }

    /// Task `index` ended: queues it, grants the waiter and wakes it (or the helping worker).
    pub(super) fn notify(&self, index: usize) {
        let forward = {
            let mut state = self.state.lock();
            state.over.push_back(index);
            if let Some(token) = state.token {
                detect::grant(token);
            }
            self.wakes.notify_one();
            state.forward.clone()
        };
        if let Some(worker) = forward {
            worker.wake();
        }
    }

    /// The next index to end, waiting at `at` until `deadline` for it; `None` on timeout.
    /// `pending` lists the tasks watched, for a worker of their pool to help with.
    #[track_caller]
    fn next<'t, T: 't, P, I>(
        &self,
        pending: P,
        at: &'static Location<'static>,
        deadline: Option<Instant>,
    ) -> Option<usize>
    where
        P: Fn() -> I,
        I: Iterator<Item = &'t (dyn Completion<T> + 't)>,
    {
        if let Some(index) = self.state.lock().over.pop_front() {
            return Some(index);
        }
        if deadline.is_none() {
            let worker = pending().find_map(|task| registry::current_worker(task.core().pool()));
            if let Some((registry, me)) = worker {
                let tasks: Vec<&dyn Completion<T>> = pending()
                    .filter(|task| task.core().pool() == registry.id() && !task.core().is_done())
                    .collect();
                Registry::help(
                    &registry,
                    me,
                    &AnyOf {
                        signal: self,
                        tasks,
                    },
                    at,
                );
                let mut state = self.state.lock();
                state.forward = None;
                return state.over.pop_front();
            }
        }
        self.wait_blocking(at, deadline)
    }

    /// Waits on the signal's lock for the next index: a cooperative wait anyone may end.
    #[track_caller]
    fn wait_blocking(
        &self,
        at: &'static Location<'static>,
        deadline: Option<Instant>,
    ) -> Option<usize> {
        let mut parked = Parked(Some(self.state.lock()));
        if let Some(index) = parked.state().over.pop_front() {
            return Some(index);
        }
        let mut waiting = CoopWait::begin(
            &self.meta,
            Access::TaskResult,
            WakeBy::Anyone,
            at,
            deadline.is_some(),
        );
        parked.state().token = waiting.token();
        let mut next = None;
        waiting.wait_for(&self.state, &mut parked.0, &self.wakes, deadline, |state| {
            next = state.over.pop_front();
            next.is_some()
        });
        next
    }
}

/// A thread waiting on a signal, holding its lock while it is not waiting; its registration
/// leaves the signal on every way out (a report unwinding included), so no later end grants
/// a registration of this thread that is about something else.
struct Parked<'a>(Option<MutexGuard<'a, SignalState>>);

impl Parked<'_> {
    fn state(&mut self) -> &mut SignalState {
        self.0
            .as_mut()
            .expect("a parked waiter holds the signal's lock")
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        if let Some(state) = &mut self.0 {
            state.token = None;
        }
    }
}

/// Several tasks of one pool, as a helping worker waits for the first of them to end.
struct AnyOf<'s, 't, T> {
    signal: &'s Signal,
    tasks: Vec<&'t dyn Completion<T>>,
}

impl<T> Awaited for AnyOf<'_, '_, T> {
    fn is_over(&self) -> bool {
        !self.signal.state.lock().over.is_empty()
    }

    fn run_queued(&self) -> bool {
        self.tasks.iter().any(|task| task.run())
    }

    fn subscribe(&self, wake: &WorkerWake) -> Option<WakeBy> {
        let mut state = self.signal.state.lock();
        if !state.over.is_empty() {
            return None;
        }
        state.forward = Some(wake.clone());
        Some(WakeBy::Anyone)
    }

    fn meta(&self) -> &ResourceMeta {
        &self.signal.meta
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").finish_non_exhaustive()
    }
}
