//! The detector checked against loom as the oracle.
//!
//! For small programs loom runs every interleaving. In each one:
//!
//! - where the threads would deadlock, impasse must report (so loom never sees every thread
//!   blocked: a missed deadlock fails the model with loom's own "deadlock" error);
//! - impasse must report only then: a callback policy checks, at the moment of every report,
//!   that the threads really are in the deadlocking configuration (each holds its first lock
//!   and has asked for its second), and programs that cannot deadlock must never report.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_detector`.
//! Panics (the reports) print their message without a backtrace.

#![cfg(loom)]

use impasse::policy::{Action, Settings};
use impasse::report::{Report, ReportKind};
use impasse::{Mutex, RwLock};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use std::panic::{self, AssertUnwindSafe};

/// loom runs its threads on coroutines with 32 KiB stacks, too small for a report built, printed
/// and unwound; every thread of these models gets this much instead.
const STACK: usize = 1 << 20;

/// Runs `body` as a loom model, on a thread with a large stack (the model's own first thread
/// keeps loom's small one and only waits for it). Reports unwind threads on purpose here, so
/// the panic hook prints the message only: the default one also captures a backtrace when
/// `RUST_BACKTRACE` is set, which a coroutine stack cannot afford.
fn model(body: impl Fn() + Send + Sync + 'static) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| panic::set_hook(Box::new(|info| eprintln!("{info}"))));
    let body = std::sync::Arc::new(body);
    loom::model(move || {
        let body = body.clone();
        spawn(move || body()).join().unwrap();
    });
}

/// `loom::thread::spawn`, with a large stack (see [`STACK`]).
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> loom::thread::JoinHandle<T> {
    loom::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .expect("a loom thread")
}

/// Where a thread of a two-step program is.
const STARTED: usize = 0;
const HOLDS_FIRST: usize = 1;
const WANTS_SECOND: usize = 2;
const DONE: usize = 3;

type Phases = Arc<Vec<AtomicUsize>>;

fn phases(threads: usize) -> Phases {
    Arc::new((0..threads).map(|_| AtomicUsize::new(STARTED)).collect())
}

/// Installs the oracle: every report must be an actual deadlock in which every thread of
/// the program has asked for its second lock while holding its first. Then the reporting
/// thread unwinds, as with the default policy.
fn oracle(phases: &Phases) {
    let phases = phases.clone();
    let check = move |report: &Report| {
        assert_eq!(report.kind, ReportKind::Deadlock, "{report}");
        for (i, phase) in phases.iter().enumerate() {
            assert_eq!(
                phase.load(Ordering::SeqCst),
                WANTS_SECOND,
                "false report: thread {i} is not waiting\n{report}"
            );
        }
        panic!("impasse reported a deadlock");
    };
    Settings::new()
        .on_deadlock(Action::Callback(std::sync::Arc::new(check)))
        .on_inversion(Action::Ignore)
        .install();
}

/// The quiet oracle: any report at all is false.
fn no_report_allowed() {
    let fail =
        |report: &Report| panic!("false report in a program that cannot deadlock:\n{report}");
    Settings::new()
        .on_deadlock(Action::Callback(std::sync::Arc::new(fail)))
        .on_inversion(Action::Ignore)
        .install();
}

/// Runs `first` (whose guard is held) then `second` under the phases of thread `me`;
/// returns whether impasse reported (the thread unwound).
fn two_steps<G>(
    phases: &Phases,
    me: usize,
    first: impl FnOnce() -> G,
    second: impl FnOnce(),
) -> bool {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let _first = first();
        phases[me].store(HOLDS_FIRST, Ordering::SeqCst);
        phases[me].store(WANTS_SECOND, Ordering::SeqCst);
        second();
        phases[me].store(DONE, Ordering::SeqCst);
    }));
    outcome.is_err()
}

#[test]
fn abba_is_reported_exactly_when_it_deadlocks() {
    model(|| {
        let phases = phases(2);
        oracle(&phases);
        let (a, b) = (Arc::new(Mutex::new(())), Arc::new(Mutex::new(())));
        let other = {
            let (a, b, phases) = (a.clone(), b.clone(), phases.clone());
            spawn(move || two_steps(&phases, 1, || b.lock(), || drop(a.lock())))
        };
        let here = two_steps(&phases, 0, || a.lock(), || drop(b.lock()));
        let there = other.join().unwrap();
        assert!(!(here && there), "one report per deadlock");
    });
}

#[test]
fn the_same_order_never_reports() {
    model(|| {
        no_report_allowed();
        let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
        let other = {
            let (a, b) = (a.clone(), b.clone());
            spawn(move || {
                let _a = a.lock();
                *b.lock() += 1;
            })
        };
        {
            let _a = a.lock();
            *b.lock() += 1;
        }
        other.join().unwrap();
        assert_eq!(*b.lock(), 2);
    });
}

