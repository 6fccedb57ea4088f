//! The claim of "deadlock reports in test runs", end to end: a test suite with every kind of
//! deadlock beside passing tests (the fixture crate `tests/fixtures/deadlocking-suite`), run
//! by `cargo test` at 1, 2 and 8 test threads, twice each, and by `cargo nextest run` (a
//! process per test): every run finishes, libtest prints its summary, each deadlocking test
//! fails with its report in its own output (a deadlock report where impasse is certain, a
//! stall report at the test's timeout for the one it cannot judge), every other test passes,
//! the inversion is reported at once without failing its test, and the run fails.
//!
//! The fixture is compiled by a child `cargo` into `<target>/fixture`, offline (its lock file
//! pins the workspace's versions, which the build of this test has fetched already). A limit
//! on every child ends a run that hangs, and fails the test.

#![cfg(feature = "detect")]

mod common;

use common::DEADLOCK;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Compiling the fixture from scratch takes about a minute here; generous for slow machines.
const FIRST_RUN: Duration = Duration::from_secs(600);
/// A run of the compiled suite takes a few seconds (its stall waits 3 s).
const LATER_RUN: Duration = Duration::from_secs(120);

const POTENTIAL: &str = "impasse: potential deadlock";
const STALL: &str = "impasse: stall";

/// The deadlocking tests: what each one's output must hold.
const DEADLOCKING: [(&str, &[&str]); 8] = [
    (
        "suite::plain_lock_cycle",
        &[DEADLOCK, "Mutex \"fork-a\"", "Mutex \"fork-b\"", "2 threads wait for each other in a cycle"],
    ),
    (
        "suite::a_receiver_holding_its_own_sender",
        &[
            DEADLOCK,
            "the only thread of the test `deadlocking_suite::suite::a_receiver_holding_its_own_sender` waits",
            "waits to receive from channel \"mailbox\"",
        ],
    ),
    (
        "suite::condvar_never_notified",
        &[DEADLOCK, "Condvar \"changed\"", "the only thread of the test"],
    ),
    (
        "suite::barrier_missing_a_party",
        &[DEADLOCK, "Barrier \"meeting\"", "the only thread of the test"],
    ),
    (
        "suite::semaphore_without_permits",
        &[DEADLOCK, "Semaphore \"slots\"", "the only thread of the test"],
    ),
    (
        "suite::join_cycle",
        &[
            DEADLOCK,
            "thread \"joiner-a\"",
            "thread \"joiner-b\"",
            "impasse: 1 report(s) in test `deadlocking_suite::suite::join_cycle`",
        ],
    ),
    (
        "suite::pool_task_waits_for_its_submitter",
        &[DEADLOCK, "channel \"go-ahead\"", "thread \"tasks-0\""],
    ),
    (
        "suite::stall_behind_a_timed_poller",
        &[
            STALL,
            "waits to receive from channel \"from-the-poller\"",
            "not a certain deadlock: 1 thread(s) outside impasse's waits could still act",
            "not known to impasse",
            "did not finish within 3s",
        ],
    ),
];

/// The tests that pass.
const PASSING: [&str; 9] = [
    "suite::plain_lock_order_inversion",
    "suite::plain_leaves_a_thread_blocked_forever",
    "suite::plain_passes",
    "suite::passes",
    "suite::condvar_passes",
    "suite::barrier_passes",
    "suite::semaphore_passes",
    "suite::join_passes",
    "suite::pool_passes",
];

