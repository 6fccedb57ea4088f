//! Condition variable waits that nothing can end, reported: a lock cycle through a wait's
//! relock (at the wait's line), and waits judged by the closed-world rule, with the waiter
//! left consistent after its report (off the queue, its mutex locked again).
//!
//! The closed-world scenarios run one after another in a single test: two test worlds open
//! at once, each spawning threads after the other opened, would keep each other from ever
//! being closed (`src/detect/threads.rs`).

#![cfg(feature = "detect")]

mod common;

use common::{assert_contains, here, one_report, spawn, wait_until, watchdog};
use impasse::{Condvar, Mutex};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Barrier};
use std::time::Duration;

/// The relock at the end of a wait is the acquisition a report shows: at the wait's line.
#[test]
fn the_relock_is_acquired_at_the_waits_line() {
    let _watchdog = watchdog("the_relock_is_acquired_at_the_waits_line");
    let m = Arc::new(Mutex::named("m", false));
    let k = Arc::new(Mutex::named("k", ()));
    let ready = Arc::new(Condvar::named("ready"));
    let holding_m = Arc::new(Barrier::new(2));
    let both_hold = Arc::new(Barrier::new(2));
    let (sites_tx, sites) = std::sync::mpsc::channel();
    let waiter = {
        let (m, k, ready, holding_m, both_hold) = (
            m.clone(),
            k.clone(),
            ready.clone(),
            holding_m.clone(),
            both_hold.clone(),
        );
        spawn("relocker", move || {
            let mut flag = m.lock();
            holding_m.wait();
            let (_, site) = (ready.wait_while(&mut flag, |f| !*f), here());
            sites_tx.send(site).unwrap();
            both_hold.wait();
            let _k = k.lock();
        })
    };
    let other = spawn("other", move || {
        holding_m.wait();
        *m.lock() = true; // the waiter is in its wait: it released `m`
        ready.notify_one();
        let _k = k.lock();
        both_hold.wait();
        let _m = m.lock();
    });
    let report = one_report(vec![waiter, other]);
    let site = sites.recv().unwrap();
    assert!(
        report.contains("holds Mutex \"m\"") && report.contains(&site),
        "the report names the wait's line {site} for the hold of \"m\":\n{report}"
    );
}

use common::world::{self, reports_of};

fn waiting_while_holding_the_notifiers_lock() {
    #[derive(Default)]
    struct Flags {
        waiting: bool,
        ready: bool,
    }
    let text = reports_of("waiting_while_holding_the_notifiers_lock", || {
        let ending = world::Ending::new();
        let state = Arc::new(Mutex::named("state", ()));
        let flags = Arc::new(Mutex::named("flags", Flags::default()));
        let ready = Arc::new(Condvar::named("ready"));
        let waiter = {
            let (state, flags, ready) = (state.clone(), flags.clone(), ready.clone());
            ending.spawn("waiter", move || {
                let _state = state.lock();
                let mut flags = flags.lock();
                flags.waiting = true;
                ready.wait_while(&mut flags, |f| !f.ready);
            })
        };
        let notifier = {
            let (flags, ready) = (flags.clone(), ready.clone());
            ending.spawn("notifier", move || {
                wait_until(|| flags.try_lock().is_some_and(|f| f.waiting));
                let _state = state.lock(); // held by the waiter, for as long as it waits
                flags.lock().ready = true;
                ready.notify_one();
            })
        };
        ending.close(vec![waiter, notifier], || {
            flags.lock().ready = true;
            ready.notify_all();
        });
    });
    assert_contains(
        &text,
        &[
            "waits on Condvar \"ready\"",
            "Mutex \"state\"",
            "thread \"waiter\"",
            "thread \"notifier\"",
        ],
    );
}

