//! A thread pool in the spirit of Python's `concurrent.futures`: submit closures, get
//! handles, wait for them one by one, in completion order or all at once; map over items;
//! borrow from the stack in a scope. Work-stealing underneath, and two things a plain
//! executor does not give you:
//!
//! - **No starvation deadlock.** A task that waits for another task of its own pool does not
//!   idle its worker: the worker runs the awaited task itself if it is still queued, or other
//!   queued tasks, while it waits (as rayon and Java's `ForkJoinPool` do; Python's
//!   `ThreadPoolExecutor` deadlocks here). Recursive fork-join works on any number of workers.
//! - **Real deadlocks are reported, at once.** Every wait is one the detector sees: waiting
//!   for a running task is waiting for the thread that runs it. Two tasks waiting for each
//!   other, or a submitter holding a lock its task needs, are reported inside the blocking
//!   call that closes the cycle, with the threads, the tasks' submit lines and the locks.
//!
//! ```
//! use impasse::pool::{as_completed, Scope, ThreadPool};
//!
//! let pool = ThreadPool::builder().num_threads(2).thread_name("doc").build()?;
//!
//! // Submit and wait.
//! let answer = pool.submit(|| 6 * 7);
//! assert_eq!(answer.result()?, 42);
//!
//! // Results in input order; a panic costs only its own item.
//! let roots: Vec<_> = pool
//!     .map([4.0_f64, 9.0, -1.0], |x: f64| if x < 0.0 { panic!("negative") } else { x.sqrt() })
//!     .collect();
//! assert_eq!(roots[1].as_ref().unwrap(), &3.0);
//! assert!(roots[2].is_err());
//!
//! // Handles in the order their tasks end.
//! let tasks = (1..=3).map(|i| pool.submit(move || i));
//! let total: i32 = as_completed(tasks).map(|t| t.result().unwrap()).sum();
//! assert_eq!(total, 6);
//!
//! // Borrowing work, like `std::thread::scope`.
//! let mut halves = [0u64; 2];
//! let numbers: Vec<u64> = (1..=100).collect();
//! pool.scope(|s| {
//!     let (low, high) = halves.split_at_mut(1);
//!     s.submit(|| low[0] = numbers[..50].iter().sum());
//!     s.submit(|| high[0] = numbers[50..].iter().sum());
//! });
//! assert_eq!(halves[0] + halves[1], 5050);
//!
//! // Fork-join inside tasks: a waiting worker runs the children itself.
//! fn fib<'s>(s: &'s Scope<'s, '_>, n: u64) -> u64 {
//!     if n < 2 {
//!         return n;
//!     }
//!     let a = s.submit(move || fib(s, n - 1));
//!     let b = s.submit(move || fib(s, n - 2));
//!     a.result().unwrap() + b.result().unwrap()
//! }
//! assert_eq!(pool.scope(|s| fib(s, 15)), 610);
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```
//!
//! The guide's page (`docs/pool.md`) explains helping, what the detector reports, and how the
//! pool compares with `concurrent.futures`.

mod handle;
mod job;
mod map;
mod registry;
mod scope;
mod unwind;
mod wait;

pub use self::handle::{TaskError, TaskHandle};
pub use self::map::Map;
pub use self::scope::{Scope, ScopedTaskHandle};
pub use self::unwind::Panic;
pub use self::wait::{as_completed, wait, wait_timeout, AsCompleted, ReturnWhen};

use self::handle::Handle;
use self::job::{Cancel, JobRef, TaskCell};
use self::registry::Registry;
use crate::detect::ResourceMeta;
use crate::facade::sync::Arc;
use crate::report::ResourceKind;
use crate::thread::{Builder as ThreadBuilder, JoinHandle};
use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::io;
use std::panic::Location;

/// A pool of worker threads running submitted tasks. See the [module docs](self).
///
/// Dropping the pool finishes every queued task, then joins the workers, as
/// [`shutdown`](ThreadPool::shutdown) does: no task is lost silently.
pub struct ThreadPool {
    registry: Arc<Registry>,
    workers: Vec<JoinHandle<()>>,
}

impl ThreadPool {
    /// A pool of `num_threads` workers, named `pool-0`, `pool-1`, ...
    ///
    /// # Panics
    ///
    /// If `num_threads` is 0 or the operating system refuses a thread; use
    /// [`ThreadPool::builder`] to handle those as errors.
    ///
    /// ```
    /// let pool = impasse::pool::ThreadPool::new(2);
    /// assert_eq!(pool.num_threads(), 2);
    /// ```
    #[track_caller]
    pub fn new(num_threads: usize) -> ThreadPool {
        match Builder::new().num_threads(num_threads).build() {
            Ok(pool) => pool,
            Err(error) => panic!("{error}"),
        }
    }

    /// A [`Builder`], to choose the number of threads, their names and the pool's name.
    ///
    /// ```
    /// let pool = impasse::pool::ThreadPool::builder().num_threads(3).build().unwrap();
    /// assert_eq!(pool.num_threads(), 3);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// How many worker threads the pool has.
    ///
    /// ```
    /// assert_eq!(impasse::pool::ThreadPool::new(1).num_threads(), 1);
    /// ```
    pub fn num_threads(&self) -> usize {
        self.workers.len()
    }

    /// How many workers wait for work at this moment (a snapshot, as Java's
    /// `ForkJoinPool` gives: for monitoring, and for tests that must know the pool is quiet).
    ///
    /// ```
    /// let pool = impasse::pool::ThreadPool::new(2);
    /// assert!(pool.idle_threads() <= 2);
    /// ```
    pub fn idle_threads(&self) -> usize {
        self.registry.idle()
    }

    /// Submits `f` and returns its handle. The task's creation site, in reports, is the
    /// caller's line.
    ///
    /// Called on one of the pool's workers (from inside a task), the task goes to that
    /// worker's own queue, where it runs next on that worker unless another steals it.
    ///
    /// ```
    /// let pool = impasse::pool::ThreadPool::new(2);
    /// let task = pool.submit(|| "hello from the pool");
    /// assert_eq!(task.result().unwrap(), "hello from the pool");
    /// ```
    #[track_caller]
    pub fn submit<F, T>(&self, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_at(f, Location::caller())
    }

    fn submit_at<F, T>(&self, f: F, at: &'static Location<'static>) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let cell = std::sync::Arc::new(TaskCell::new(f, at, self.registry.id()));
        let job: JobRef = std::sync::Arc::clone(&cell) as _;
        self.registry.push(job);
        TaskHandle::new(Handle::new(cell))
    }

    /// Runs `f` on every item in parallel, one task per item; the results come in input
    /// order, each `Err` if its item's call panicked.
    ///
    /// ```
    /// let pool = impasse::pool::ThreadPool::new(2);
    /// let squares: Vec<u32> = pool.map(1..=4u32, |n| n * n).map(Result::unwrap).collect();
    /// assert_eq!(squares, [1, 4, 9, 16]);
    /// ```
    #[track_caller]
    pub fn map<I, R, F>(&self, items: impl IntoIterator<Item = I>, f: F) -> Map<R>
    where
        I: Send + 'static,
        R: Send + 'static,
        F: Fn(I) -> R + Send + Sync + 'static,
    {
        map::each(self, items, f, Location::caller())
    }

    /// [`map`](ThreadPool::map) for tiny items: `chunk_size` items per task (0 counts as 1),
    /// results still one per item and in input order.
    ///
    /// ```
    /// let pool = impasse::pool::ThreadPool::new(2);
    /// let results = pool.map_chunked(0..1000u64, 100, |n| {
    ///     assert!(n != 500, "no 500 please");
    ///     n
    /// });
    /// let (ok, failed): (Vec<_>, Vec<_>) = results.partition(Result::is_ok);
    /// assert_eq!((ok.len(), failed.len()), (999, 1));
    /// ```
    #[track_caller]
    pub fn map_chunked<I, R, F>(
        &self,
        items: impl IntoIterator<Item = I>,
        chunk_size: usize,
        f: F,
    ) -> Map<R>
    where
        I: Send + 'static,
        R: Send + 'static,
        F: Fn(I) -> R + Send + Sync + 'static,
    {
        map::chunked(self, items, chunk_size, f, Location::caller())
    }

    /// Runs `f` with a [`Scope`] whose tasks may borrow from the caller's stack, as
    /// `std::thread::scope`. Every task submitted in the scope is over when `scope` returns
    /// (the wait helps if the caller is a worker of this pool). If a task panicked and its
    /// result was not taken, `scope` panics with that task's payload once all are over; a
    /// panic of `f` itself takes precedence.
    ///
    /// ```
    /// let pool = impasse::pool::ThreadPool::new(2);
    /// let mut counts = [0usize; 2];
    /// let text = "tasks in a scope may borrow";
    /// pool.scope(|s| {
    ///     let (words, letters) = counts.split_at_mut(1);
    ///     s.submit(|| words[0] = text.split(' ').count());
    ///     s.submit(|| letters[0] = text.len());
    /// });
    /// assert_eq!(counts, [6, 27]);
    /// ```
    ///
    /// A deadlock found while the scope's end waits is reported as usual, but the report is
    /// raised only once every task is over (the tasks may still use what they borrow); if
    /// none of them can end, the process hangs after the report.
    #[track_caller]
    pub fn scope<'env, F, R>(&self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        scope::run(Arc::clone(&self.registry), Location::caller(), f)
    }

    /// Finishes every queued task, then joins the workers. (Dropping the pool does the
    /// same.)
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let pool = impasse::pool::ThreadPool::new(2);
    /// let ran = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..100 {
    ///     let ran = ran.clone();
    ///     pool.submit(move || ran.fetch_add(1, Ordering::Relaxed));
    /// }
    /// pool.shutdown();
    /// assert_eq!(ran.load(Ordering::Relaxed), 100);
    /// ```
    #[track_caller]
    pub fn shutdown(mut self) {
        self.finish();
    }

    /// Cancels every queued task that has not started (their handles give
    /// `Err(TaskError::Cancelled)`), waits for the running ones, joins the workers, and
    /// returns how many were cancelled.
    ///
    /// ```
    /// use impasse::pool::{TaskError, ThreadPool};
    /// use std::sync::mpsc;
    ///
    /// let pool = ThreadPool::new(1);
    /// let (started, running) = mpsc::channel();
    /// let (hold, released) = mpsc::channel::<()>();
    /// let busy = pool.submit(move || {
    ///     started.send(()).unwrap();
    ///     released.recv().is_err() // until every sender is dropped
    /// });
    /// running.recv().unwrap(); // the only worker runs `busy`
    /// let queued = pool.submit(move || drop(hold)); // holds the last sender
    /// let more: Vec<_> = (0..2).map(|_| pool.submit(|| ())).collect();
    /// // Cancelling `queued` drops its closure, and `hold` with it: `busy` ends.
    /// assert_eq!(pool.shutdown_now(), 3);
    /// assert!(busy.result().unwrap());
    /// assert!(matches!(queued.result(), Err(TaskError::Cancelled)));
    /// assert!(more.into_iter().all(|t| matches!(t.result(), Err(TaskError::Cancelled))));
    /// ```
    #[track_caller]
    pub fn shutdown_now(mut self) -> usize {
        let cancelled = self.registry.cancel_queued(Cancel::Cancelled);
        self.finish();
        cancelled
    }

    /// Terminates and joins the workers (once). On one of the pool's own workers (the last
    /// owner dropped it inside a task) it cannot join itself: the workers are left to finish
    /// the queued work and leave on their own.
    #[track_caller]
    fn finish(&mut self) {
        self.registry.terminate();
        if registry::current_worker(self.registry.id()).is_some() {
            self.workers.clear();
            return;
        }
        let mut failed = None;
        for worker in self.workers.drain(..) {
            if let Err(payload) = worker.join() {
                failed.get_or_insert(payload);
            }
        }
        if let Some(payload) = failed {
            if !std::thread::panicking() {
                unwind::resume_unwinding(payload);
            }
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.finish();
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("num_threads", &self.workers.len())
            .finish_non_exhaustive()
    }
}

