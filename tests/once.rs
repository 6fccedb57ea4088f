//! `Once` and `OnceLock`: std's semantics (one run, poisoning, `call_once_force`, a cell
//! written once), and a wait for another thread's initialisation reported at once when that
//! thread can never finish it: it re-enters its own `Once`, or waits for a lock its waiter
//! holds. These are cycles through a known waker (the initialising thread), so they need no
//! closed world.

mod common;

use common::{join_quietly, panic_text, spawn, watchdog};
use impasse::testing::{self, Options};
use impasse::{Once, OnceLock};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

// As std's: shared between threads, and across `catch_unwind`.
const _: () = {
    use std::panic::{RefUnwindSafe, UnwindSafe};
    fn shareable<T: Send + Sync + UnwindSafe + RefUnwindSafe>() {}
    let _ = shareable::<Once>;
    let _ = shareable::<OnceLock<String>>;
    let _ = shareable::<impasse::OnceState>;
};

#[test]
fn call_once_runs_once_and_poisoning_is_stds() {
    static INIT: Once = Once::new();
    let mut runs = 0;
    INIT.call_once(|| runs += 1);
    INIT.call_once(|| runs += 1);
    assert_eq!(runs, 1);
    assert!(INIT.is_completed());

    let once = Once::named("poisoned");
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        once.call_once(|| panic!("the initialisation fails"));
    }));
    assert!(panic_text(&*outcome.expect_err("it panicked")).contains("fails"));
    assert!(!once.is_completed());
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| once.call_once(|| ())));
    assert!(panic_text(&*outcome.expect_err("poisoned")).contains("poisoned"));
    let mut saw_poison = None;
    once.call_once_force(|state| saw_poison = Some(state.is_poisoned()));
    assert_eq!(saw_poison, Some(true));
    assert!(once.is_completed());
    once.call_once(|| unreachable!("completed"));
    assert_eq!(format!("{once:?}"), "Once { .. }");
}

#[test]
fn get_or_init_raced_by_many_threads_initialises_once() {
    const THREADS: usize = 6;
    let _watchdog = watchdog("get_or_init_raced_by_many_threads_initialises_once");
    testing::run("once_lock_race", Options::new(), || {
        let cell = Arc::new(OnceLock::named("config"));
        let runs = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(THREADS));
        let racers: Vec<_> = (0..THREADS)
            .map(|i| {
                let (cell, runs, start) = (cell.clone(), runs.clone(), start.clone());
                impasse::thread::Builder::new()
                    .name(format!("racer-{i}"))
                    .spawn(move || {
                        start.wait();
                        *cell.get_or_init(|| {
                            runs.fetch_add(1, Ordering::SeqCst);
                            // Computing while the others wait for this thread: no report.
                            std::thread::sleep(Duration::from_millis(30));
                            i
                        })
                    })
                    .expect("spawn a racer")
            })
            .collect();
        let seen: Vec<usize> = racers
            .into_iter()
            .map(|r| r.join().expect("a racer"))
            .collect();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(seen.iter().all(|&v| v == seen[0]), "{seen:?}");
        assert_eq!(cell.get(), Some(&seen[0]));
    });
}

#[test]
fn once_lock_has_stds_api() {
    let mut cell: OnceLock<String> = OnceLock::default();
    assert_eq!(cell.get(), None);
    assert_eq!(format!("{cell:?}"), "OnceLock(<uninit>)");
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        cell.get_or_init(|| panic!("no value"));
    }));
    assert!(outcome.is_err());
    assert_eq!(
        cell.get(),
        None,
        "a panicking initialiser leaves the cell empty"
    );
    assert_eq!(cell.set("a".into()), Ok(()));
    assert_eq!(cell.set("b".into()), Err("b".into()));
    assert_eq!(cell.get_or_init(|| unreachable!()), "a");
    cell.get_mut().expect("set").push('!');
    assert_eq!(format!("{cell:?}"), "OnceLock(\"a!\")");
    assert_eq!(cell.clone(), cell);
    assert_eq!(cell.take().as_deref(), Some("a!"));
    assert_eq!(cell.get(), None);
    assert_eq!(cell.get_or_init(|| "c".into()), "c");
    assert_eq!(cell.into_inner().as_deref(), Some("c"));
    assert_eq!(OnceLock::from(3).into_inner(), Some(3));

    static GLOBAL: OnceLock<u32> = OnceLock::new();
    let waiter = spawn("global-reader", || *GLOBAL.get_or_init(|| 7));
    assert_eq!(join_quietly(vec![waiter]), [7]);
    assert_eq!(GLOBAL.get(), Some(&7));
}

