//! What happens on a finding: panic the thread that found it, abort, report and go on, or
//! call your function; and the [`Settings`] that choose, read from `IMPASSE_*` variables
//! once and overridable from code.
//!
//! ```
//! use impasse::policy::{Action, Settings};
//!
//! // Print deadlock reports and let the program block, whatever the environment says.
//! let previous = Settings::from_env()
//!     .unwrap_or_default()
//!     .on_deadlock(Action::Report)
//!     .install();
//! # previous.install();
//! ```

use crate::facade::plain::{AtomicU8, Ordering};
use crate::report::{stderr, Report};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// What to do with a finding.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Action {
    /// The thread whose wait closed the cycle panics with the report (the default). Its
    /// guards unwind and release their locks, so the other threads go on: detection plus
    /// recovery. A thread that is already panicking prints the report and aborts instead.
    #[default]
    Panic,
    /// Print the report to stderr and abort the process.
    Abort,
    /// Print the report to stderr, then block as the program asked.
    Report,
    /// Say nothing and block as the program asked (the report file still gets the report).
    Ignore,
    /// Call this function with the report, then block as the program asked. A panic in the
    /// function unwinds out of the blocking call, like [`Action::Panic`] (or aborts the
    /// process, where [`Action::Panic`] would: see its documentation).
    Callback(Arc<dyn Fn(&Report) + Send + Sync>),
    /// Print the report to stderr at once, go on as the program asked, and fail at the end:
    /// an `#[impasse::test]` in whose world it was found fails when its body returns, and the
    /// process exits with status 66 however it ends otherwise (ThreadSanitizer's convention),
    /// so a plain `#[test]` run or a program with a finding ends with a failing status. The
    /// default for potential deadlocks: a correct program is never stopped at an acquisition
    /// that did not deadlock, and the run still fails visibly.
    Fail,
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Panic => "Panic",
            Action::Abort => "Abort",
            Action::Report => "Report",
            Action::Ignore => "Ignore",
            Action::Callback(_) => "Callback(..)",
            Action::Fail => "Fail",
        })
    }
}

impl Action {
    fn parse(variable: &'static str, value: &str) -> Result<Action, SettingsError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "panic" => Ok(Action::Panic),
            "abort" => Ok(Action::Abort),
            "report" => Ok(Action::Report),
            "ignore" => Ok(Action::Ignore),
            "fail" => Ok(Action::Fail),
            _ => Err(SettingsError {
                variable,
                value: value.to_owned(),
                expected: "panic, fail, report, abort or ignore",
            }),
        }
    }
}

/// The detector's settings. Built from the environment by [`Settings::from_env`], changed
/// with the builder methods, made current with [`Settings::install`].
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `IMPASSE_ON_DEADLOCK` | `panic`, `fail`, `report`, `abort` or `ignore`: what a deadlock does | `panic` |
/// | `IMPASSE_ON_INVERSION` | the same, for a potential deadlock (a lock-order inversion) | `fail` |
/// | `IMPASSE_LOCK_ORDER` | `instances` (precise) or `strict` (lock classes, lockdep's discipline) | `instances` |
/// | `IMPASSE_REPORT` | a file to which every report is appended as one JSON line | none |
/// | `IMPASSE_TRACE` | a directory into which the process records its events ([`crate::trace`]) | none |
///
/// Settings are process-wide: tests that install different settings should not run at the
/// same time in one process.
#[derive(Debug, Clone)]
pub struct Settings {
    on_deadlock: Action,
    on_inversion: Action,
    strict_lock_order: bool,
    report_file: Option<PathBuf>,
    trace_dir: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            on_deadlock: Action::Panic,
            on_inversion: Action::Fail,
            strict_lock_order: false,
            report_file: None,
            trace_dir: None,
        }
    }
}

impl Settings {
    /// The defaults: a deadlock panics the thread whose wait closed it ([`Action::Panic`]),
    /// a potential deadlock is reported and fails the run at its end ([`Action::Fail`]), lock
    /// order by instances, no report file.
    pub fn new() -> Settings {
        Settings::default()
    }

    /// The defaults, overridden by every `IMPASSE_*` variable that is set. A value that
    /// cannot be understood is an error naming its variable.
    pub fn from_env() -> Result<Settings, SettingsError> {
        let mut settings = Settings::new();
        if let Some(value) = env_var("IMPASSE_ON_DEADLOCK")? {
            settings.on_deadlock = Action::parse("IMPASSE_ON_DEADLOCK", &value)?;
        }
        if let Some(value) = env_var("IMPASSE_ON_INVERSION")? {
            settings.on_inversion = Action::parse("IMPASSE_ON_INVERSION", &value)?;
        }
        if let Some(value) = env_var("IMPASSE_LOCK_ORDER")? {
            settings.strict_lock_order = match value.trim().to_ascii_lowercase().as_str() {
                "instances" | "" => false,
                "strict" => true,
                _ => {
                    return Err(SettingsError {
                        variable: "IMPASSE_LOCK_ORDER",
                        value,
                        expected: "instances or strict",
                    })
                }
            };
        }
        if let Some(value) = env_var("IMPASSE_REPORT")? {
            if !value.is_empty() {
                settings.report_file = Some(PathBuf::from(value));
            }
        }
        if let Some(value) = env_var("IMPASSE_TRACE")? {
            if !value.is_empty() {
                settings.trace_dir = Some(PathBuf::from(value));
            }
        }
        Ok(settings)
    }