#[test]
fn a_writer_and_a_reader_in_a_cycle_with_a_mutex() {
    model(|| {
        let phases = phases(2);
        oracle(&phases);
        let (table, log) = (Arc::new(RwLock::new(())), Arc::new(Mutex::new(())));
        let other = {
            let (table, log, phases) = (table.clone(), log.clone(), phases.clone());
            spawn(move || two_steps(&phases, 1, || log.lock(), || drop(table.read())))
        };
        let here = two_steps(&phases, 0, || table.write(), || drop(log.lock()));
        let there = other.join().unwrap();
        assert!(!(here && there), "one report per deadlock");
    });
}

#[test]
fn readers_in_opposite_orders_never_report() {
    model(|| {
        no_report_allowed();
        let (p, q) = (Arc::new(RwLock::new(())), Arc::new(RwLock::new(())));
        let other = {
            let (p, q) = (p.clone(), q.clone());
            spawn(move || {
                let _q = q.read();
                drop(p.read_recursive());
            })
        };
        {
            let _p = p.read();
            drop(q.read_recursive());
        }
        other.join().unwrap();
    });
}

#[test]
fn rereading_behind_a_queued_writer() {
    // Thread 0 reads, then reads again; thread 1 writes. If the write queues between the two
    // reads, thread 0 waits for the writer, which waits for thread 0's first read.
    model(|| {
        let phases = phases(2);
        let writer_phase = phases.clone();
        oracle(&phases);
        let lock = Arc::new(RwLock::new(0));
        let writer = {
            let lock = lock.clone();
            spawn(move || {
                writer_phase[1].store(WANTS_SECOND, Ordering::SeqCst);
                let outcome = panic::catch_unwind(AssertUnwindSafe(|| *lock.write() += 1));
                writer_phase[1].store(DONE, Ordering::SeqCst);
                outcome.is_err()
            })
        };
        let here = two_steps(&phases, 0, || lock.read(), || drop(lock.read()));
        let there = writer.join().unwrap();
        assert!(!(here && there), "one report per deadlock");
    });
}

#[test]
fn a_three_thread_ring_is_reported_exactly_when_it_deadlocks() {
    model(|| {
        let phases = phases(3);
        oracle(&phases);
        let locks: Arc<Vec<Mutex<()>>> = Arc::new((0..3).map(|_| Mutex::new(())).collect());
        let others: Vec<_> = (1..3)
            .map(|i| {
                let (locks, phases) = (locks.clone(), phases.clone());
                spawn(move || {
                    two_steps(
                        &phases,
                        i,
                        || locks[i].lock(),
                        || drop(locks[(i + 1) % 3].lock()),
                    )
                })
            })
            .collect();
        let mut reports = usize::from(two_steps(
            &phases,
            0,
            || locks[0].lock(),
            || drop(locks[1].lock()),
        ));
        for other in others {
            reports += usize::from(other.join().unwrap());
        }
        assert!(reports <= 1, "one report per deadlock");
    });
}

#[test]
fn relocking_is_always_reported() {
    model(|| {
        let phases = phases(1);
        oracle(&phases);
        let m = Mutex::new(());
        assert!(two_steps(&phases, 0, || m.lock(), || drop(m.lock())));
    });
}

/// A re-lock that closes a lock-order cycle (inside `MutexGuard::unlocked`, with another lock
/// held) under every policy that lets the thread go on: in every interleaving, no two threads
/// ever hold the mutex at once, and every guard releases exactly what it holds. (The policies
/// that would unwind the re-lock abort the process instead, which a model cannot check:
/// `tests/lock_api_guards_relock.rs` runs them in child processes.)
#[test]
fn a_relock_that_closes_an_order_cycle_keeps_mutual_exclusion() {
    let recorder = || Action::Callback(std::sync::Arc::new(|_: &Report| {}));
    for action in [Action::Report, Action::Ignore, Action::Fail, recorder()] {
        let action = std::sync::Arc::new(action);
        model(move || {
            Settings::new()
                .on_deadlock(Action::Report)
                .on_inversion((*action).clone())
                .install();
            let (a, b) = (Arc::new(Mutex::new(0u32)), Arc::new(Mutex::new(())));
            let inside = Arc::new(AtomicUsize::new(0));
            // One order: `a` then `b`.
            {
                let _a = a.lock();
                let _b = b.lock();
            }
            let relocker = {
                let (a, b, inside) = (a.clone(), b.clone(), inside.clone());
                spawn(move || {
                    let mut guard = a.lock();
                    let mut keep = None;
                    // Released, then taken back while `b` is held: `b → a` closes the cycle.
                    impasse::MutexGuard::unlocked(&mut guard, || keep = Some(b.lock()));
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders of a");
                    *guard += 1;
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(keep);
                })
            };
            {
                let mut guard = a.lock();
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders of a");
                *guard += 1;
                inside.fetch_sub(1, Ordering::SeqCst);
            }
            relocker.join().unwrap();
            assert_eq!(*a.lock(), 2);
            assert!(a.try_lock().is_some(), "every guard released what it held");
        });
    }
}