struct Fixture {
    manifest: PathBuf,
    target: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| root.join("target"), PathBuf::from)
            .join("fixture");
        fs::create_dir_all(&target).expect("the fixture's target directory");
        Fixture {
            manifest: root.join("tests/fixtures/deadlocking-suite/Cargo.toml"),
            target,
        }
    }

    /// `cargo <args> -- <harness>` on the fixture, as a user's run: impasse's defaults, a 30 s
    /// stall limit (the stall test sets its own 3 s), no backtraces.
    fn cargo(&self, args: &[&str], harness: &[&str]) -> Command {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .args(args)
            .arg("--offline")
            .arg("--manifest-path")
            .arg(&self.manifest)
            .arg("--target-dir")
            .arg(&self.target)
            .env("RUST_BACKTRACE", "0")
            .env("IMPASSE_TEST_TIMEOUT", "30")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_MAKEFLAGS")
            .stdin(Stdio::null());
        if !harness.is_empty() {
            command.arg("--").args(harness);
        }
        for (variable, _) in std::env::vars_os() {
            if variable.to_string_lossy().starts_with("IMPASSE_")
                && variable != "IMPASSE_TEST_TIMEOUT"
            {
                command.env_remove(variable);
            }
        }
        command
    }

    /// Runs `command` to its end within `limit`; its status, stdout and stderr.
    fn run(&self, label: &str, mut command: Command, limit: Duration) -> Run {
        let stdout_path = self.target.join(format!("{label}.stdout"));
        let stderr_path = self.target.join(format!("{label}.stderr"));
        let started = Instant::now();
        let mut child = command
            .stdout(File::create(&stdout_path).expect("the stdout file"))
            .stderr(File::create(&stderr_path).expect("the stderr file"))
            .spawn()
            .expect("run cargo on the fixture");
        let status = loop {
            if let Some(status) = child.try_wait().expect("the child's status") {
                break status;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{label}: the suite did not finish within {limit:?}; stderr:\n{}",
                    read(&stderr_path)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let run = Run {
            label: label.to_owned(),
            status,
            stdout: read(&stdout_path),
            stderr: read(&stderr_path),
            took: started.elapsed(),
        };
        eprintln!("{label}: took {:?}", run.took);
        run
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

struct Run {
    label: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Run {
    fn context(&self) -> String {
        format!(
            "{} ({}, {:?})\n--- stdout\n{}\n--- stderr\n{}",
            self.label, self.status, self.took, self.stdout, self.stderr
        )
    }

    /// What `cargo test` shows: one `test <name> ... ok|FAILED` line per test, the summary,
    /// and each failure's captured output.
    fn check_cargo_test(&self) {
        let context = self.context();
        // One failing test suite: libtest says FAILED, and the exit handler makes it 66 (a
        // potential deadlock was reported); cargo reports the status either way.
        assert!(!self.status.success(), "the suite must fail:\n{context}");
        let outcomes: BTreeMap<&str, &str> = self
            .stdout
            .lines()
            .filter_map(|line| line.strip_prefix("test ")?.split_once(" ... "))
            .collect();
        let mut expected: BTreeMap<&str, &str> = PASSING.iter().map(|name| (*name, "ok")).collect();
        expected.extend(DEADLOCKING.iter().map(|(name, _)| (*name, "FAILED")));
        assert_eq!(outcomes, expected, "{context}");
        for (name, parts) in DEADLOCKING {
            let output = failure_output(&self.stdout, name)
                .unwrap_or_else(|| panic!("no output section for {name}:\n{context}"));
            for part in parts {
                assert!(
                    output.contains(part),
                    "{name}'s output lacks {part:?}:\n{output}\n\n{context}"
                );
            }
        }
        let summary = self
            .stdout
            .lines()
            .find(|line| line.starts_with("test result:"))
            .unwrap_or_else(|| panic!("no summary:\n{context}"));
        assert!(
            summary.starts_with("test result: FAILED. 9 passed; 8 failed; 0 ignored;"),
            "{summary}\n{context}"
        );
        // The inversion was reported at once, past the output capture of its passing test,
        // and the run ended with the status that says so.
        assert!(self.stderr.contains(POTENTIAL), "{context}");
        assert!(
            self.stderr
                .contains("impasse: 1 potential deadlock(s) reported during this run"),
            "{context}"
        );
        assert!(self.stderr.contains("exit status: 66"), "{context}");
    }
}

/// The captured output libtest prints for a failed test: from `---- <name> stdout ----` to
/// the next such header, or to the list of failures.
fn failure_output<'a>(stdout: &'a str, name: &str) -> Option<&'a str> {
    let header = format!("---- {name} stdout ----\n");
    let start = stdout.find(&header)? + header.len();
    let rest = &stdout[start..];
    let end = [rest.find("\n---- "), rest.find("\nfailures:\n")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

#[test]
fn a_suite_with_deadlocking_tests_finishes_and_fails_exactly_those_every_time() {
    let _backstop = common::Watchdog::new(
        "a_suite_with_deadlocking_tests_finishes_and_fails_exactly_those_every_time",
        FIRST_RUN + 7 * LATER_RUN,
    );
    let fixture = Fixture::new();
    let mut limit = FIRST_RUN;
    for threads in ["1", "2", "8"] {
        for round in 1..=2 {
            let label = format!("test-threads-{threads}-run-{round}");
            let command = fixture.cargo(&["test"], &["--test-threads", threads]);
            fixture.run(&label, command, limit).check_cargo_test();
            limit = LATER_RUN;
        }
    }
}

/// Whether `cargo nextest` is installed; CI requires it (`IMPASSE_REQUIRE_NEXTEST=1`).
fn nextest_available() -> bool {
    let found = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(
            std::env::var_os("IMPASSE_REQUIRE_NEXTEST").is_none(),
            "IMPASSE_REQUIRE_NEXTEST is set, and `cargo nextest` is not installed"
        );
        eprintln!("cargo-nextest is not installed: the suite's run under nextest is not checked");
    }
    found
}

#[test]
fn under_nextest_every_test_is_judged_in_a_process_of_its_own() {
    let _backstop = common::Watchdog::new(
        "under_nextest_every_test_is_judged_in_a_process_of_its_own",
        FIRST_RUN + LATER_RUN,
    );
    if !nextest_available() {
        return;
    }
    let fixture = Fixture::new();
    let command = fixture.cargo(
        &[
            "nextest",
            "run",
            "--no-fail-fast",
            "--success-output",
            "never",
        ],
        &[],
    );
    let run = fixture.run("nextest", command, FIRST_RUN);
    let context = run.context();
    assert!(!run.status.success(), "{context}");
    // nextest prints `PASS`/`FAIL [time] (i/n) <binary> <name>` per test, on stderr.
    let outcome = |name: &str| {
        run.stderr.lines().find_map(|line| {
            let line = line.trim_start();
            let verdict = line.split_whitespace().next()?;
            line.ends_with(&format!(" {name}")).then_some(verdict)
        })
    };
    for (name, _) in DEADLOCKING {
        assert_eq!(outcome(name), Some("FAIL"), "{name}:\n{context}");
    }
    // A process per test: the inversion's process exits with status 66, which fails its test.
    assert_eq!(
        outcome("suite::plain_lock_order_inversion"),
        Some("FAIL"),
        "{context}"
    );
    for name in PASSING.iter().filter(|name| !name.ends_with("inversion")) {
        assert_eq!(outcome(name), Some("PASS"), "{name}:\n{context}");
    }
    for part in [DEADLOCK, STALL, POTENTIAL, "exiting with status 66"] {
        assert!(
            run.stderr.contains(part) || run.stdout.contains(part),
            "lacks {part:?}:\n{context}"
        );
    }
}
