//! Deadlocks through the pool, reported the moment they form: two tasks waiting for each
//! other, a submitter holding a lock its task needs (cycles of known wakers: waiting for a
//! running task is waiting for its worker), and a task waiting for a message nobody can send
//! (the closed-world rule, idle workers counted as asleep). And their near misses, which must
//! stay quiet even in a closed world with idle workers around.

#![cfg(all(feature = "detect", not(loom)))]

mod common;

use common::{
    assert_contains, here, panic_text, pool, pool_fib, wait_until, watchdog, world, DEADLOCK,
};
use impasse::pool::{as_completed, wait, ReturnWhen, TaskError, TaskHandle};
use impasse::testing::{self, Options};
use impasse::{Barrier, Mutex};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

/// Each task waits for the other's result on a 2-worker pool (a barrier makes sure both run
/// at once, so neither can help by running the other). The second wait closes the cycle
/// worker → task → worker → task, and its task panics with the report; the other task's wait
/// then ends with that panic, which it passes on.
#[test]
fn two_tasks_waiting_for_each_other() {
    let _watchdog = watchdog("two_tasks_waiting_for_each_other");
    let pool = pool(2, "mutual");
    let barrier = Arc::new(Barrier::new(2));
    let (reports_tx, reports) = std_mpsc::channel::<String>();
    let mut sends = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (send, receive) = std_mpsc::channel::<TaskHandle<()>>();
        sends.push(send);
        let (barrier, reports_tx) = (barrier.clone(), reports_tx.clone());
        tasks.push(move || {
            barrier.wait();
            let other = receive.recv().unwrap();
            if let Err(TaskError::Panicked(panic)) = other.result() {
                reports_tx.send(panic.message().to_owned()).unwrap();
            }
        });
    }
    let second = tasks.pop().unwrap();
    let first = tasks.pop().unwrap();
    let (one, one_at) = (pool.submit(first), here());
    let (two, two_at) = (pool.submit(second), here());
    sends[0].send(two).unwrap();
    sends[1].send(one).unwrap();
    let report = reports
        .recv_timeout(Duration::from_secs(10))
        .expect("a report within the blocking call");
    assert!(report.starts_with(DEADLOCK), "{report}");
    assert_contains(
        &report,
        &[
            "2 threads wait for each other in a cycle",
            "thread \"mutual-0\"",
            "thread \"mutual-1\"",
            &format!("waits for the result of task created at {one_at}"),
            &format!("waits for the result of task created at {two_at}"),
        ],
    );
    drop(pool);
    assert!(reports.try_recv().is_err(), "one report only");
}

/// The submitter holds the ledger, submits a task that needs it, and waits for the task:
/// first for anyone (the task is queued), then, once a worker claims it, for that worker,
/// which waits for the ledger. Whichever wait comes second closes the cycle.
#[test]
fn a_submitter_holding_a_lock_its_task_needs() {
    let _watchdog = watchdog("a_submitter_holding_a_lock_its_task_needs");
    let pool = pool(1, "bookkeeper");
    let ledger = Arc::new(Mutex::named("ledger", 0u32));
    let entries = ledger.lock();
    let task = {
        let ledger = ledger.clone();
        move || *ledger.lock() += 1
    };
    let (handle, task_at) = (pool.submit(task), here());
    let (wait, wait_at) = (AssertUnwindSafe(|| handle.result()), here());
    let outcome = panic::catch_unwind(wait);
    drop(entries); // either way, the task can go on now
    let (report, submitter_was_victim) = match outcome {
        Err(payload) => (panic_text(&*payload), true),
        Ok(Err(TaskError::Panicked(panic))) => (panic.message().to_owned(), false),
        Ok(other) => panic!("expected a report, got {other:?}"),
    };
    assert!(report.starts_with(DEADLOCK), "{report}");
    let submitter = std::thread::current().name().unwrap().to_owned();
    assert_contains(
        &report,
        &[
            "2 threads wait for each other in a cycle",
            &format!("thread \"{submitter}\""),
            "thread \"bookkeeper-0\"",
            "Mutex \"ledger\"",
            &format!("waits for the result of task created at {task_at}"),
            &format!("at {wait_at}"),
        ],
    );
    pool.shutdown();
    // A victim task unwound from its lock wait; a victim submitter let the task go on.
    assert_eq!(*ledger.lock(), u32::from(submitter_was_victim));
}

