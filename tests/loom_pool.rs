//! The pool under loom: the same code as the real pool (its locks, condition variables,
//! atomics, cells and threads come from the facade), explored over every interleaving up to
//! the preemption bound. One scenario per test, sized for CI (1 worker, 1-2 tasks, 2-3 loom
//! threads). Each checks: no task lost or run twice (counters), every handle's wait ends with
//! the right result, shutdown (the pool's drop) returns, and no deadlock (loom fails any
//! execution in which every thread is blocked).
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p impasse --release --test loom_pool
//! ```
//!
//! Deeper, locally: `LOOM_MAX_PREEMPTIONS=3` (minutes instead of seconds).

#![cfg(loom)]

use impasse::pool::{as_completed, TaskError, ThreadPool};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;

fn pool(threads: usize) -> ThreadPool {
    ThreadPool::builder()
        .num_threads(threads)
        .thread_name("loom")
        .build()
        .expect("a pool")
}

/// Keeps the expected panic of `a_panicking_task` from printing once per execution.
fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&"expected in loom") {
                default(info);
            }
        }));
    });
}

/// A task's value reaches its handle, whichever of submit, the worker's wake-up and the
/// handle's wait comes first; the task runs once.
#[test]
fn submit_and_result() {
    loom::model(|| {
        let pool = pool(1);
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let task = pool.submit(move || counted.fetch_add(1, Ordering::SeqCst) + 7);
        assert_eq!(task.result().unwrap(), 7);
        drop(pool);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

/// `cancel` races the worker's claim: exactly one wins. Either the task was cancelled and
/// never runs (its handle says `Cancelled`), or it ran and `cancel` returned `false`.
#[test]
fn cancel_racing_start() {
    loom::model(|| {
        let pool = pool(1);
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let task = pool.submit(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        let cancelled = task.cancel();
        let result = task.result();
        drop(pool); // finishes whatever is queued: a cancelled task still never runs
        match (cancelled, result) {
            (true, Err(TaskError::Cancelled)) => assert_eq!(runs.load(Ordering::SeqCst), 0),
            (false, Ok(())) => assert_eq!(runs.load(Ordering::SeqCst), 1),
            (cancelled, result) => panic!("cancel said {cancelled}, the task {result:?}"),
        }
    });
}

/// A submit from another thread races the pool's end (the last owner's drop shuts it down):
/// the task still runs, once, before the workers leave, and both threads finish.
#[test]
fn shutdown_racing_submit() {
    loom::model(|| {
        let pool = Arc::new(pool(1));
        let runs = Arc::new(AtomicUsize::new(0));
        let submitter = {
            let (pool, runs) = (pool.clone(), runs.clone());
            loom::thread::spawn(move || {
                let task = pool.submit(move || runs.fetch_add(1, Ordering::SeqCst));
                drop(pool); // maybe the last owner: then this thread shuts the pool down
                task.result()
            })
        };
        drop(pool);
        assert_eq!(submitter.join().unwrap().unwrap(), 0);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

/// A panicking task: its handle gets the panic, and the worker survives to run the next.
#[test]
fn a_panicking_task() {
    quiet_expected_panics();
    loom::model(|| {
        let pool = pool(1);
        let failing = pool.submit(|| -> u32 { panic!("expected in loom") });
        let next = pool.submit(|| 2);
        match failing.result() {
            Err(TaskError::Panicked(panic)) => assert_eq!(panic.message(), "expected in loom"),
            other => panic!("expected the task's panic, got {other:?}"),
        }
        assert_eq!(next.result().unwrap(), 2);
    });
}

/// A task waits for a task it submitted, on a pool of one worker: the only way the child
/// runs is that the waiting worker runs it itself (helping). Must complete in every
/// interleaving, however the child's queue entry, the worker's sleep and the waits meet.
#[test]
fn a_nested_wait_is_helped_on_one_worker() {
    loom::model(|| {
        let pool = Arc::new(pool(1));
        let runs = Arc::new(AtomicUsize::new(0));
        let outer = {
            let (inner, runs) = (pool.clone(), runs.clone());
            pool.submit(move || {
                let child = {
                    let runs = runs.clone();
                    inner.submit(move || runs.fetch_add(1, Ordering::SeqCst))
                };
                runs.fetch_add(1, Ordering::SeqCst);
                child.result().unwrap()
            })
        };
        let seen = outer.result().unwrap();
        assert!(seen <= 1);
        drop(pool);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    });
}

/// Two workers: a task submits a child to its own worker's queue and waits for it, while the
/// other worker may steal it. The waiting worker's claim (helping) and the thief's race; the
/// child runs exactly once, and the parent's wait ends either way.
#[test]
fn helping_racing_a_thief() {
    loom::model(|| {
        let pool = Arc::new(pool(2));
        let runs = Arc::new(AtomicUsize::new(0));
        let parent = {
            let (inner, runs) = (pool.clone(), runs.clone());
            pool.submit(move || {
                let child = inner.submit(move || runs.fetch_add(1, Ordering::SeqCst));
                drop(inner);
                child.result().unwrap()
            })
        };
        assert_eq!(parent.result().unwrap(), 0);
        drop(pool);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

/// `as_completed` over two tasks: each end reaches the waiting thread exactly once, whether
/// it comes before the subscription, during the wait, or between two `next`s.
#[test]
fn as_completed_sees_every_end_once() {
    loom::model(|| {
        let pool = pool(1);
        let tasks = vec![pool.submit(|| 1), pool.submit(|| 2)];
        let mut seen: Vec<u32> = as_completed(tasks).map(|t| t.result().unwrap()).collect();
        seen.sort_unstable();
        assert_eq!(seen, [1, 2]);
    });
}
