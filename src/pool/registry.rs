//! The workers of a pool: their queues, their sleep, and the helping wait that keeps a worker
//! waiting for a task of its own pool from starving it (rayon-core's `registry.rs` and
//! `sleep/` are the model).
//!
//! Queues: one deque per worker and an injector for submits from outside the pool. A worker
//! takes from its own deque's back (newest first), then the injector's front, then the front
//! (oldest end) of the other workers' deques. A queue entry may be stale (its task was run by
//! a helping waiter or cancelled); running it does nothing.
//!
//! Sleep, without lost wake-ups: a worker that found nothing announces itself asleep (under
//! the sleep lock, counted in `sleepers`), then looks at every queue once more, and only then
//! waits. A submit pushes, then reads `sleepers`, then wakes one sleeper. Each queue is a
//! mutex, so either the worker's second look comes after the push (it sees the task) or the
//! push comes after it (the submit sees the count and wakes a sleeper).
//!
//! The detector sees every sleep: an idle worker waits for work from the pool (a cooperative
//! wait anyone may end: `Access::Work`), a helping worker waits for the result of its task,
//! and whoever wakes a sleeper grants its registration first, under the sleep lock.
//!
//! Invariant: a worker leaves only when the pool is terminating, every queue is empty and
//! every worker still there waits for work (none runs a task, which could submit more; as
//! rayon keeps its workers until the spawned work is done), and the last one to leave marks
//! the pool closed and ends whatever is still queued, so no task is ever left in a queue that
//! nobody will look at.

use super::job::{Cancel, JobRef};
use super::unwind;
use crate::detect::{self, CoopWait, ResourceMeta, WaiterToken, WakeBy};
use crate::facade::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::facade::sync::{Arc, Condvar, Mutex, MutexGuard};
use crate::report::Access;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::mem;
use std::panic::Location;

/// A pool's shared state.
pub(super) struct Registry {
    /// The pool, as idle workers wait for its work.
    meta: ResourceMeta,
    /// Where the pool was built: the site of its idle workers' waits.
    built_at: &'static Location<'static>,
    /// Tasks submitted from outside the pool.
    injector: Mutex<VecDeque<JobRef>>,
    /// Each worker's own tasks: it pushes and pops at the back, thieves take the front.
    locals: Box<[Mutex<VecDeque<JobRef>>]>,
    sleep: Mutex<Sleep>,
    /// Where each worker sleeps, under the `sleep` lock.
    wakes: Box<[Condvar]>,
    /// How many workers are asleep: written under the `sleep` lock, read by submits.
    sleepers: AtomicUsize,
    /// Set once the last worker has left: a task pushed then is ended by its submitter.
    closed: AtomicBool,
}

/// Who sleeps, and whether the pool is ending; behind `Registry::sleep`.
struct Sleep {
    naps: Box<[Nap]>,
    /// How many workers sleep idle (not helping).
    idle: usize,
    terminating: bool,
    /// Workers that have not left yet (or never started).
    running: usize,
}

/// One worker's sleep.
#[derive(Default)]
struct Nap {
    /// Asleep, and how; a waker takes it out.
    asleep: Option<Posture>,
    /// Something happened since the worker last looked (a wake, a task it waits for ended).
    woken: bool,
    /// The worker's registration with the detector while it sleeps, for its waker to grant.
    token: Option<WaiterToken>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Posture {
    Idle,
    Helping,
}

/// Why a worker sleeps.
enum Wait<'a> {
    /// For work (counted asleep, never itself judging: `CoopWait::begin_idle`).
    Idle,
    /// For the end of a wait on `meta` that only `wake_by` can end, entered at `at`.
    Helping {
        meta: &'a ResourceMeta,
        wake_by: WakeBy,
        at: &'static Location<'static>,
    },
}

/// How a sleep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Woke {
    /// A waker (or an event since the worker last looked) ended it.
    Nudged,
    /// There was work after all.
    Work,
    /// The pool is terminating, there is no work and no worker can make more: the worker
    /// leaves; `true` if it is the last.
    Exit(bool),
}

