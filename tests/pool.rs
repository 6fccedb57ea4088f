//! The pool's behaviour: results, panics, cancellation, timeouts, `wait`/`as_completed`,
//! `map`, `scope`, shutdown, helping (fork-join on two workers), stealing, many tiny tasks.
//! Orchestrated with channels and barriers, never with sleeps.

#![cfg(not(loom))]

mod common;

use common::{pool, pool_fib, watchdog};
use impasse::pool::{
    as_completed, wait, wait_timeout, ReturnWhen, Scope, TaskError, TaskHandle, ThreadPool,
};
use std::collections::HashSet;
use std::error::Error;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::Duration;

/// A task that tells it started, then runs until released (or until its release is dropped).
fn gated(pool: &ThreadPool) -> (TaskHandle<()>, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (started_tx, started) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let task = pool.submit(move || {
        started_tx.send(()).unwrap();
        let _ = released.recv();
    });
    (task, started, release)
}

#[test]
fn submit_and_take_the_result() {
    let _watchdog = watchdog("submit_and_take_the_result");
    let pool = pool(2, "basic");
    let tasks: Vec<_> = (0..20u64).map(|n| pool.submit(move || n * n)).collect();
    let squares: Vec<u64> = tasks.into_iter().map(|t| t.result().unwrap()).collect();
    assert_eq!(squares, (0..20u64).map(|n| n * n).collect::<Vec<_>>());
    assert_eq!(pool.num_threads(), 2);
}

