//! What a potential deadlock does, from code and from `IMPASSE_ON_INVERSION`; and that each
//! distinct cycle is reported once per process.

#![cfg(feature = "detect")]

mod common;

use common::{child, spawn, watchdog};
use impasse::policy::{Action, Settings};
use impasse::report::{Report, ReportKind};
use impasse::Mutex;
use std::sync::{Arc, Barrier, Mutex as StdMutex};

const POTENTIAL: &str = "impasse: potential deadlock";

fn lock_in_order(first: &Mutex<u32>, second: &Mutex<u32>) {
    let _a = first.lock();
    let _b = second.lock();
}

#[test]
fn each_distinct_cycle_is_reported_once_and_report_lets_threads_go_on() {
    let _watchdog = watchdog("each_distinct_cycle_is_reported_once_and_report_lets_threads_go_on");
    let seen: Arc<StdMutex<Vec<Report>>> = Arc::default();
    let recorder = {
        let seen = seen.clone();
        Action::Callback(Arc::new(move |report: &Report| {
            seen.lock().unwrap().push(report.clone());
        }))
    };
    let previous = Settings::new().on_inversion(recorder).install();
    let (a, b) = (
        Arc::new(Mutex::named("a", 0)),
        Arc::new(Mutex::named("b", 0)),
    );
    for round in 0..3 {
        let (a1, b1) = (a.clone(), b.clone());
        let turn = Arc::new(std::sync::Barrier::new(2));
        let turn1 = turn.clone();
        let forward = spawn(&format!("forward-{round}"), move || {
            lock_in_order(&a1, &b1);
            turn1.wait();
        });
        let (a2, b2) = (a.clone(), b.clone());
        let backward = spawn(&format!("backward-{round}"), move || {
            turn.wait();
            lock_in_order(&b2, &a2);
        });
        // A callback that returns lets the thread go on holding its locks.
        forward.join().expect("no panic");
        backward.join().expect("no panic");
    }
    previous.install();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "one cycle, one report: {seen:#?}");
    assert_eq!(seen[0].kind, ReportKind::PotentialDeadlock);
    let inversion = seen[0].inversion.as_ref().expect("an inversion");
    assert_eq!(inversion.edges.len(), 2);
    assert_eq!(inversion.suggested_order.len(), 2);
}

/// In a child: an inversion that never deadlocks, between two threads sequenced by std
/// barriers (invisible to impasse), where the thread whose acquisition closes the order cycle
/// must then meet the other thread again. A policy that kills that thread at the acquisition
/// leaves the other waiting forever: the program never finishes.
fn an_inversion_in_a_correct_program() -> &'static str {
    let (a, b) = (
        Arc::new(Mutex::named("a", 0)),
        Arc::new(Mutex::named("b", 0)),
    );
    let (turn, meet) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let forward = {
        let (a, b, turn, meet) = (a.clone(), b.clone(), turn.clone(), meet.clone());
        spawn("forward", move || {
            lock_in_order(&a, &b);
            turn.wait();
            meet.wait();
        })
    };
    let backward = spawn("backward", move || {
        turn.wait();
        lock_in_order(&b, &a);
        meet.wait();
    });
    let outcome = backward.join();
    if outcome.is_err() {
        // Only a panic at the acquisition gets here; the other thread would wait forever.
        return "panicked";
    }
    forward.join().expect("forward went on");
    "went on"
}

#[test]
fn the_environment_chooses_what_an_inversion_does() {
    const ME: &str = "the_environment_chooses_what_an_inversion_does";
    if child::is(ME) {
        println!("child outcome: {}", an_inversion_in_a_correct_program());
        return;
    }
    let _watchdog = watchdog(ME);
    // (IMPASSE_ON_INVERSION, outcome, report on stderr, exit status)
    for (value, outcome, prints_report, status) in [
        (None, "went on", true, 66),
        (Some("fail"), "went on", true, 66),
        (Some("report"), "went on", true, 0),
        (Some("ignore"), "went on", false, 0),
        (Some("panic"), "panicked", true, 0),
    ] {
        let mut command = child::of(ME);
        command.arg("--nocapture");
        if let Some(value) = value {
            command.env("IMPASSE_ON_INVERSION", value);
        }
        let output = command.output().expect("run the child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let context = format!(
            "IMPASSE_ON_INVERSION={value:?}: {}\n{stdout}\n{stderr}",
            output.status
        );
        assert!(
            stdout.contains(&format!("child outcome: {outcome}")),
            "{context}"
        );
        assert_eq!(stderr.contains(POTENTIAL), prints_report, "{context}");
        assert_eq!(output.status.code(), Some(status), "{context}");
    }
}

#[test]
fn by_default_a_passing_test_with_an_inversion_shows_it_and_fails_the_run() {
    const ME: &str = "by_default_a_passing_test_with_an_inversion_shows_it_and_fails_the_run";
    if child::is(ME) {
        assert_eq!(an_inversion_in_a_correct_program(), "went on");
        return;
    }
    let _watchdog = watchdog(ME);
    // libtest captures a passing test's output and throws it away: the report must not be
    // part of it. The test passes, the summary says so, and the run fails.
    let output = child::of(ME).output().expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let context = format!("{}\n{stdout}\n{stderr}", output.status);
    assert!(stdout.contains("test result: ok. 1 passed"), "{context}");
    assert!(stderr.contains(POTENTIAL), "{context}");
    assert!(stderr.contains("thread \"backward\""), "{context}");
    assert!(
        stderr.contains("impasse: 1 potential deadlock(s) reported during this run"),
        "{context}"
    );
    assert_eq!(output.status.code(), Some(66), "{context}");
}

#[test]
fn by_default_an_inversion_fails_its_impasse_test_at_the_end() {
    const ME: &str = "by_default_an_inversion_fails_its_impasse_test_at_the_end";
    if child::is(ME) {
        let ran_to_the_end = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ran = ran_to_the_end.clone();
        let outcome = std::panic::catch_unwind(move || {
            impasse::testing::run(ME, impasse::testing::Options::new(), move || {
                assert_eq!(an_inversion_in_a_correct_program(), "went on");
                ran.store(true, std::sync::atomic::Ordering::Relaxed);
            })
        });
        let text = common::panic_text(&*outcome.expect_err("the test fails"));
        assert!(
            ran_to_the_end.load(std::sync::atomic::Ordering::Relaxed),
            "the body ran to its end"
        );
        assert!(
            text.contains(&format!("impasse: 1 report(s) in test `{ME}`")),
            "{text}"
        );
        assert!(text.contains(POTENTIAL), "{text}");
        println!("child: the test failed at its end");
        return;
    }
    let _watchdog = watchdog(ME);
    let output = child::of(ME)
        .arg("--nocapture")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("child: the test failed at its end"),
        "{}\n{stdout}\n{stderr}",
        output.status
    );
}