    /// What a deadlock does.
    pub fn on_deadlock(mut self, action: Action) -> Settings {
        self.on_deadlock = action;
        self
    }

    /// What a potential deadlock (a lock-order inversion) does.
    pub fn on_inversion(mut self, action: Action) -> Settings {
        self.on_inversion = action;
        self
    }

    /// Strict lock order: order locks by class (creation site) across all threads, as
    /// lockdep does, and report any inversion of that order. Off by default, where only
    /// inversions that can deadlock between the lock instances of this run are reported.
    /// Choose it before taking locks: edges recorded in one mode are not converted.
    pub fn strict_lock_order(mut self, strict: bool) -> Settings {
        self.strict_lock_order = strict;
        self
    }

    /// Whether lock order is strict (see [`Settings::strict_lock_order`]).
    pub fn is_strict_lock_order(&self) -> bool {
        self.strict_lock_order
    }

    /// Appends every report to `path` as one JSON line (`None`: no file).
    pub fn report_file(mut self, path: Option<PathBuf>) -> Settings {
        self.report_file = path;
        self
    }

    /// Records every event the detector sees into a file of this process's own in `dir`
    /// (`None`: no trace; see [`crate::trace`]). The first directory a process records into
    /// is its directory for good: its file is opened once. Installing settings with `None`
    /// stops only a recording that the settings they replace started.
    pub fn trace_dir(mut self, dir: Option<PathBuf>) -> Settings {
        self.trace_dir = dir;
        self
    }

    /// The directory traces are recorded into, if any.
    pub fn trace_directory(&self) -> Option<&std::path::Path> {
        self.trace_dir.as_deref()
    }

    /// Makes these the current settings and returns the ones they replace (install those
    /// again to restore them).
    pub fn install(self) -> Settings {
        STRICT.store(
            if self.strict_lock_order {
                STRICT_YES
            } else {
                STRICT_NO
            },
            Ordering::Relaxed,
        );
        let mut current = CURRENT.lock();
        let previous = current.take().unwrap_or_else(from_env_or_warn);
        // Settings without a directory stop a recording only if the settings they replace
        // started it (a `TraceLayer` may have started one on its own).
        #[cfg(all(feature = "detect", not(loom)))]
        if self.trace_dir.is_some() || previous.trace_dir.is_some() {
            crate::trace::record::set_dir(self.trace_dir.clone());
        }
        *current = Some(self);
        previous
    }

    /// The current settings: the installed ones, or else those from the environment.
    pub fn current() -> Settings {
        CURRENT.lock().get_or_insert_with(from_env_or_warn).clone()
    }
}

crate::facade::global! {
    static CURRENT: crate::facade::sync::Mutex<Option<Settings>> = crate::facade::sync::Mutex::new(None);
}

fn env_var(variable: &'static str) -> Result<Option<String>, SettingsError> {
    match std::env::var(variable) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(raw)) => Err(SettingsError {
            variable,
            value: raw.to_string_lossy().into_owned(),
            expected: "valid UTF-8",
        }),
    }
}

/// Settings read implicitly (no `install` before the first finding): a bad variable must not
/// turn a lock call into a panic of its own, so it is named on stderr and the defaults hold.
fn from_env_or_warn() -> Settings {
    Settings::from_env().unwrap_or_else(|error| {
        stderr::write(&format!("impasse: {error}; using the defaults"));
        Settings::new()
    })
}

/// A setting that could not be understood: which variable, its value, what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    variable: &'static str,
    value: String,
    expected: &'static str,
}

impl SettingsError {
    /// The variable whose value was bad.
    pub fn variable(&self) -> &str {
        self.variable
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?} is not understood (expected {})",
            self.variable, self.value, self.expected
        )
    }
}

impl std::error::Error for SettingsError {}

