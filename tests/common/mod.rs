//! Helpers shared by the scenario tests: named threads, a watchdog so that no test can hang
//! CI, and the reading of deadlock reports out of panics.
#![allow(dead_code)] // each test file uses its own subset

use impasse::thread::JoinHandle;
use std::any::Any;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The first line every actual-deadlock report starts with (DESIGN.md §4).
pub const DEADLOCK: &str = "impasse: deadlock detected";

/// Fails the whole test process if the watched test has not finished within `limit`:
/// a deadlock the detector missed must turn into a failure, never a hang.
pub struct Watchdog {
    done: mpsc::Sender<()>,
}

impl Watchdog {
    pub fn new(name: &str, limit: Duration) -> Watchdog {
        let (done, finished) = mpsc::channel::<()>();
        let name = name.to_owned();
        thread::spawn(move || {
            // It only ever ends the process: it must not keep tests' waits from being judged.
            let _inert = impasse::testing::inert_thread();
            if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(limit) {
                // Straight to stderr: `eprintln!` would go to the test's captured output,
                // which the exit below throws away.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "watchdog: test `{name}` did not finish within {limit:?}: a missed deadlock?"
                );
                std::process::exit(101);
            }
        });
        Watchdog { done }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let _ = self.done.send(());
    }
}

/// A watchdog with the default limit for scenario tests.
pub fn watchdog(name: &str) -> Watchdog {
    Watchdog::new(name, Duration::from_secs(20))
}

/// Spawns a thread with a name (reports name threads by their names), through
/// `impasse::thread`, so that its spawn and join order it for the detector.
pub fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    impasse::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .expect("spawn a test thread")
}

/// The text of a panic payload.
pub fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else {
        String::from("<non-text panic payload>")
    }
}

/// Joins every thread; returns the reports of those that panicked with a deadlock report,
/// and fails on any other panic.
pub fn join_all<T>(handles: Vec<JoinHandle<T>>) -> Vec<String> {
    let mut reports = Vec::new();
    for handle in handles {
        let name = handle.thread().name().unwrap_or("<unnamed>").to_owned();
        if let Err(payload) = handle.join() {
            let text = panic_text(&*payload);
            assert!(
                text.starts_with(DEADLOCK),
                "thread {name} panicked with something other than a deadlock report:\n{text}"
            );
            reports.push(text);
        }
    }
    reports
}

/// Asserts exactly one deadlock report came out of the threads, and returns it.
pub fn one_report<T>(handles: Vec<JoinHandle<T>>) -> String {
    let mut reports = join_all(handles);
    assert_eq!(
        reports.len(),
        1,
        "expected exactly one deadlock report, got {reports:#?}"
    );
    reports.pop().expect("one report")
}

/// Waits (bounded by the test's watchdog) until `ready` holds; for lining threads up on a
/// state another thread reaches inside a blocking call, which no barrier can signal.
pub fn wait_until(mut ready: impl FnMut() -> bool) {
    while !ready() {
        thread::sleep(Duration::from_millis(1));
    }
}

/// `file:line` of the caller's line, as reports print sites (without the column).
#[track_caller]
pub fn here() -> String {
    let at = std::panic::Location::caller();
    format!("{}:{}:", at.file(), at.line())
}

/// Joins every thread (all of them, even after a failure), then fails if any panicked, a
/// deadlock report included, quoting each panic; returns the threads' results in order.
/// For scenarios that must stay quiet: with the default policy a report panics a thread.
pub fn join_quietly<T>(handles: Vec<JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for handle in handles {
        let name = handle.thread().name().unwrap_or("<unnamed>").to_owned();
        match handle.join() {
            Ok(result) => results.push(result),
            Err(payload) => failures.push(format!(
                "thread {name} panicked:\n{}",
                panic_text(&*payload)
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "expected no report and no panic, got:\n{}",
        failures.join("\n\n")
    );
    results
}

/// A test world's threads, as the test's thread waits for them: it hears of every end (and
/// every panic, a report) through an impasse condition variable, so that it is itself a
/// member waiting in the world and may be the one that finds the deadlock.
pub mod world {
    use impasse::{Condvar, Mutex};
    use std::panic::{self, AssertUnwindSafe};
    use std::sync::Arc;

    #[derive(Default)]
    struct Tally {
        finished: usize,
        panicked: usize,
    }

    /// Where the test's thread waits for the scenario's threads.
    pub struct Ending {
        tally: Mutex<Tally>,
        changed: Condvar,
    }

    impl Ending {
        pub fn new() -> Arc<Ending> {
            Arc::new(Ending {
                tally: Mutex::named("tally", Tally::default()),
                changed: Condvar::named("ending"),
            })
        }

        /// Spawns a member whose end (and panic, a report) the test's thread hears of.
        pub fn spawn(
            self: &Arc<Self>,
            name: &str,
            body: impl FnOnce() + Send + 'static,
        ) -> impasse::thread::JoinHandle<()> {
            let ending = Arc::clone(self);
            super::spawn(name, move || {
                let outcome = panic::catch_unwind(AssertUnwindSafe(body));
                {
                    let mut tally = ending.tally.lock();
                    tally.finished += 1;
                    tally.panicked += usize::from(outcome.is_err());
                }
                ending.changed.notify_all();
                if let Err(payload) = outcome {
                    panic::resume_unwind(payload);
                }
            })
        }

        /// The test thread's part: waits until a thread has panicked or all finished (maybe
        /// finding the deadlock itself), `release`s whatever is still stuck, joins everyone.
        /// A thread may only panic with a deadlock report.
        pub fn close(&self, threads: Vec<impasse::thread::JoinHandle<()>>, release: impl Fn()) {
            let n = threads.len();
            let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                let mut tally = self.tally.lock();
                self.changed
                    .wait_while(&mut tally, |t| t.panicked == 0 && t.finished < n);
            }));
            release();
            let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                let mut tally = self.tally.lock();
                self.changed.wait_while(&mut tally, |t| t.finished < n);
            }));
            for thread in threads {
                if let Err(payload) = thread.join() {
                    let text = super::panic_text(&*payload);
                    assert!(text.starts_with(super::DEADLOCK), "{text}");
                }
            }
        }
    }

    /// What `impasse::testing::run` fails with, checked to hold deadlock reports only.
    pub fn reports_of(test: &str, scenario: impl FnOnce()) -> String {
        use impasse::testing::{self, Options};
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            testing::run(test, Options::new(), scenario);
        }));
        let text = super::panic_text(&*outcome.expect_err("the scenario is reported"));
        let reports = match text.split_once('\n') {
            Some((first, rest)) if first.contains("report(s) in test") => rest,
            _ => &text, // the test's thread was the victim and its panic left the body
        };
        assert!(reports.starts_with(super::DEADLOCK), "{text}");
        text
    }
}

