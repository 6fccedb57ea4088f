//! Joins that can never end: a thread joined by the holder of a lock it needs, through a
//! `JoinHandle`, a `ScopedJoinHandle` or a scope's end. Each is a cycle of known wakers (the
//! joiner waits for one thread, which waits for the joiner's lock), so it is reported in any
//! world, plain `#[test]`s included, by whichever thread closes the cycle; and every thread
//! finishes after the report.

#![cfg(feature = "detect")]

mod common;

use common::{assert_contains, panic_text, watchdog, DEADLOCK};
use impasse::{thread, Mutex};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;

fn assert_report(report: &str, parts: &[&str]) {
    assert!(report.starts_with(DEADLOCK), "{report}");
    assert!(
        report.contains("2 threads wait for each other in a cycle"),
        "{report}"
    );
    assert_contains(report, parts);
}

/// The joiner holds the lock, spawns, and joins at once: usually before the thread has even
/// started (the join then learns its name when it starts). Either the joiner's join or the
/// thread's lock wait closes the cycle; its thread is the victim.
///
/// Exactly one of them is the victim, even while the victim's panic hook runs longer than the
/// joiner's 50 ms re-check slice (a backtrace): the reporter is marked granted before its
/// policy runs, so the joiner's re-check cannot report the same cycle again.
#[test]
fn joining_a_thread_that_needs_a_lock_the_joiner_holds() {
    let _watchdog = watchdog("joining_a_thread_that_needs_a_lock_the_joiner_holds");
    let ledger = std::sync::Arc::new(Mutex::named("ledger", 0));
    let (went_on_tx, went_on) = std_mpsc::channel();
    let outcome = {
        let ledger = ledger.clone();
        panic::catch_unwind(AssertUnwindSafe(move || {
            let mut entries = ledger.lock();
            let worker = thread::Builder::new()
                .name("bookkeeper".into())
                .spawn({
                    let ledger = ledger.clone();
                    move || {
                        *ledger.lock() += 1;
                        went_on_tx.send(()).unwrap();
                    }
                })
                .unwrap();
            let joined = worker.join();
            *entries += 1;
            joined
        }))
    };
    let mut reports = Vec::new();
    let joiner_went_on = match outcome {
        Ok(joined) => {
            // The bookkeeper's lock wait closed the cycle: the join returned its panic.
            reports.push(panic_text(
                &*joined.expect_err("the bookkeeper was a victim"),
            ));
            true
        }
        Err(payload) => {
            // The join closed it: the joiner unwound and released the ledger. (The handle
            // went with the join that panicked: the bookkeeper's end is awaited here.)
            reports.push(panic_text(&*payload));
            false
        }
    };
    // The bookkeeper sends once it got the ledger; as a victim it drops the sender instead.
    let bookkeeper_went_on = went_on.recv().is_ok();
    assert!(
        joiner_went_on ^ bookkeeper_went_on,
        "exactly one of them is the victim"
    );
    for report in &reports {
        assert_report(
            report,
            &[
                "thread \"bookkeeper\"",
                "waits for Mutex \"ledger\"",
                "waits to join thread \"bookkeeper\"",
                "which has not finished",
            ],
        );
    }
    let went_on = usize::from(joiner_went_on) + usize::from(bookkeeper_went_on);
    assert_eq!(*ledger.lock(), went_on);
}

/// The same through a `ScopedJoinHandle`: whoever is the victim, the scope's end joins the
/// bookkeeper once the joiner's unwinding has released the ledger.
#[test]
fn joining_a_scoped_thread_that_needs_a_lock_the_joiner_holds() {
    let _watchdog = watchdog("joining_a_scoped_thread_that_needs_a_lock_the_joiner_holds");
    let ledger = Mutex::named("ledger", 0);
    let bookkeeper_went_on = AtomicBool::new(false);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        thread::scope(|s| {
            let mut entries = ledger.lock();
            let worker = thread::Builder::new()
                .name("scoped-bookkeeper".into())
                .spawn_scoped(s, || {
                    *ledger.lock() += 1;
                    bookkeeper_went_on.store(true, Ordering::SeqCst);
                })
                .unwrap();
            let joined = worker.join();
            *entries += 1;
            joined.map_err(|payload| panic_text(&*payload))
        })
    }));
    let (report, joiner_went_on) = match outcome {
        Ok(joined) => (joined.expect_err("the bookkeeper was a victim"), true),
        Err(payload) => (panic_text(&*payload), false),
    };
    assert_report(
        &report,
        &[
            "thread \"scoped-bookkeeper\"",
            "waits for Mutex \"ledger\"",
            "waits to join thread \"scoped-bookkeeper\"",
        ],
    );
    let bookkeeper_went_on = bookkeeper_went_on.load(Ordering::SeqCst);
    assert!(
        joiner_went_on ^ bookkeeper_went_on,
        "exactly one of them is the victim"
    );
    let went_on = usize::from(joiner_went_on) + usize::from(bookkeeper_went_on);
    assert_eq!(*ledger.lock(), went_on);
}

/// A scope whose end waits for a thread blocked on a lock the scope's owner holds (the
/// closure returns the guard, so the owner holds it while the end waits). Without a
/// cooperative end this would hang silently. Whoever is the victim, the scope panics with the
/// report: the owner's own, or the thread's, which nobody joined.
#[test]
fn a_scope_s_end_waiting_for_a_thread_that_needs_the_owner_s_lock() {
    let _watchdog = watchdog("a_scope_s_end_waiting_for_a_thread_that_needs_the_owner_s_lock");
    let ledger = Mutex::named("ledger", 0);
    let scope_line = line!() + 2;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        thread::scope(|s| {
            let entries = ledger.lock();
            thread::Builder::new()
                .name("late-bookkeeper".into())
                .spawn_scoped(s, || *ledger.lock() += 1)
                .unwrap();
            entries // held by the owner until after the scope's end
        })
    }));
    let report = panic_text(&*outcome.expect_err("the scope fails with the report"));
    assert_report(
        &report,
        &[
            "thread \"late-bookkeeper\"",
            "waits for Mutex \"ledger\"",
            "waits to join thread \"late-bookkeeper\"",
            // The owner waits at the scope's call site.
            &format!("at {}:{scope_line}:", file!()),
        ],
    );
    drop(ledger.lock()); // released by unwinding, whoever the victim was
}