/// What a worker waits for while it helps.
pub(super) trait Awaited {
    /// Whether the wait is over.
    fn is_over(&self) -> bool;
    /// Runs one of the awaited tasks on this thread if it is still queued; whether it did.
    fn run_queued(&self) -> bool;
    /// Arranges for `wake` once the wait may be over. `None` if it is over already, else
    /// who can end it.
    fn subscribe(&self, wake: &WorkerWake) -> Option<WakeBy>;
    /// The resource the wait is on, for the detector.
    fn meta(&self) -> &ResourceMeta;
}

/// A worker to wake when a task it waits for ends.
#[derive(Clone)]
pub(super) struct WorkerWake {
    registry: Arc<Registry>,
    index: usize,
}

impl WorkerWake {
    pub(super) fn wake(&self) {
        self.registry.nudge(self.index);
    }

    pub(super) fn is(&self, other: &WorkerWake) -> bool {
        self.registry.id() == other.registry.id() && self.index == other.index
    }
}

/// The worker the current thread is, if it is one.
struct WorkerThread {
    registry: Arc<Registry>,
    index: usize,
}

crate::facade::per_thread! {
    static WORKER: RefCell<Option<WorkerThread>> = const { RefCell::new(None) };
}

/// The current thread as a worker of the pool whose registry is at `pool`, if it is one.
pub(super) fn current_worker(pool: usize) -> Option<(Arc<Registry>, usize)> {
    WORKER
        .try_with(|worker| {
            let worker = worker.borrow();
            let worker = worker.as_ref().filter(|w| w.registry.id() == pool)?;
            Some((Arc::clone(&worker.registry), worker.index))
        })
        .ok()
        .flatten()
}

/// A worker's whole life: work until the pool terminates, then leave.
pub(super) fn run_worker(registry: Arc<Registry>, index: usize) {
    WORKER.with(|worker| {
        *worker.borrow_mut() = Some(WorkerThread {
            registry: Arc::clone(&registry),
            index,
        });
    });
    let last = registry.work(index);
    WORKER.with(|worker| worker.borrow_mut().take());
    if last {
        registry.close();
    }
}

impl Registry {
    pub(super) fn new(
        workers: usize,
        meta: ResourceMeta,
        built_at: &'static Location<'static>,
    ) -> Arc<Registry> {
        Arc::new(Registry {
            meta,
            built_at,
            injector: Mutex::new(VecDeque::new()),
            locals: (0..workers).map(|_| Mutex::new(VecDeque::new())).collect(),
            sleep: Mutex::new(Sleep {
                naps: (0..workers).map(|_| Nap::default()).collect(),
                idle: 0,
                terminating: false,
                running: workers,
            }),
            wakes: (0..workers).map(|_| Condvar::new()).collect(),
            sleepers: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        })
    }

    /// The registry's address: the pool's identity for its tasks and workers.
    pub(super) fn id(&self) -> usize {
        self as *const Registry as usize
    }

    /// How many workers wait for work right now.
    pub(super) fn idle(&self) -> usize {
        self.sleep.lock().idle
    }