/// Applies the current deadlock action to `report`. Returns when the action lets the thread
/// block as the program asked; panics or aborts otherwise. A thread that is `relocking` (a
/// live guard expects the lock back) or already panicking cannot unwind safely: an unwinding
/// action aborts it instead.
#[cfg(feature = "detect")]
#[track_caller]
pub(crate) fn deadlock_found(report: &Report, relocking: bool) {
    let settings = Settings::current();
    if let Some(path) = &settings.report_file {
        append_json(path, report);
    }
    #[cfg(all(feature = "tracing", not(loom)))]
    crate::trace::emit::report(report);
    match settings.on_deadlock {
        Action::Panic if crate::facade::thread::panicking() => {
            abort_with(report, "the thread is already panicking; aborting")
        }
        Action::Panic if relocking => abort_relocking(report),
        Action::Panic => panic!("{report}"),
        Action::Abort => abort_with(report, "aborting (IMPASSE_ON_DEADLOCK=abort)"),
        Action::Fail => fail_at_exit(report),
        Action::Report => stderr::write(&report.to_string()),
        Action::Ignore => {}
        Action::Callback(callback) => call_back(&callback, report, relocking, || {}),
    }
}

/// Applies the current inversion action to `report`. `release` undoes the acquisition that
/// closed the cycle; it runs before the thread unwinds, and not at all when the action lets
/// the thread go on holding the lock. `fails_test` is called for the actions that fail the
/// test the finding was made in (the thread's world records it).
#[cfg(feature = "detect")]
#[track_caller]
pub(crate) fn inversion_found(
    report: &Report,
    relocking: bool,
    fails_test: impl FnOnce(),
    release: impl FnOnce(),
) {
    let settings = Settings::current();
    if let Some(path) = &settings.report_file {
        append_json(path, report);
    }
    #[cfg(all(feature = "tracing", not(loom)))]
    crate::trace::emit::report(report);
    if matches!(settings.on_inversion, Action::Fail | Action::Panic) {
        fails_test();
    }
    match settings.on_inversion {
        Action::Panic if crate::facade::thread::panicking() => stderr::write(&report.to_string()),
        Action::Panic if relocking => abort_relocking(report),
        Action::Panic => {
            release();
            panic!("{report}");
        }
        Action::Abort => abort_with(report, "aborting (IMPASSE_ON_INVERSION=abort)"),
        Action::Fail => fail_at_exit(report),
        Action::Report => stderr::write(&report.to_string()),
        Action::Ignore => {}
        Action::Callback(callback) => call_back(&callback, report, relocking, release),
    }
}

/// Calls a policy callback. A panic in it unwinds the thread, after `release`; or aborts the
/// process where unwinding would release a lock a live guard owns (`relocking`).
#[cfg(feature = "detect")]
fn call_back(
    callback: &Arc<dyn Fn(&Report) + Send + Sync>,
    report: &Report,
    relocking: bool,
    release: impl FnOnce(),
) {
    let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(report)));
    if let Err(payload) = called {
        if relocking {
            abort_relocking(report);
        }
        release();
        std::panic::resume_unwind(payload);
    }
}

/// Prints `report` and `why`, then aborts the process.
#[cfg(feature = "detect")]
fn abort_with(report: &Report, why: &str) -> ! {
    stderr::write(&format!("{report}\nimpasse: {why}"));
    std::process::abort()
}

/// The report could not unwind the thread: it was re-locking a lock a live guard owns (a
/// condition variable's mutex after a wait, `MutexGuard::unlocked`, `bump`), and unwinding would
/// release a lock it does not hold.
#[cfg(feature = "detect")]
fn abort_relocking(report: &Report) -> ! {
    abort_with(
        report,
        "the thread was taking back a lock that a live guard owns (after a condition-variable \
         wait, `unlocked` or `bump`); unwinding would release a lock it does not hold, so the \
         process aborts",
    )
}

/// [`Action::Fail`]: prints `report` now and makes the process's exit status 66.
#[cfg(feature = "detect")]
fn fail_at_exit(report: &Report) {
    stderr::write(&report.to_string());
    exit_status::failed(report.kind);
}

/// The exit status of a process in which an [`Action::Fail`] finding was made: whatever the
/// program exits with (`main` returning, `std::process::exit`, libtest's summary), a handler
/// registered with the C library's `atexit` runs last, names the findings and makes the status
/// 66. It runs after Rust's own exit work (stdout is flushed by then), on the exiting thread.
#[cfg(feature = "detect")]
#[cfg_attr(loom, allow(dead_code))] // under loom there is no process exit to set a status for
mod exit_status {
    use crate::facade::plain::{AtomicBool, AtomicUsize, Ordering};
    use crate::report::ReportKind;

    /// ThreadSanitizer's exit status for a run with findings.
    pub(super) const STATUS: i32 = 66;

    static DEADLOCKS: AtomicUsize = AtomicUsize::new(0);
    static POTENTIAL: AtomicUsize = AtomicUsize::new(0);
    static REGISTERED: AtomicBool = AtomicBool::new(false);