fn notifier_blocked_by_a_thread_that_waits_for_the_waiter() {
    #[derive(Default)]
    struct Flags {
        worker_waits: bool,
        collector_waits: bool,
        ready: bool,
        done: bool,
    }
    let text = reports_of(
        "notifier_blocked_by_a_thread_that_waits_for_the_waiter",
        || {
            let ending = world::Ending::new();
            let results = Arc::new(Mutex::named("results", ()));
            let flags = Arc::new(Mutex::named("flags", Flags::default()));
            let ready = Arc::new(Condvar::named("ready"));
            let done = Arc::new(Condvar::named("done"));
            let worker = {
                let (flags, ready, done) = (flags.clone(), ready.clone(), done.clone());
                ending.spawn("worker", move || {
                    let mut flags = flags.lock();
                    flags.worker_waits = true;
                    ready.wait_while(&mut flags, |f| !f.ready);
                    flags.done = true;
                    done.notify_all();
                })
            };
            let collector = {
                let (results, flags, done) = (results.clone(), flags.clone(), done.clone());
                ending.spawn("collector", move || {
                    let _results = results.lock(); // kept until the worker is done
                    let mut flags = flags.lock();
                    flags.collector_waits = true;
                    done.wait_while(&mut flags, |f| !f.done);
                })
            };
            let notifier = {
                let (flags, ready) = (flags.clone(), ready.clone());
                ending.spawn("notifier", move || {
                    wait_until(|| {
                        flags
                            .try_lock()
                            .is_some_and(|f| f.worker_waits && f.collector_waits)
                    });
                    let _results = results.lock(); // the notifier wants the results first
                    flags.lock().ready = true;
                    ready.notify_all();
                })
            };
            ending.close(vec![worker, collector, notifier], || {
                {
                    let mut flags = flags.lock();
                    flags.ready = true;
                    flags.done = true;
                }
                ready.notify_all();
                done.notify_all();
            });
        },
    );
    assert_contains(
        &text,
        &[
            "waits on Condvar \"ready\"",
            "waits on Condvar \"done\"",
            "Mutex \"results\"",
            "thread \"worker\"",
            "thread \"collector\"",
            "thread \"notifier\"",
        ],
    );
}

fn a_notification_sent_before_a_wait_without_predicate_is_lost() {
    let flag = Mutex::named("flag", ());
    let ready = Condvar::named("ready");
    let text = reports_of("lost_notification", || {
        assert!(!ready.notify_one()); // nobody listens: the notification is lost
        let mut guard = flag.lock();
        // The only thread waits for a notification already sent.
        let report = panic::catch_unwind(AssertUnwindSafe(|| ready.wait(&mut guard)));
        assert!(
            flag.is_locked(),
            "the report unwound with the mutex locked again"
        );
        drop(guard);
        panic::resume_unwind(report.expect_err("the wait is reported"));
    });
    assert!(
        text.contains("the only thread of the test `lost_notification` waits"),
        "{text}"
    );
    assert!(text.contains("waits on Condvar \"ready\""), "{text}");
    // The reported waiter left the queue, and the mutex is free.
    assert!(!ready.notify_one());
    assert!(flag.try_lock().is_some());
}

/// Reported not when it began but on a later look (the world closed meanwhile): the
/// waiter still leaves the queue and unwinds with its mutex locked.
fn a_wait_reported_on_a_later_look() {
    let flag = Mutex::named("flag", ());
    let ready = Condvar::named("ready");
    let text = reports_of("reported_later", || {
        // Invisible to impasse, it keeps the world open while it computes, then leaves
        // without notifying anyone.
        let computer = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(100)));
        let mut guard = flag.lock();
        let report = panic::catch_unwind(AssertUnwindSafe(|| ready.wait(&mut guard)));
        assert!(
            flag.is_locked(),
            "the report unwound with the mutex locked again"
        );
        drop(guard);
        computer.join().unwrap();
        panic::resume_unwind(report.expect_err("the wait is reported"));
    });
    assert!(text.contains("waits on Condvar \"ready\""), "{text}");
    assert!(!ready.notify_one(), "the reported waiter left the queue");
}

fn a_std_flavoured_wait_nothing_can_end() {
    let text = reports_of("std_flavoured_wait", || {
        let flag = impasse::stdsync::Mutex::named("std-flag", false);
        let ready = impasse::stdsync::Condvar::named("std-ready");
        let _ = ready.wait_while(flag.lock().unwrap(), |f| !*f);
    });
    assert!(text.contains("waits on Condvar \"std-ready\""), "{text}");
}

#[test]
fn closed_worlds_report_condvar_waits_nothing_can_end() {
    let _watchdog = watchdog("closed_worlds_report_condvar_waits_nothing_can_end");
    waiting_while_holding_the_notifiers_lock();
    notifier_blocked_by_a_thread_that_waits_for_the_waiter();
    a_notification_sent_before_a_wait_without_predicate_is_lost();
    a_wait_reported_on_a_later_look();
    a_std_flavoured_wait_nothing_can_end();
}
