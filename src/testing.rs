//! Running one test in a world of its own: what `#[impasse::test]` expands to.
//!
//! [`run`] gives the test its world: the test's thread and every thread it spawns through
//! `impasse::thread`. Any report made in the world fails the test, even if its thread's panic
//! was swallowed. A deadlock through waits that any thread could end (channels, condition
//! variables, barriers, semaphores, the pool) is reported once no thread of the process could
//! still end them (the closed-world rule, `src/detect/README.md`): at once when every other
//! thread is known to impasse, else once the neighbours (servers, pools, other tests) have
//! settled. libtest's runner, which only waits for tests, and impasse's own watchdogs are never
//! counted as threads that could act; [`inert_thread`] declares your own.
//!
//! A watchdog turns a stall the detector cannot judge into a failure of this test alone: after
//! the timeout it ends every wait of the test's threads in impasse with a stall report (every
//! thread's wait, and the threads that kept impasse from calling it a deadlock), so the test
//! fails with that report and the rest of the suite runs on. Only a test whose threads are
//! blocked where impasse cannot reach them ends the process, after saying so.
//!
//! ```
//! impasse::testing::run("doc::example", impasse::testing::Options::new(), || {
//!     let barrier = impasse::Barrier::new(1);
//!     barrier.wait();
//! });
//! ```

use crate::detect;
use crate::facade::sync::{Arc, Condvar, Mutex};
use crate::report::ThreadRef;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// How a test is run.
#[derive(Debug, Clone)]
pub struct Options {
    timeout: Duration,
}

impl Options {
    /// The defaults: a stall limit of 60 s, or `IMPASSE_TEST_TIMEOUT` (whole seconds) when it
    /// is set to a number (a value that is not one is named on stderr and ignored).
    pub fn new() -> Options {
        let timeout = match std::env::var("IMPASSE_TEST_TIMEOUT") {
            Ok(value) => match value.trim().parse::<u64>() {
                Ok(seconds) => Duration::from_secs(seconds),
                Err(_) => {
                    eprintln!(
                        "impasse: IMPASSE_TEST_TIMEOUT={value:?} is not a whole number of seconds; using 60"
                    );
                    Duration::from_secs(60)
                }
            },
            Err(_) => Duration::from_secs(60),
        };
        Options { timeout }
    }

