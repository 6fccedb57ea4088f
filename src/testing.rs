//! Running one test as a closed world: what `#[impasse::test]` expands to.
//!
//! Under `cargo test` the harness's own thread, and the threads of tests running beside this
//! one, are unknown to impasse, so no world containing them can ever be called closed, and
//! waits that any thread could end (channels, condition variables, barriers, semaphores)
//! could never be judged. [`run`] gives the test its own world: the test's thread and every
//! thread it spawns through `impasse::thread`. While no other thread starts during the test
//! (a `std::thread` it spawned, or another test), a world whose every thread is blocked is
//! reported as a deadlock the moment its last thread blocks. A watchdog turns a stall the
//! detector cannot judge into a failure with a dump of every thread's wait, and any report
//! made in the world fails the test even if its thread's panic was swallowed.
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

#[derive(Default)]
struct Shared {
    world: Option<detect::WorldToken>,
    stopped: bool,
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
            .spawn(move || watch(&watched, &name, timeout))
            .ok();
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

/// The watchdog's thread: waits for the test to stop, or for the timeout.
fn watch(shared: &(Mutex<Shared>, Condvar), name: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut state = shared.0.lock();
    while !state.stopped {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let world = state.world;
            drop(state);
            stalled(name, timeout, world);
        }
        state = shared.1.wait_timeout(state, left).0;
    }
}

fn stalled(name: &str, timeout: Duration, world: Option<detect::WorldToken>) -> ! {
    use std::io::Write;
    let reporter = ThreadRef::new(0, Some(String::from("impasse-watchdog")));
    let text = match world {
        Some(world) => format!(
            "{}\nimpasse: test `{name}` did not finish within {timeout:?}; failing the test process",
            detect::stall_report(world, reporter)
        ),
        None => format!("impasse: stall: test `{name}` did not finish within {timeout:?}"),
    };
    // Straight to stderr: `eprintln!` would go to the test's captured output, which the exit
    // below throws away.
    let _ = writeln!(std::io::stderr(), "{text}");
    std::process::exit(101)
}
