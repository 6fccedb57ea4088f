//! What a finding does, chosen by `IMPASSE_*` variables or from code.
//!
//! Policies that end or freeze the process (abort, report-then-block) are checked in a child
//! process: each test re-runs its own binary, filtered to itself, with a marker variable set;
//! the child deadlocks, the parent asserts on its exit and its stderr.

#![cfg(feature = "detect")]

mod common;

use common::{spawn, watchdog};
use impasse::policy::{Action, Settings};
use impasse::report::{Report, ReportKind};
use impasse::Mutex;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex as StdMutex};

const CHILD: &str = "IMPASSE_POLICY_TEST_CHILD";

/// In the child: lock a named mutex twice on one thread.
fn relock_in_child() {
    let m = Mutex::named("child-lock", ());
    let _first = m.lock();
    let _second = m.lock();
    unreachable!("the detector ends this one way or another");
}

fn child(test: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("test binary path"));
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("RUST_BACKTRACE", "0")
        .env_remove("IMPASSE_ON_DEADLOCK")
        .env_remove("IMPASSE_REPORT");
    command
}

#[test]
fn abort_prints_the_report_and_aborts() {
    if std::env::var_os(CHILD).is_some() {
        relock_in_child();
    }
    let _watchdog = watchdog("abort_prints_the_report_and_aborts");
    let output = child("abort_prints_the_report_and_aborts")
        .env("IMPASSE_ON_DEADLOCK", "abort")
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            output.status.signal(),
            Some(6),
            "SIGABRT; stderr:\n{stderr}"
        );
    }
    assert!(stderr.contains("impasse: deadlock detected"), "{stderr}");
    assert!(stderr.contains("\"child-lock\""), "{stderr}");
    assert!(stderr.contains("IMPASSE_ON_DEADLOCK=abort"), "{stderr}");
}

#[test]
fn report_prints_the_report_then_blocks_as_asked() {
    if std::env::var_os(CHILD).is_some() {
        relock_in_child();
    }
    let _watchdog = watchdog("report_prints_the_report_then_blocks_as_asked");
    let mut running = child("report_prints_the_report_then_blocks_as_asked")
        .env("IMPASSE_ON_DEADLOCK", "report")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("run the child");
    let stderr = BufReader::new(running.stderr.take().expect("piped stderr"));
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.expect("utf-8 stderr");
        let done = line.contains("detected by");
        seen.push(line);
        if done {
            break;
        }
    }
    // The child printed the report and is still blocked, as the program asked.
    assert!(
        running.try_wait().expect("child status").is_none(),
        "{seen:#?}"
    );
    running.kill().expect("kill the blocked child");
    running.wait().expect("reap the child");
    let text = seen.join("\n");
    assert!(text.contains("impasse: deadlock detected"), "{text}");
    assert!(text.contains("\"child-lock\""), "{text}");
}

#[test]
fn a_bad_variable_is_named_and_the_default_holds() {
    if std::env::var_os(CHILD).is_some() {
        relock_in_child();
    }
    let _watchdog = watchdog("a_bad_variable_is_named_and_the_default_holds");
    let output = child("a_bad_variable_is_named_and_the_default_holds")
        .env("IMPASSE_ON_DEADLOCK", "explode")
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("IMPASSE_ON_DEADLOCK=\"explode\" is not understood"),
        "{stderr}"
    );
    // The default (panic) held: the child's test failed with the report as its panic.
    assert_eq!(output.status.code(), Some(101), "{stderr}");
    assert!(stderr.contains("impasse: deadlock detected"), "{stderr}");
}

#[test]
fn the_report_file_gets_one_json_line_per_report() {
    if std::env::var_os(CHILD).is_some() {
        relock_in_child();
    }
    let _watchdog = watchdog("the_report_file_gets_one_json_line_per_report");
    let path = std::env::temp_dir().join(format!("impasse-report-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let output = child("the_report_file_gets_one_json_line_per_report")
        .env("IMPASSE_REPORT", &path)
        .output()
        .expect("run the child");
    assert_eq!(output.status.code(), Some(101));
    let text = std::fs::read_to_string(&path).expect("the report file exists");
    let _ = std::fs::remove_file(&path);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let report: Report = serde_json_wasm::from_str(lines[0]).expect("a Report in JSON");
    assert_eq!(report.kind, ReportKind::Deadlock);
    assert_eq!(report.threads.len(), 1);
    let wait = report.threads[0].waits_for.as_ref().expect("a wait");
    assert_eq!(wait.resource.name.as_deref(), Some("child-lock"));
}

#[test]
fn a_callback_from_code_gets_the_report() {
    let _watchdog = watchdog("a_callback_from_code_gets_the_report");
    let seen: Arc<StdMutex<Vec<Report>>> = Arc::default();
    let recorder = {
        let seen = seen.clone();
        Action::Callback(Arc::new(move |report: &Report| {
            seen.lock().unwrap().push(report.clone());
            // Unwinding out of the blocking call is how a callback ends a real deadlock.
            panic!("recorded");
        }))
    };
    let previous = Settings::new().on_deadlock(recorder).install();
    let m = Arc::new(Mutex::named("callback-lock", ()));
    let t = spawn("callback-relocker", move || {
        let _first = m.lock();
        let _second = m.lock();
    });
    let outcome = t.join();
    previous.install();
    let payload = outcome.expect_err("the callback's panic unwinds the thread");
    assert_eq!(common::panic_text(&*payload), "recorded");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].kind, ReportKind::Deadlock);
    assert!(seen[0].to_string().contains("\"callback-lock\""));
}