/// Asserts that `report` contains every one of `parts`, naming the first one missing.
pub fn assert_contains(report: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            report.contains(part),
            "the report lacks {part:?}:\n{report}"
        );
    }
}

/// A pool of `threads` workers whose threads are named `<name>-<i>`.
pub fn pool(threads: usize, name: &str) -> impasse::pool::ThreadPool {
    impasse::pool::ThreadPool::builder()
        .num_threads(threads)
        .thread_name(name)
        .build()
        .expect("a pool")
}

/// Fibonacci by fork-join on `pool`: every task submits two and waits for both, so tasks
/// wait for tasks all the way down.
pub fn pool_fib(pool: &std::sync::Arc<impasse::pool::ThreadPool>, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (left, right) = (pool.clone(), pool.clone());
    let a = pool.submit(move || pool_fib(&left, n - 1));
    let b = pool.submit(move || pool_fib(&right, n - 2));
    a.result().unwrap() + b.result().unwrap()
}

/// One test of this binary, run again in a child process of its own: for scenarios that end
/// or freeze the process (an abort, an exit status, a report that lets a deadlock block), or
/// that need the process, or its settings, to themselves.
pub mod child {
    use std::process::Command;

    const MARKER: &str = "IMPASSE_TEST_CHILD";

    /// Whether this process is the child that runs `test`.
    pub fn is(test: &str) -> bool {
        std::env::var(MARKER).is_ok_and(|running| running == test)
    }

    /// A command that runs `test` alone in a child (exactly that test, one test thread; add
    /// `--nocapture` to see what a passing test prints), marked as running it, with
    /// `RUST_BACKTRACE=0` and none of the parent's `IMPASSE_*` settings: the child starts from
    /// the defaults unless told otherwise.
    pub fn of(test: &str) -> Command {
        let mut command = Command::new(std::env::current_exe().expect("the test binary"));
        command
            .args([test, "--exact", "--test-threads=1"])
            .env(MARKER, test)
            .env("RUST_BACKTRACE", "0");
        for (variable, _) in std::env::vars_os() {
            if variable.to_string_lossy().starts_with("IMPASSE_") {
                command.env_remove(variable);
            }
        }
        command
    }
}

/// Makes a potential deadlock panic the thread whose acquisition closed the cycle (the
/// default reports it and fails the run at its end), for tests that read the report from that
/// thread's panic. Once per process; the other settings stay as the environment says.
pub fn inversions_panic() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        impasse::policy::Settings::from_env()
            .unwrap_or_default()
            .on_inversion(impasse::policy::Action::Panic)
            .install();
    });
}

/// Runs `first` to completion in one thread, then `second` in another, both spawned up front
/// (through `impasse::thread`) so that nothing orders them for the detector: std barriers are
/// invisible to it. Returns the texts of the threads' panics, in spawn order.
pub fn one_after_another(
    first: (&str, impl FnOnce() + Send + 'static),
    second: (&str, impl FnOnce() + Send + 'static),
) -> Vec<String> {
    let turn = std::sync::Arc::new(std::sync::Barrier::new(2));
    let t1 = {
        let turn = turn.clone();
        let (name, work) = first;
        spawn(name, move || {
            work();
            turn.wait();
        })
    };
    let (name, work) = second;
    let t2 = spawn(name, move || {
        turn.wait();
        work();
    });
    [t1, t2]
        .into_iter()
        .filter_map(|t| t.join().err())
        .map(|payload| panic_text(&*payload))
        .collect()
}