#[cfg(feature = "detect")]
mod fire {
    use super::common::{assert_contains, one_report, spawn, watchdog, DEADLOCK};
    use impasse::{Mutex, Once, OnceLock};
    use std::sync::{Arc, Barrier};

    #[test]
    fn an_initialiser_reentering_its_own_once() {
        let _watchdog = watchdog("an_initialiser_reentering_its_own_once");
        let once = Arc::new(Once::named("config"));
        let reentrant = {
            let once = once.clone();
            spawn("reentrant", move || {
                once.call_once(|| once.call_once(|| ()));
            })
        };
        let report = one_report(vec![reentrant]);
        assert!(report.starts_with(DEADLOCK), "{report}");
        assert_contains(
            &report,
            &[
                "a thread waits for itself",
                "thread \"reentrant\"",
                "waits for the initialisation of Once \"config\"",
            ],
        );
        // The report unwound through the initialisation: the `Once` is poisoned, as std's.
        assert!(!once.is_completed());
        once.call_once_force(|state| assert!(state.is_poisoned()));
        assert!(once.is_completed());
    }

    #[test]
    fn a_cell_initialiser_reentering_its_own_cell() {
        let _watchdog = watchdog("a_cell_initialiser_reentering_its_own_cell");
        let cell = Arc::new(OnceLock::named("cell"));
        let reentrant = {
            let cell = cell.clone();
            spawn("reentrant-cell", move || {
                cell.get_or_init(|| *cell.get_or_init(|| 1) + 1);
            })
        };
        let report = one_report(vec![reentrant]);
        assert!(
            report.contains("waits for the initialisation of Once \"cell\""),
            "{report}"
        );
        assert_eq!(cell.get(), None, "the cell stays empty");
        assert_eq!(cell.get_or_init(|| 5), &5);
    }

    #[test]
    fn an_initialiser_waiting_for_a_lock_held_by_its_waiter() {
        let _watchdog = watchdog("an_initialiser_waiting_for_a_lock_held_by_its_waiter");
        let once = Arc::new(Once::named("config"));
        let registry = Arc::new(Mutex::named("registry", 0));
        let both_in = Arc::new(Barrier::new(2));
        let initialiser = {
            let (once, registry, both_in) = (once.clone(), registry.clone(), both_in.clone());
            spawn("initialiser", move || {
                once.call_once(|| {
                    both_in.wait(); // the `Once` is running, the waiter holds `registry`
                    *registry.lock() += 1;
                });
            })
        };
        let waiter = {
            let (once, registry) = (once.clone(), registry.clone());
            spawn("waiter", move || {
                let mut registry = registry.lock();
                both_in.wait();
                // If the initialiser was the one reported, its run is poisoned: run again.
                once.call_once_force(|_| *registry += 10);
            })
        };
        let report = one_report(vec![initialiser, waiter]);
        assert!(
            report.contains("2 threads wait for each other in a cycle"),
            "{report}"
        );
        assert_contains(
            &report,
            &[
                "waits for the initialisation of Once \"config\"",
                "waits for Mutex \"registry\"",
                "thread \"initialiser\"",
                "thread \"waiter\"",
            ],
        );
        // Whichever thread was reported, the other completed the initialisation.
        assert!(once.is_completed());
        assert!(matches!(*registry.lock(), 1 | 10));
    }
}
