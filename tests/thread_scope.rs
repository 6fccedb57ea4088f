//! `impasse::thread::scope` as a swap-in for `std::thread::scope`: borrowing, joining, nested
//! spawns, panics, names; and near misses in a closed world (a scope's end waiting for threads
//! that are still working is no deadlock).

mod common;

use common::{panic_text, watchdog};
use impasse::{mpsc, thread, Mutex};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[test]
fn scoped_threads_borrow_and_are_all_finished_at_the_end() {
    let _watchdog = watchdog("scoped_threads_borrow_and_are_all_finished_at_the_end");
    let mut numbers = vec![1, 2, 3, 4];
    let finished = AtomicUsize::new(0);
    let total = thread::scope(|s| {
        let (left, right) = numbers.split_at_mut(2);
        let doubler = s.spawn(|| {
            left.iter_mut().for_each(|n| *n *= 2);
            finished.fetch_add(1, Ordering::SeqCst);
            left.iter().sum::<i32>()
        });
        // Not joined: the scope's end waits for it, and for the thread it spawns.
        s.spawn(|| {
            right.iter_mut().for_each(|n| *n *= 10);
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                finished.fetch_add(1, Ordering::SeqCst);
            });
            finished.fetch_add(1, Ordering::SeqCst);
        });
        doubler.join().unwrap()
    });
    assert_eq!(total, 6);
    assert_eq!(numbers, [2, 4, 30, 40]);
    assert_eq!(finished.load(Ordering::SeqCst), 3);
}

#[test]
fn handles_name_their_threads_and_say_when_they_finished() {
    let _watchdog = watchdog("handles_name_their_threads_and_say_when_they_finished");
    let (go_tx, go) = mpsc::channel::<()>();
    thread::scope(|s| {
        let worker = thread::Builder::new()
            .name("scoped-worker".into())
            .stack_size(256 * 1024)
            .spawn_scoped(s, move || {
                go.recv().unwrap();
                std::thread::current().name().map(str::to_owned)
            })
            .unwrap();
        assert_eq!(worker.thread().name(), Some("scoped-worker"));
        assert!(!worker.is_finished());
        go_tx.send(()).unwrap();
        while !worker.is_finished() {
            std::thread::yield_now();
        }
        assert_eq!(worker.join().unwrap().as_deref(), Some("scoped-worker"));
    });
}

#[test]
fn a_joined_panic_is_the_joiner_s_and_an_unjoined_one_is_the_scope_s() {
    let _watchdog = watchdog("a_joined_panic_is_the_joiner_s_and_an_unjoined_one_is_the_scope_s");
    // Joined: `join` returns it and the scope ends normally.
    let joined = thread::scope(|s| {
        let handle = s.spawn(|| panic!("joined boom"));
        panic_text(&*handle.join().expect_err("it panicked"))
    });
    assert_eq!(joined, "joined boom");

    // Not joined: the scope panics with it once every thread has finished.
    let after = AtomicUsize::new(0);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        thread::scope(|s| {
            s.spawn(|| panic!("unjoined boom"));
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(30));
                after.fetch_add(1, Ordering::SeqCst);
            });
        })
    }));
    assert_eq!(
        panic_text(&*outcome.expect_err("the scope panics")),
        "unjoined boom"
    );
    assert_eq!(
        after.load(Ordering::SeqCst),
        1,
        "the other thread finished first"
    );

    // The closure's own panic takes precedence, and still every thread is waited for.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        thread::scope(|s| {
            s.spawn(|| panic!("thread boom"));
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(30));
                after.fetch_add(1, Ordering::SeqCst);
            });
            panic!("closure boom");
        })
    }));
    assert_eq!(
        panic_text(&*outcome.expect_err("the scope panics")),
        "closure boom"
    );
    assert_eq!(after.load(Ordering::SeqCst), 2);
}

/// Near miss: a scope's end waits, in a closed world, for threads that are still busy
/// handing work to each other through a channel and a lock.
#[impasse::test(timeout = "20s")]
fn a_scope_s_end_waiting_for_busy_threads_is_no_deadlock() {
    let tally = Mutex::named("tally", 0u64);
    let (tx, rx) = mpsc::sync_channel_named::<u64>("scoped-work", 2);
    thread::scope(|s| {
        for p in 0..3 {
            let (tx, tally) = (tx.clone(), &tally);
            thread::Builder::new()
                .name(format!("scoped-producer-{p}"))
                .spawn_scoped(s, move || {
                    for n in 0..500 {
                        tx.send(n).unwrap();
                        *tally.lock() += 1;
                    }
                })
                .unwrap();
        }
        drop(tx);
        thread::Builder::new()
            .name("scoped-consumer".into())
            .spawn_scoped(s, move || {
                let sum: u64 = rx.iter().sum();
                assert_eq!(sum, 3 * (0..500).sum::<u64>());
            })
            .unwrap();
        // The closure returns at once: the end waits for all four.
    });
    assert_eq!(*tally.lock(), 1_500);
}
