//! The claim of issue #4, end to end: a `cargo test` run containing deadlocking tests (a plain
//! `#[test]` for locks, `#[impasse::test]` for a channel and a join cycle) finishes; the
//! deadlocking tests fail with their reports in the output, and the others pass.
//!
//! The suite is the fixture crate `tests/fixtures/deadlocking-suite`, run by a child `cargo
//! test` into `<target>/fixture` (the first run compiles impasse and its dependencies for it,
//! offline: the fixture's lock file pins the workspace's versions, which the build of this
//! test has fetched already). A watchdog kills the child if it does not finish.

#![cfg(feature = "detect")]

mod common;

use common::DEADLOCK;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Compiling the fixture from scratch takes about a minute here; generous for slow machines.
const LIMIT: Duration = Duration::from_secs(600);

/// The deadlocking tests, and what each one's output must name.
const DEADLOCKING: [(&str, &[&str]); 3] = [
    (
        "suite::abba_locks",
        &[
            "thread \"abba-left\"",
            "thread \"abba-right\"",
            "Mutex \"fork-a\"",
            "Mutex \"fork-b\"",
        ],
    ),
    (
        "suite::a_receiver_holding_its_own_sender",
        &[
            "the only thread of the test `deadlocking_suite::suite::a_receiver_holding_its_own_sender` waits",
            "waits to receive from channel \"mailbox\"",
        ],
    ),
    (
        "suite::join_cycle",
        &[
            "thread \"joiner-a\"",
            "thread \"joiner-b\"",
            "waits to join thread \"joiner-b\"",
            "waits to join thread \"joiner-a\"",
            "impasse: 1 report(s) in test `deadlocking_suite::suite::join_cycle`",
        ],
    ),
];

#[test]
fn a_suite_with_deadlocking_tests_finishes_and_fails_exactly_those() {
    let _backstop = common::Watchdog::new(
        "a_suite_with_deadlocking_tests_finishes_and_fails_exactly_those",
        LIMIT + Duration::from_secs(60),
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let manifest = root.join("tests/fixtures/deadlocking-suite/Cargo.toml");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("fixture");
    fs::create_dir_all(&target).expect("the fixture's target directory");
    let (stdout_path, stderr_path) = (target.join("suite.stdout"), target.join("suite.stderr"));

    let started = Instant::now();
    let mut child = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .arg("test")
        .arg("--offline")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .env("RUST_BACKTRACE", "0")
        // A missed deadlock fails its test after this long instead of hanging the run.
        .env("IMPASSE_TEST_TIMEOUT", "60")
        .env_remove("IMPASSE_ON_DEADLOCK")
        .env_remove("IMPASSE_REPORT")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_MAKEFLAGS")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("the stdout file"))
        .stderr(File::create(&stderr_path).expect("the stderr file"))
        .spawn()
        .expect("run cargo test on the fixture");
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the suite did not finish within {LIMIT:?}; stderr:\n{}",
                fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("the fixture's `cargo test` took {:?}", started.elapsed());
    let stdout = fs::read_to_string(&stdout_path).expect("the suite's stdout");
    let stderr = fs::read_to_string(&stderr_path).expect("the suite's stderr");
    let context = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");

    assert!(
        !status.success(),
        "the suite must fail ({status}):\n{context}"
    );
    assert!(
        stdout.contains("running 4 tests"),
        "the suite's tests did not run:\n{context}"
    );

    // `test <name> ... ok|FAILED`, one line per test.
    let outcomes: BTreeMap<&str, &str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("test ")?.split_once(" ... "))
        .collect();
    let mut expected = BTreeMap::from([("suite::passes", "ok")]);
    expected.extend(DEADLOCKING.iter().map(|(name, _)| (*name, "FAILED")));
    assert_eq!(outcomes, expected, "{context}");

    // Each failure's captured output holds its report and names its threads and resources.
    for (name, names) in DEADLOCKING {
        let output = failure_output(&stdout, name)
            .unwrap_or_else(|| panic!("no output section for {name}:\n{context}"));
        assert!(
            output.lines().any(|line| line.starts_with(DEADLOCK)),
            "{name}'s output has no report:\n{output}"
        );
        for part in names {
            assert!(
                output.contains(part),
                "{name}'s output lacks {part:?}:\n{output}"
            );
        }
    }

    let summary = stdout
        .lines()
        .find(|line| line.starts_with("test result:"))
        .unwrap_or_else(|| panic!("no summary:\n{context}"));
    assert!(
        summary.starts_with("test result: FAILED. 1 passed; 3 failed; 0 ignored;"),
        "{summary}"
    );
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