#[test]
fn a_panic_reaches_the_handle_and_the_pool_keeps_working() {
    let _watchdog = watchdog("a_panic_reaches_the_handle_and_the_pool_keeps_working");
    let pool = pool(1, "panicky");
    let which = std::hint::black_box(7);
    let err = pool
        .submit(move || -> u32 { panic!("task {which} failed") })
        .result()
        .unwrap_err();
    let TaskError::Panicked(panic) = err else {
        panic!("expected a panic, got {err:?}");
    };
    assert_eq!(panic.message(), "task 7 failed");
    assert_eq!(
        *panic.into_payload().downcast::<String>().unwrap(),
        "task 7 failed"
    );
    let opaque = pool.submit(|| panic::panic_any(42u8)).result().unwrap_err();
    match opaque {
        TaskError::Panicked(panic) => {
            assert!(panic.message().contains("not a string"), "{panic}");
            let resumed = panic::catch_unwind(AssertUnwindSafe(|| panic.resume()));
            assert_eq!(*resumed.unwrap_err().downcast::<u8>().unwrap(), 42);
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    // The only worker survived both.
    assert_eq!(pool.submit(|| "still here").result().unwrap(), "still here");
}

#[test]
fn task_errors_are_displayable_send_sync_errors() {
    fn is_error<E: Error + Send + Sync + 'static>(_: &E) {}
    let pool = pool(1, "errors");
    let err = pool.submit(|| panic!("oops")).result().unwrap_err();
    is_error(&err);
    assert_eq!(err.to_string(), "the task panicked: oops");
    assert_eq!(
        TaskError::Cancelled.to_string(),
        "the task was cancelled before it started"
    );
    assert_eq!(
        TaskError::TimedOut.to_string(),
        "the task did not finish in time"
    );
    let boxed: Box<dyn Error + Send + Sync> = Box::new(TaskError::Taken);
    assert!(boxed.to_string().contains("taken"));
}

#[test]
fn cancel_before_start_means_the_task_never_runs() {
    let _watchdog = watchdog("cancel_before_start_means_the_task_never_runs");
    let pool = pool(1, "cancel");
    let (busy, started, release) = gated(&pool);
    started.recv().unwrap(); // the only worker is busy: what follows stays queued
    let ran = Arc::new(AtomicUsize::new(0));
    let queued = {
        let ran = ran.clone();
        pool.submit(move || ran.fetch_add(1, Ordering::SeqCst))
    };
    assert!(!queued.is_done());
    assert!(queued.cancel());
    assert!(queued.is_done());
    assert!(!queued.cancel(), "a task is cancelled once");
    release.send(()).unwrap();
    busy.result().unwrap();
    assert!(matches!(queued.result(), Err(TaskError::Cancelled)));
    pool.shutdown();
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn cancel_after_start_is_refused_and_the_task_finishes() {
    let _watchdog = watchdog("cancel_after_start_is_refused_and_the_task_finishes");
    let pool = pool(1, "started");
    let (task, started, release) = gated(&pool);
    started.recv().unwrap();
    assert!(!task.cancel());
    release.send(()).unwrap();
    assert!(task.result().is_ok());
}

#[test]
fn result_timeout_times_out_then_succeeds_then_says_taken() {
    let _watchdog = watchdog("result_timeout_times_out_then_succeeds_then_says_taken");
    let pool = pool(1, "timeout");
    let (go, wait_for_go) = mpsc::channel::<u32>();
    let mut task = pool.submit(move || wait_for_go.recv().unwrap());
    assert!(matches!(
        task.result_timeout(Duration::from_millis(20)),
        Err(TaskError::TimedOut)
    ));
    assert!(!task.wait_timeout(Duration::from_millis(5)));
    go.send(5).unwrap();
    assert_eq!(task.result_timeout(Duration::from_secs(10)).unwrap(), 5);
    assert!(task.wait_timeout(Duration::ZERO));
    assert!(matches!(
        task.result_timeout(Duration::ZERO),
        Err(TaskError::Taken)
    ));
    assert!(matches!(task.result(), Err(TaskError::Taken)));
}

#[test]
fn wait_first_completed_returns_with_the_one_that_finished() {
    let _watchdog = watchdog("wait_first_completed_returns_with_the_one_that_finished");
    let pool = pool(3, "first");
    let (slow_a, started_a, release_a) = gated(&pool);
    let (slow_b, started_b, release_b) = gated(&pool);
    started_a.recv().unwrap();
    started_b.recv().unwrap();
    let (go, wait_for_go) = mpsc::channel::<()>();
    let quick = pool.submit(move || wait_for_go.recv().unwrap());
    let handles = vec![slow_a, quick, slow_b];
    go.send(()).unwrap();
    let (done, not_done) = wait(&handles, ReturnWhen::FirstCompleted);
    assert_eq!((done, not_done), (vec![1], vec![0, 2]));
    release_a.send(()).unwrap();
    release_b.send(()).unwrap();
    let (done, not_done) = wait(&handles, ReturnWhen::AllCompleted);
    assert_eq!((done, not_done), (vec![0, 1, 2], vec![]));
}

#[test]
fn wait_first_exception_returns_at_the_first_panic() {
    let _watchdog = watchdog("wait_first_exception_returns_at_the_first_panic");
    let pool = pool(2, "exception");
    let (slow, started, release) = gated(&pool);
    started.recv().unwrap();
    let (go, wait_for_go) = mpsc::channel::<()>();
    let failing = pool.submit(move || {
        wait_for_go.recv().unwrap();
        panic!("the first exception")
    });
    let handles = vec![slow, failing];
    go.send(()).unwrap();
    let (done, not_done) = wait(&handles, ReturnWhen::FirstException);
    assert_eq!((done, not_done), (vec![1], vec![0]));
    release.send(()).unwrap();
    let mut handles = handles.into_iter();
    assert!(handles.next().unwrap().result().is_ok());
    assert!(matches!(
        handles.next().unwrap().result(),
        Err(TaskError::Panicked(_))
    ));
}

#[test]
fn wait_first_exception_without_one_waits_for_all() {
    let _watchdog = watchdog("wait_first_exception_without_one_waits_for_all");
    let pool = pool(2, "no-exception");
    let handles: Vec<_> = (0..8).map(|i| pool.submit(move || i)).collect();
    let (done, not_done) = wait(&handles, ReturnWhen::FirstException);
    assert_eq!(done, (0..8).collect::<Vec<_>>());
    assert!(not_done.is_empty());
    let empty: Vec<TaskHandle<()>> = Vec::new();
    assert_eq!(wait(&empty, ReturnWhen::FirstCompleted), (vec![], vec![]));
}

#[test]
fn wait_timeout_gives_up_with_what_is_not_done() {
    let _watchdog = watchdog("wait_timeout_gives_up_with_what_is_not_done");
    let pool = pool(2, "wait-timeout");
    let (slow, started, release) = gated(&pool);
    started.recv().unwrap();
    let quick = pool.submit(|| ());
    quick.wait();
    let handles = vec![slow, quick];
    let short = Duration::from_millis(20);
    assert_eq!(
        wait_timeout(&handles, ReturnWhen::AllCompleted, short),
        (vec![1], vec![0])
    );
    assert_eq!(
        wait_timeout(&handles, ReturnWhen::FirstException, short),
        (vec![1], vec![0])
    );
    let only_slow = &handles[..1];
    assert_eq!(
        wait_timeout(only_slow, ReturnWhen::FirstCompleted, short),
        (vec![], vec![0])
    );
    release.send(()).unwrap();
    assert_eq!(
        wait_timeout(&handles, ReturnWhen::AllCompleted, Duration::from_secs(10)),
        (vec![0, 1], vec![])
    );
}

#[test]
fn as_completed_yields_in_completion_order() {
    let _watchdog = watchdog("as_completed_yields_in_completion_order");
    let pool = pool(3, "order");
    let mut releases = Vec::new();
    let mut handles = Vec::new();
    for i in 0..3usize {
        let (release, released) = mpsc::channel::<()>();
        releases.push(release);
        handles.push(pool.submit(move || {
            released.recv().unwrap();
            i
        }));
    }
    let mut completed = as_completed(handles);
    assert_eq!(completed.len(), 3);
    for i in [2, 0, 1] {
        releases[i].send(()).unwrap();
        let next = completed.next().expect("a handle per task");
        assert_eq!(next.result().unwrap(), i);
    }
    assert!(completed.next().is_none());
}

#[test]
fn as_completed_puts_finished_tasks_first() {
    let _watchdog = watchdog("as_completed_puts_finished_tasks_first");
    let pool = pool(2, "finished-first");
    let (slow, started, release) = gated(&pool);
    started.recv().unwrap();
    let quick = pool.submit(|| ());
    quick.wait();
    let mut completed = as_completed(vec![slow, quick]);
    assert!(completed.next().unwrap().is_done());
    release.send(()).unwrap();
    assert!(completed.next().unwrap().result().is_ok());
    assert!(completed.next().is_none());
}

#[test]
fn map_keeps_input_order_with_an_error_per_failed_item() {
    let _watchdog = watchdog("map_keeps_input_order_with_an_error_per_failed_item");
    let pool = pool(2, "map");
    let results: Vec<_> = pool
        .map(0..50u32, |n| {
            assert!(n % 10 != 3, "item {n} fails");
            n * 2
        })
        .collect();
    assert_eq!(results.len(), 50);
    for (n, result) in (0..50u32).zip(&results) {
        match result {
            Ok(doubled) => assert_eq!(*doubled, n * 2),
            Err(TaskError::Panicked(panic)) => {
                assert_eq!(n % 10, 3);
                assert_eq!(panic.message(), format!("item {n} fails"));
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 5);
}

#[test]
fn map_chunked_runs_chunks_but_answers_per_item() {
    let _watchdog = watchdog("map_chunked_runs_chunks_but_answers_per_item");
    let pool = pool(2, "chunks");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let results = pool.map_chunked(0..1003u64, 100, move |n| {
        counted.fetch_add(1, Ordering::Relaxed);
        assert!(n != 555, "no 555");
        n + 1
    });
    assert_eq!(results.len(), 1003);
    let results: Vec<_> = results.collect();
    assert_eq!(calls.load(Ordering::Relaxed), 1003);
    for (n, result) in (0..1003u64).zip(results) {
        match result {
            Ok(value) => assert_eq!(value, n + 1),
            Err(TaskError::Panicked(panic)) => {
                assert_eq!(n, 555);
                assert_eq!(panic.message(), "no 555");
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    // A chunk size of 0 counts as 1; an empty input yields nothing.
    let one_by_one: Vec<u8> = pool
        .map_chunked([1u8, 2, 3], 0, |n| n)
        .map(Result::unwrap)
        .collect();
    assert_eq!(one_by_one, [1, 2, 3]);
    assert_eq!(pool.map_chunked(Vec::<u8>::new(), 10, |n| n).count(), 0);
}

#[test]
fn scope_tasks_borrow_stack_data() {
    let _watchdog = watchdog("scope_tasks_borrow_stack_data");
    let pool = pool(2, "scope");
    let mut cells = vec![0u64; 64];
    let factor = 3u64;
    let total: u64 = pool.scope(|s| {
        for (i, chunk) in cells.chunks_mut(8).enumerate() {
            s.submit(move || {
                for (j, cell) in chunk.iter_mut().enumerate() {
                    *cell = (i * 8 + j) as u64 * factor;
                }
            });
        }
        let counted = s.submit(|| factor * 2);
        counted.result().unwrap()
    });
    assert_eq!(total, 6);
    assert_eq!(cells, (0..64).map(|n| n * 3).collect::<Vec<u64>>());
}

#[test]
fn scope_reraises_a_panic_after_every_task_is_over() {
    let _watchdog = watchdog("scope_reraises_a_panic_after_every_task_is_over");
    let pool = pool(2, "scope-panic");
    let finished = AtomicUsize::new(0);
    let barrier = Barrier::new(2);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.submit(|| {
                barrier.wait();
                panic!("scoped failure")
            });
            s.submit(|| {
                barrier.wait();
                finished.fetch_add(1, Ordering::SeqCst);
            });
        })
    }));
    let payload = outcome.expect_err("the scope re-raises the task's panic");
    assert_eq!(common::panic_text(&*payload), "scoped failure");
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    // A panic whose result was taken is not re-raised.
    let taken = pool.scope(|s| s.submit(|| panic!("taken")).result().is_err());
    assert!(taken);
}

#[test]
fn scoped_fork_join_fibonacci() {
    fn fib<'s>(s: &'s Scope<'s, '_>, n: u64) -> u64 {
        if n < 2 {
            return n;
        }
        let a = s.submit(move || fib(s, n - 1));
        let b = s.submit(move || fib(s, n - 2));
        a.result().unwrap() + b.result().unwrap()
    }
    let _watchdog = watchdog("scoped_fork_join_fibonacci");
    let pool = pool(2, "scoped-fib");
    assert_eq!(pool.scope(|s| fib(s, 18)), 2584);
}

#[test]
fn nested_fork_join_fibonacci_completes_on_two_workers() {
    let _watchdog = watchdog("nested_fork_join_fibonacci_completes_on_two_workers");
    let pool = Arc::new(pool(2, "fib"));
    let root = {
        let pool = pool.clone();
        pool.clone().submit(move || pool_fib(&pool, 20))
    };
    assert_eq!(root.result().unwrap(), 6765);
    // Every task held a clone of the pool and has finished: this is the last one.
    Arc::try_unwrap(pool)
        .expect("no task holds the pool")
        .shutdown();
}

#[test]
fn a_worker_waiting_for_a_task_queued_behind_it_runs_it() {
    let _watchdog = watchdog("a_worker_waiting_for_a_task_queued_behind_it_runs_it");
    let pool = Arc::new(pool(1, "alone"));
    let inner = pool.clone();
    let outer = pool.submit(move || {
        let me = std::thread::current().name().map(str::to_owned);
        let child = inner.submit(|| std::thread::current().name().map(str::to_owned));
        let mut timed = inner.submit(|| 7);
        // The one worker is busy right here: only helping can run the children.
        (
            me,
            child.result().unwrap(),
            timed.result_timeout(Duration::from_secs(10)),
        )
    });
    let (outer_name, child_name, timed) = outer.result().unwrap();
    assert_eq!(outer_name.as_deref(), Some("alone-0"));
    assert_eq!(child_name, outer_name);
    assert_eq!(timed.unwrap(), 7);
}

#[test]
fn waits_inside_a_task_of_a_one_worker_pool_help() {
    let _watchdog = watchdog("waits_inside_a_task_of_a_one_worker_pool_help");
    let pool = Arc::new(pool(1, "helper"));
    let inner = pool.clone();
    let outer = pool.submit(move || {
        // The only worker waits here: every child runs only because the wait helps.
        let first: Vec<_> = (0..3u32).map(|n| inner.submit(move || n)).collect();
        let (done, _) = wait(&first, ReturnWhen::FirstCompleted);
        assert!(!done.is_empty());
        let sum: u32 = as_completed(first).map(|t| t.result().unwrap()).sum();
        let mut cells = [0u32; 4];
        inner.scope(|s| {
            for (i, cell) in cells.iter_mut().enumerate() {
                s.submit(move || *cell = i as u32 * 10);
            }
        });
        sum + cells.iter().sum::<u32>()
    });
    assert_eq!(outer.result().unwrap(), 3 + 60);
}

#[test]
fn the_public_types_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ThreadPool>();
    send_sync::<TaskHandle<String>>();
    send_sync::<TaskError>();
    send_sync::<impasse::pool::Panic>();
    send_sync::<impasse::pool::BuildError>();
    send_sync::<Scope<'_, '_>>();
}

#[test]
fn a_worker_waits_for_a_task_of_another_pool() {
    let _watchdog = watchdog("a_worker_waits_for_a_task_of_another_pool");
    let first = pool(1, "first-pool");
    let second = Arc::new(pool(1, "second-pool"));
    let other = second.clone();
    let task = first.submit(move || {
        let there = other.submit(|| std::thread::current().name().map(str::to_owned));
        there.result().unwrap()
    });
    assert_eq!(task.result().unwrap().as_deref(), Some("second-pool-0"));
}

#[test]
fn an_idle_worker_steals_from_a_busy_workers_queue() {
    let _watchdog = watchdog("an_idle_worker_steals_from_a_busy_workers_queue");
    let pool = Arc::new(pool(2, "steal"));
    let (children_tx, children) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let inner = pool.clone();
    let parent = pool.submit(move || {
        let me = std::thread::current().name().unwrap().to_owned();
        // Submitted from a worker: they go to this worker's own queue...
        let spawned: Vec<_> = (0..6)
            .map(|_| inner.submit(|| std::thread::current().name().unwrap().to_owned()))
            .collect();
        children_tx.send(spawned).unwrap();
        // ...and this worker stays busy (not waiting on the pool, so not helping).
        released.recv().unwrap();
        me
    });
    let spawned = children.recv().unwrap();
    let runners: HashSet<String> = spawned.into_iter().map(|c| c.result().unwrap()).collect();
    release.send(()).unwrap();
    let parent_worker = parent.result().unwrap();
    assert_eq!(runners.len(), 1, "{runners:?}");
    assert!(
        !runners.contains(&parent_worker),
        "the busy worker {parent_worker} ran its own queue: {runners:?}"
    );
}

#[test]
fn ten_thousand_tiny_tasks() {
    let _watchdog = watchdog("ten_thousand_tiny_tasks");
    let pool = pool(2, "tiny");
    let counter = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..10_000usize)
        .map(|i| {
            let counter = counter.clone();
            pool.submit(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                i
            })
        })
        .collect();
    let sum: usize = tasks.into_iter().map(|t| t.result().unwrap()).sum();
    assert_eq!(sum, 10_000 * 9_999 / 2);
    assert_eq!(counter.load(Ordering::Relaxed), 10_000);
}