    /// Counts a finding that fails the run, and makes sure the exit handler is registered.
    pub(super) fn failed(kind: ReportKind) {
        let counter = match kind {
            ReportKind::PotentialDeadlock => &POTENTIAL,
            _ => &DEADLOCKS,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if !REGISTERED.swap(true, Ordering::AcqRel) {
            register();
        }
    }

    #[cfg(all(unix, not(loom)))]
    fn register() {
        use crate::report::stderr;

        extern "C" fn at_exit() {
            let (deadlocks, potential) = (
                DEADLOCKS.load(Ordering::Relaxed),
                POTENTIAL.load(Ordering::Relaxed),
            );
            stderr::write(&summary(deadlocks, potential));
            // SAFETY: `_exit` ends the process at once, which is what this handler is for;
            // it is async-signal-safe and may be called from an `atexit` handler (unlike
            // `exit`). Everything Rust flushes at exit has been flushed before handlers run.
            unsafe { libc::_exit(STATUS) }
        }
        // SAFETY: `at_exit` is an `extern "C" fn()` that never unwinds (it ends the process),
        // as `atexit` requires; registering it has no other precondition.
        if unsafe { libc::atexit(at_exit) } != 0 {
            stderr::write("impasse: cannot register the exit handler; the exit status will not say that findings were reported");
        }
    }

    /// Without `atexit` (or under loom, whose models are not the process) there is no exit
    /// status to set: the reports on stderr are what is left.
    #[cfg(not(all(unix, not(loom))))]
    fn register() {}

    /// The last line a failing run prints.
    pub(super) fn summary(deadlocks: usize, potential: usize) -> String {
        let mut found = Vec::new();
        if deadlocks > 0 {
            found.push(format!("{deadlocks} deadlock(s)"));
        }
        if potential > 0 {
            found.push(format!("{potential} potential deadlock(s)"));
        }
        format!(
            "impasse: {} reported during this run (see above); exiting with status {STATUS} \
             (IMPASSE_ON_INVERSION=report reports without failing the run)",
            found.join(" and ")
        )
    }
}

/// Whether lock order is by class (strict mode), as currently set. Asked on every new
/// lock-order edge, so it is cached apart from the settings' lock.
#[cfg(feature = "detect")]
pub(crate) fn strict_lock_order() -> bool {
    match STRICT.load(Ordering::Relaxed) {
        STRICT_YES => true,
        STRICT_NO => false,
        _ => {
            let strict = Settings::current().strict_lock_order;
            STRICT.store(
                if strict { STRICT_YES } else { STRICT_NO },
                Ordering::Relaxed,
            );
            strict
        }
    }
}

/// `STRICT`: not read yet, no, yes.
const STRICT_YES: u8 = 2;
const STRICT_NO: u8 = 1;
static STRICT: AtomicU8 = AtomicU8::new(0);

#[cfg(feature = "detect")]
fn append_json(path: &std::path::Path, report: &Report) {
    use std::io::Write;
    let line = report.to_json() + "\n";
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(error) = written {
        stderr::write(&format!(
            "impasse: cannot append the report to {}: {error}",
            path.display()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_potential_deadlock_fails_the_run_and_a_deadlock_panics_by_default() {
        let defaults = Settings::new();
        assert!(matches!(defaults.on_deadlock, Action::Panic));
        assert!(matches!(defaults.on_inversion, Action::Fail));
    }

    #[cfg(feature = "detect")]
    #[test]
    fn the_exit_summary_counts_each_kind() {
        let text = exit_status::summary(0, 2);
        assert!(
            text.starts_with("impasse: 2 potential deadlock(s) reported"),
            "{text}"
        );
        assert!(text.contains("status 66"), "{text}");
        let text = exit_status::summary(1, 1);
        assert!(
            text.contains("1 deadlock(s) and 1 potential deadlock(s)"),
            "{text}"
        );
    }

    #[test]
    fn every_action_parses_in_any_case() {
        for (text, expected) in [
            ("panic", "Panic"),
            ("ABORT", "Abort"),
            (" report ", "Report"),
            ("Ignore", "Ignore"),
            ("fail", "Fail"),
        ] {
            let action = Action::parse("IMPASSE_ON_DEADLOCK", text).expect(text);
            assert_eq!(format!("{action:?}"), expected);
        }
    }

    #[test]
    fn a_bad_value_names_its_variable_and_the_choices() {
        let error = Action::parse("IMPASSE_ON_DEADLOCK", "explode").unwrap_err();
        assert_eq!(error.variable(), "IMPASSE_ON_DEADLOCK");
        let text = error.to_string();
        assert!(text.contains("IMPASSE_ON_DEADLOCK=\"explode\""), "{text}");
        assert!(
            text.contains("panic, fail, report, abort or ignore"),
            "{text}"
        );
    }
}