    /// How long the test may go without finishing before the watchdog fails it with a dump of
    /// every thread's wait.
    pub fn timeout(mut self, timeout: Duration) -> Options {
        self.timeout = timeout;
        self
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

/// Runs `body` as the test `name`, in a world of its own (see the module docs). Panics, so
/// failing the test, if the body panics or any thread of the world made a report.
pub fn run<R>(name: &str, options: Options, body: impl FnOnce() -> R) -> R {
    // The watchdog's thread starts before the world opens, so it is not a newcomer to it.
    let watchdog = Watchdog::start(name, options.timeout);
    let world = detect::open_world(name);
    watchdog.watch(world);
    let outcome = panic::catch_unwind(AssertUnwindSafe(body));
    watchdog.stop();
    let findings = detect::close_world(world);
    match outcome {
        Err(payload) => panic::resume_unwind(payload),
        Ok(_) if !findings.is_empty() => {
            let reports: Vec<String> = findings.iter().map(ToString::to_string).collect();
            panic!(
                "impasse: {} report(s) in test `{name}`:\n{}",
                reports.len(),
                reports.join("\n\n")
            )
        }
        Ok(value) => value,
    }
}

/// Declares the calling thread inert until the returned value is dropped: it never ends a wait
/// on impasse's primitives (a watchdog of your own, a progress printer, a metrics thread).
///
/// A deadlock through waits that any thread could end (a channel, a condition variable) is
/// certain only once no thread of the process could still act, and a thread impasse cannot see
/// into that sleeps with a timeout could: so it keeps every test's deadlocks from being called
/// deadlocks (they become stalls, reported at the test's timeout). A thread declared inert does
/// not.
///
/// ```
/// let helper = std::thread::spawn(|| {
///     let _inert = impasse::testing::inert_thread();
///     std::thread::sleep(std::time::Duration::from_millis(10)); // watches, never wakes
/// });
/// helper.join().unwrap();
/// ```
pub fn inert_thread() -> InertThread {
    InertThread(detect::inert())
}

/// The calling thread counts as inert while this lives; see [`inert_thread`].
#[derive(Debug)]
#[must_use = "the thread counts as inert only while this lives"]
pub struct InertThread(#[allow(dead_code)] detect::Inert); // held for its drop

#[derive(Default)]
struct Shared {
    world: Option<detect::WorldToken>,
    stopped: bool,
    /// The watchdog's thread counts as inert (before the world opens, so that no judgement in
    /// the world ever sees it as a thread that could act).
    inert: bool,
}

struct Watchdog {
    shared: Arc<(Mutex<Shared>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(name: &str, timeout: Duration) -> Watchdog {
        let shared: Arc<(Mutex<Shared>, Condvar)> = Arc::default();
        let watched = shared.clone();
        let name = name.to_owned();
        let thread = std::thread::Builder::new()
            .name(String::from("impasse-watchdog"))
            .spawn(move || {
                let _inert = detect::inert();
                watched.0.lock().inert = true;
                watched.1.notify_all();
                watch(&watched, &name, timeout)
            })
            .ok();
        if thread.is_some() {
            let mut state = shared.0.lock();
            while !state.inert {
                state = shared.1.wait(state);
            }
        }
        Watchdog { shared, thread }
    }

    fn watch(&self, world: detect::WorldToken) {
        self.shared.0.lock().world = Some(world);
    }

    fn stop(mut self) {
        self.shared.0.lock().stopped = true;
        self.shared.1.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How long a stalled test has to end once its waits have been ended, before the process is.
const GRACE: Duration = Duration::from_secs(10);

/// The watchdog's thread: waits for the test to stop, or for the timeout; then ends the test's
/// waits, and waits for it to stop again, or for the grace period.
fn watch(shared: &(Mutex<Shared>, Condvar), name: &str, timeout: Duration) {
    let mut state = shared.0.lock();
    let Some(state_after) = wait_stopped(shared, state, timeout) else {
        return;
    };
    state = state_after;
    let world = state.world;
    drop(state);
    let Some(world) = world else {
        // The world never opened (a stall before it did): nothing can be ended but the process.
        give_up(name, timeout, None);
    };
    let reporter = ThreadRef::new(0, Some(String::from("impasse-watchdog")));
    let why = format!(
        "impasse: test `{name}` did not finish within {timeout:?}; its waits in impasse were \
         ended with this report"
    );
    let report = detect::end_world(world, reporter, &why);
    let state = shared.0.lock();
    if wait_stopped(shared, state, GRACE).is_some() {
        give_up(name, timeout, Some((world, &report)));
    }
}

/// Waits until the test stops (`None`) or `limit` passes (the state, locked).
fn wait_stopped<'a>(
    shared: &'a (Mutex<Shared>, Condvar),
    mut state: crate::facade::sync::MutexGuard<'a, Shared>,
    limit: Duration,
) -> Option<crate::facade::sync::MutexGuard<'a, Shared>> {
    let deadline = Instant::now() + limit;
    while !state.stopped {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Some(state);
        }
        state = shared.1.wait_timeout(state, left).0;
    }
    None
}

/// The last resort: a test whose threads could not be ended (they are blocked outside
/// impasse's waits) ends the process, after saying which test and why. Straight to stderr: the
/// test's captured output, where its failure would have been shown, is lost with the process.
fn give_up(name: &str, timeout: Duration, ended: Option<(detect::WorldToken, &str)>) -> ! {
    let (report, threads) = match ended {
        Some((world, report)) => (report.to_owned(), detect::still_running(world)),
        None => (String::new(), String::from("  (its world never opened)")),
    };
    crate::report::stderr::write(&format!(
        "{report}\nimpasse: test `{name}` did not finish within {timeout:?}, and did not end \
         within {GRACE:?} after its waits in impasse were ended: its threads are blocked where \
         impasse cannot reach them:\n{threads}\nimpasse: ending the test process (tests still \
         running are not reported)"
    ));
    std::process::exit(101)
}