/// A task waits for a message that nothing will ever send, in a test's world: the test's
/// thread waits for the task, the task's worker waits to receive, the other worker waits for
/// work. Nobody can wake anybody: the last of them to block reports it.
#[test]
fn a_task_waiting_for_a_message_nobody_sends() {
    let _watchdog = watchdog("a_task_waiting_for_a_message_nobody_sends");
    let text = world::reports_of("pool_silence", || {
        let pool = pool(2, "listener");
        // Both workers asleep first, so that neither is the last to block.
        wait_until(|| pool.idle_threads() == 2);
        let (sender, receiver) = impasse::mpsc::channel_named::<u32>("silence");
        let task = pool.submit(move || receiver.recv().unwrap_or(0));
        // The victim is this thread (its wait panics) or the task's worker (the task panics).
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| task.result()));
        drop(sender); // either way, the receive ends now
        drop(pool);
        assert!(!matches!(outcome, Ok(Ok(_))), "{outcome:?}");
    });
    assert_contains(
        &text,
        &[
            DEADLOCK,
            "every thread of the test `pool_silence` is blocked",
            "waits for the result of task created at",
            "waits to receive from channel \"silence\"",
            "waits for work from pool \"listener\" (created at",
        ],
    );
}

/// The near miss of the submitter test: the lock is released before the wait.
#[test]
fn a_submitter_that_releases_the_lock_before_waiting_is_quiet() {
    let _watchdog = watchdog("a_submitter_that_releases_the_lock_before_waiting_is_quiet");
    testing::run("pool_released_lock", Options::new(), || {
        let pool = pool(2, "released");
        let ledger = Arc::new(Mutex::named("ledger", 0u32));
        for _ in 0..20 {
            let entries = ledger.lock();
            let task = {
                let ledger = ledger.clone();
                pool.submit(move || *ledger.lock() += 1)
            };
            drop(entries);
            task.result().unwrap();
        }
        assert_eq!(*ledger.lock(), 20);
    });
}

/// Tasks waiting for tasks that do finish, with idle workers around, in a closed world:
/// fork-join, `wait` and `as_completed` from inside tasks. No report.
#[test]
fn tasks_waiting_for_tasks_that_finish_are_quiet() {
    let _watchdog = watchdog("tasks_waiting_for_tasks_that_finish_are_quiet");
    testing::run("pool_fork_join", Options::new(), || {
        let pool = Arc::new(pool(3, "forks"));
        let root = {
            let inner = pool.clone();
            pool.submit(move || pool_fib(&inner, 16))
        };
        assert_eq!(root.result().unwrap(), 987);

        let inner = pool.clone();
        let gathered = pool.submit(move || {
            let children: Vec<_> = (0..8u64).map(|n| inner.submit(move || n)).collect();
            let (done, _) = wait(&children, ReturnWhen::FirstCompleted);
            assert!(!done.is_empty());
            as_completed(children)
                .map(|c| c.result().unwrap())
                .sum::<u64>()
        });
        assert_eq!(gathered.result().unwrap(), 28);
        // Idle for a while in a closed world: the workers' sleep is no deadlock.
        wait_until(|| pool.idle_threads() == 3);
        let quiet = pool.submit(|| "still quiet");
        assert_eq!(quiet.result().unwrap(), "still quiet");
        Arc::try_unwrap(pool).expect("the last owner").shutdown();
    });
}

/// Many small waits of every kind from inside tasks and from outside, in a closed world:
/// each one ends, so none may be reported (a wait that missed its task's end would hang, and
/// in a closed world be reported: this is how a lost notification shows).
#[test]
fn many_waits_of_every_kind_stay_quiet() {
    let _watchdog = watchdog("many_waits_of_every_kind_stay_quiet");
    testing::run("pool_many_waits", Options::new(), || {
        let pool = Arc::new(pool(3, "waits"));
        let kinds = [
            ReturnWhen::FirstCompleted,
            ReturnWhen::FirstException,
            ReturnWhen::AllCompleted,
        ];
        for round in 0..600usize {
            let inner = pool.clone();
            let gathered = pool.submit(move || {
                let children: Vec<_> = (0..8u64).map(|n| inner.submit(move || n)).collect();
                let (done, _) = wait(&children, kinds[round % 3]);
                assert!(!done.is_empty());
                as_completed(children)
                    .map(|c| c.result().unwrap())
                    .sum::<u64>()
            });
            let total: u64 = if round % 2 == 0 {
                gathered.result().unwrap()
            } else {
                as_completed([gathered]).map(|c| c.result().unwrap()).sum()
            };
            assert_eq!(total, 28);
        }
    });
}