#[test]
fn shutdown_finishes_queued_work() {
    let _watchdog = watchdog("shutdown_finishes_queued_work");
    let pool = pool(1, "shutdown");
    let (busy, started, release) = gated(&pool);
    started.recv().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let queued: Vec<_> = (0..5)
        .map(|_| {
            let ran = ran.clone();
            pool.submit(move || ran.fetch_add(1, Ordering::SeqCst))
        })
        .collect();
    drop(release); // the busy task ends once its release is gone
    pool.shutdown();
    assert_eq!(ran.load(Ordering::SeqCst), 5);
    assert!(busy.is_done());
    assert!(queued.into_iter().all(|t| t.result().is_ok()));
}

#[test]
fn shutdown_now_cancels_queued_work_and_counts_it() {
    let _watchdog = watchdog("shutdown_now_cancels_queued_work_and_counts_it");
    let pool = pool(1, "shutdown-now");
    let (started_tx, started) = mpsc::channel();
    let (hold, released) = mpsc::channel::<()>();
    let busy = pool.submit(move || {
        started_tx.send(()).unwrap();
        released.recv().is_err() // until every sender is gone
    });
    started.recv().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    // The last sender is in a queued closure: cancelling drops it, which ends `busy`.
    let holder = pool.submit(move || drop(hold));
    let queued: Vec<_> = (0..4)
        .map(|_| {
            let ran = ran.clone();
            pool.submit(move || ran.fetch_add(1, Ordering::SeqCst))
        })
        .collect();
    assert_eq!(pool.shutdown_now(), 5);
    assert!(busy.result().unwrap());
    assert!(matches!(holder.result(), Err(TaskError::Cancelled)));
    assert!(queued
        .into_iter()
        .all(|t| matches!(t.result(), Err(TaskError::Cancelled))));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn drop_finishes_queued_work() {
    let _watchdog = watchdog("drop_finishes_queued_work");
    let ran = Arc::new(AtomicUsize::new(0));
    let handles = {
        let pool = pool(2, "drop");
        (0..100)
            .map(|_| {
                let ran = ran.clone();
                pool.submit(move || ran.fetch_add(1, Ordering::SeqCst))
            })
            .collect::<Vec<_>>()
        // the pool drops here, with tasks queued
    };
    assert_eq!(ran.load(Ordering::SeqCst), 100);
    assert!(handles.iter().all(TaskHandle::is_done));
}

#[test]
fn dropping_the_last_owner_inside_a_task_does_not_hang() {
    let _watchdog = watchdog("dropping_the_last_owner_inside_a_task_does_not_hang");
    let pool = Arc::new(pool(2, "self-drop"));
    let (go, wait_for_go) = mpsc::channel::<()>();
    let owner = pool.clone();
    let task = pool.submit(move || {
        wait_for_go.recv().unwrap();
        drop(owner); // the last owner: the pool ends from one of its own workers
        "dropped"
    });
    drop(pool);
    go.send(()).unwrap();
    assert_eq!(task.result().unwrap(), "dropped");
}

#[test]
fn builder_names_threads_and_rejects_zero() {
    let _watchdog = watchdog("builder_names_threads_and_rejects_zero");
    let error = ThreadPool::builder().num_threads(0).build().unwrap_err();
    assert_eq!(
        error.to_string(),
        "impasse: a thread pool needs at least one thread"
    );
    assert!(error.source().is_none());
    let zero = panic::catch_unwind(|| ThreadPool::new(0));
    assert!(common::panic_text(&*zero.unwrap_err()).contains("at least one thread"));

    let pool = ThreadPool::builder()
        .num_threads(2)
        .named("crunchers")
        .build()
        .unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let names: HashSet<String> = (0..2)
        .map(|_| {
            let barrier = barrier.clone();
            pool.submit(move || {
                barrier.wait(); // both workers at once
                std::thread::current().name().unwrap().to_owned()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.result().unwrap())
        .collect();
    let expected: HashSet<String> = ["crunchers-0", "crunchers-1"].map(String::from).into();
    assert_eq!(names, expected);
    let default = ThreadPool::builder().build().unwrap();
    assert!(default.num_threads() >= 1);
}