/// Configures a [`ThreadPool`]: how many threads, their names, the pool's name in reports.
///
/// ```
/// use impasse::pool::ThreadPool;
///
/// let pool = ThreadPool::builder()
///     .num_threads(2)
///     .thread_name("crunch") // workers "crunch-0", "crunch-1"
///     .named("number cruncher") // the pool in reports
///     .build()
///     .expect("two threads");
/// let worker = pool.submit(|| std::thread::current().name().map(str::to_owned));
/// assert!(worker.result().unwrap().unwrap().starts_with("crunch-"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    num_threads: Option<usize>,
    thread_name: Option<String>,
    name: Option<String>,
}

impl Builder {
    /// The defaults: as many threads as the machine's available parallelism, named
    /// `pool-<i>`, an unnamed pool (reports name it by its creation site).
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The number of worker threads; 0 makes [`build`](Builder::build) fail.
    pub fn num_threads(mut self, num_threads: usize) -> Builder {
        self.num_threads = Some(num_threads);
        self
    }

    /// The workers' name prefix: worker `i` is named `<prefix>-<i>` (default: the pool's
    /// name if it has one, else `pool`).
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Builder {
        self.thread_name = Some(prefix.into());
        self
    }

    /// The pool's name in reports, where idle workers "wait for work from pool ..." (default:
    /// the thread name prefix if one was given, else the line that built the pool).
    pub fn named(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Spawns the workers (through [`impasse::thread`](crate::thread), so they join the
    /// calling thread's world) and returns the pool. Fails if the number of threads is 0 or
    /// the operating system refuses a thread; the workers already started are then joined.
    ///
    /// ```
    /// use impasse::pool::ThreadPool;
    ///
    /// let error = ThreadPool::builder().num_threads(0).build().unwrap_err();
    /// assert_eq!(error.to_string(), "impasse: a thread pool needs at least one thread");
    /// ```
    #[track_caller]
    pub fn build(self) -> Result<ThreadPool, BuildError> {
        let at = Location::caller();
        let num_threads = match self.num_threads {
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if num_threads == 0 {
            return Err(BuildError {
                kind: BuildErrorKind::NoThreads,
            });
        }
        // Named in reports by its name, else by its threads' prefix, else by its build line.
        let meta = match self.name.as_ref().or(self.thread_name.as_ref()) {
            Some(name) => ResourceMeta::named(ResourceKind::Pool, at, Cow::Owned(name.clone())),
            None => ResourceMeta::new(ResourceKind::Pool, at),
        };
        let prefix = self
            .thread_name
            .or(self.name)
            .unwrap_or_else(|| String::from("pool"));
        let registry = Registry::new(num_threads, meta, at);
        let mut pool = ThreadPool {
            registry,
            workers: Vec::with_capacity(num_threads),
        };
        for index in 0..num_threads {
            let registry = Arc::clone(&pool.registry);
            let spawned = ThreadBuilder::new()
                .name(format!("{prefix}-{index}"))
                .spawn(move || registry::run_worker(registry, index));
            match spawned {
                Ok(worker) => pool.workers.push(worker),
                Err(error) => {
                    pool.registry.never_started(num_threads - index);
                    drop(pool); // joins the workers started so far
                    return Err(BuildError {
                        kind: BuildErrorKind::Spawn { index, error },
                    });
                }
            }
        }
        Ok(pool)
    }
}

/// Why [`Builder::build`] failed.
#[derive(Debug)]
pub struct BuildError {
    kind: BuildErrorKind,
}

#[derive(Debug)]
enum BuildErrorKind {
    NoThreads,
    Spawn { index: usize, error: io::Error },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildErrorKind::NoThreads => {
                f.write_str("impasse: a thread pool needs at least one thread")
            }
            BuildErrorKind::Spawn { index, error } => {
                write!(f, "impasse: could not spawn pool worker {index}: {error}")
            }
        }
    }
}

impl Error for BuildError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.kind {
            BuildErrorKind::NoThreads => None,
            BuildErrorKind::Spawn { error, .. } => Some(error),
        }
    }
}