    /// Queues a task: on the calling worker's own deque, or the injector from outside; then
    /// wakes a sleeper, if there is one.
    pub(super) fn push(&self, job: JobRef) {
        match self.index_here() {
            Some(me) => self.locals[me].lock().push_back(job),
            None => self.injector.lock().push_back(job),
        }
        // Relaxed is enough: see the module docs (the queue's mutex orders the two sides).
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            self.wake_one();
        }
        if self.closed.load(Ordering::Acquire) {
            // Nobody is left to run it: end it (and anything else left) as shut down.
            self.cancel_queued(Cancel::ShutDown);
        }
    }

    /// The calling thread's index, if it is a worker of this pool.
    fn index_here(&self) -> Option<usize> {
        WORKER
            .try_with(|worker| {
                let worker = worker.borrow();
                let worker = worker.as_ref().filter(|w| w.registry.id() == self.id())?;
                Some(worker.index)
            })
            .ok()
            .flatten()
    }

    /// A worker's loop: run what there is, sleep when there is nothing, leave at the end.
    /// Returns whether it was the last worker to leave.
    fn work(&self, me: usize) -> bool {
        loop {
            if let Some(job) = self.find_work(me) {
                job.run();
                continue;
            }
            match self.nap(me, Wait::Idle) {
                Woke::Exit(last) => return last,
                Woke::Nudged | Woke::Work => {}
            }
        }
    }

    /// The next task for worker `me`: its own newest, the injector's oldest, another
    /// worker's oldest.
    fn find_work(&self, me: usize) -> Option<JobRef> {
        let own = self.locals[me].lock().pop_back();
        if own.is_some() {
            return own;
        }
        let injected = self.injector.lock().pop_front();
        if injected.is_some() {
            return injected;
        }
        let n = self.locals.len();
        (1..n)
            .map(|k| (me + k) % n)
            .find_map(|victim| self.locals[victim].lock().pop_front())
    }

    fn has_work(&self) -> bool {
        !self.injector.lock().is_empty() || self.locals.iter().any(|q| !q.lock().is_empty())
    }

    /// Worker `me`, of this pool, waits until `awaited` is over, running the awaited task
    /// itself if it is still queued, else any other queued task; it sleeps (a wait the
    /// detector sees) only when there is nothing to run.
    #[cold]
    #[track_caller]
    pub(super) fn help(
        this: &Arc<Registry>,
        me: usize,
        awaited: &dyn Awaited,
        at: &'static Location<'static>,
    ) {
        let wake = WorkerWake {
            registry: Arc::clone(this),
            index: me,
        };
        loop {
            if awaited.is_over() {
                return;
            }
            if awaited.run_queued() {
                continue;
            }
            if let Some(job) = this.find_work(me) {
                job.run();
                continue;
            }
            let Some(wake_by) = awaited.subscribe(&wake) else {
                return;
            };
            this.nap(
                me,
                Wait::Helping {
                    meta: awaited.meta(),
                    wake_by,
                    at,
                },
            );
        }
    }

    /// Worker `me` sleeps until woken, unless something happened or there is work.
    #[track_caller]
    fn nap(&self, me: usize, wait: Wait<'_>) -> Woke {
        let mut sleep = self.sleep.lock();
        if mem::take(&mut sleep.naps[me].woken) {
            return Woke::Nudged;
        }
        let posture = match wait {
            Wait::Idle => Posture::Idle,
            Wait::Helping { .. } => Posture::Helping,
        };
        // Announce, then look again (see the module docs); undone on every way out but a
        // waker's, including a report unwinding from the detector below.
        sleep.naps[me].asleep = Some(posture);
        if posture == Posture::Idle {
            sleep.idle += 1;
        }
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        let mut napping = Napping {
            registry: self,
            me,
            sleep: Some(sleep),
        };
        if self.has_work() {
            return Woke::Work;
        }
        if posture == Posture::Idle {
            let sleep = napping.state();
            if sleep.terminating && sleep.idle == sleep.running {
                // Every worker still here waits for work: nobody can make more. Leave, and
                // wake the others to find the same.
                sleep.running -= 1;
                let last = sleep.running == 0;
                for index in (0..sleep.naps.len()).filter(|&i| i != me) {
                    if sleep.naps[index].asleep == Some(Posture::Idle) {
                        self.wake(sleep, index);
                    }
                }
                return Woke::Exit(last);
            }
        }
        let mut waiting = match wait {
            Wait::Idle => CoopWait::begin_idle(&self.meta, Access::Work, self.built_at),
            Wait::Helping { meta, wake_by, at } => {
                CoopWait::begin(meta, Access::TaskResult, wake_by, at, false)
            }
        };
        napping.state().naps[me].token = waiting.token();
        let woken = waiting.wait_for(
            &self.sleep,
            &mut napping.sleep,
            &self.wakes[me],
            None,
            |sleep| {
                let nap = &mut sleep.naps[me];
                let woken = nap.asleep.is_none();
                if woken {
                    nap.woken = false;
                }
                woken
            },
        );
        debug_assert!(woken, "an untimed nap ends only when woken");
        Woke::Nudged
    }

    /// Wakes one sleeper, an idle one if there is one.
    fn wake_one(&self) {
        let mut sleep = self.sleep.lock();
        let sleep = &mut *sleep;
        let pick = sleep
            .naps
            .iter()
            .position(|nap| nap.asleep == Some(Posture::Idle))
            .or_else(|| sleep.naps.iter().position(|nap| nap.asleep.is_some()));
        if let Some(index) = pick {
            self.wake(sleep, index);
        }
    }

    /// Tells worker `index` that something happened (a task it waits for ended).
    fn nudge(&self, index: usize) {
        let mut sleep = self.sleep.lock();
        self.wake(&mut sleep, index);
    }

    /// Under the sleep lock: marks worker `index` woken and, if it sleeps, grants its wait
    /// and wakes it.
    fn wake(&self, sleep: &mut Sleep, index: usize) {
        let nap = &mut sleep.naps[index];
        nap.woken = true;
        if let Some(posture) = nap.asleep.take() {
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
            if posture == Posture::Idle {
                sleep.idle -= 1;
            }
            if let Some(token) = nap.token.take() {
                detect::grant(token);
            }
            self.wakes[index].notify_one();
        }
    }

    /// Starts the end: workers finish what is queued, then leave.
    pub(super) fn terminate(&self) {
        let mut sleep = self.sleep.lock();
        sleep.terminating = true;
        for index in 0..sleep.naps.len() {
            self.wake(&mut sleep, index);
        }
    }

    /// Ends every queued task that has not started; returns how many there were. Every one
    /// of them is ended even if dropping a closure panics (the first such panic goes on after).
    pub(super) fn cancel_queued(&self, why: Cancel) -> usize {
        let mut queued: Vec<JobRef> = self.injector.lock().drain(..).collect();
        for local in self.locals.iter() {
            queued.extend(local.lock().drain(..));
        }
        let (mut cancelled, mut panic) = (0, None);
        for job in queued {
            match unwind::halt_unwinding(|| job.cancel(why)) {
                Ok(was_queued) => cancelled += usize::from(was_queued),
                Err(payload) => {
                    cancelled += 1; // `cancel` ends the task before it re-raises
                    panic.get_or_insert(payload);
                }
            }
        }
        if let Some(payload) = panic {
            unwind::resume_unwinding(payload);
        }
        cancelled
    }

    /// `count` workers will never start (their threads could not be spawned).
    pub(super) fn never_started(&self, count: usize) {
        let last = {
            let mut sleep = self.sleep.lock();
            sleep.running -= count;
            sleep.running == 0
        };
        if last {
            self.close();
        }
    }

    /// After the last worker has left: marks the pool closed, then ends what is queued
    /// (nothing, unless a task was pushed as the last worker left).
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.cancel_queued(Cancel::ShutDown);
    }
}

/// A worker announced asleep, holding the sleep lock while it is not waiting. Dropped on any
/// way out but a waker's (which has already taken it out), it takes the worker out itself.
struct Napping<'a> {
    registry: &'a Registry,
    me: usize,
    sleep: Option<MutexGuard<'a, Sleep>>,
}

impl Napping<'_> {
    fn state(&mut self) -> &mut Sleep {
        self.sleep.as_mut().expect("a nap holds the sleep lock")
    }
}

impl Drop for Napping<'_> {
    fn drop(&mut self) {
        let Some(sleep) = &mut self.sleep else {
            return;
        };
        let sleep = &mut **sleep;
        let nap = &mut sleep.naps[self.me];
        nap.token = None;
        if let Some(posture) = nap.asleep.take() {
            self.registry.sleepers.fetch_sub(1, Ordering::Relaxed);
            if posture == Posture::Idle {
                sleep.idle -= 1;
            }
        }
    }
}
