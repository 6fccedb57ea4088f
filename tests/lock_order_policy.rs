//! What a potential deadlock does, from code and from `IMPASSE_ON_INVERSION`; and that each
//! distinct cycle is reported once per process.

#![cfg(feature = "detect")]

mod common;

use common::{spawn, watchdog};
use impasse::policy::{Action, Settings};
use impasse::report::{Report, ReportKind};
use impasse::Mutex;
use std::process::Command;
use std::sync::{Arc, Mutex as StdMutex};

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

#[test]
fn the_environment_chooses_what_an_inversion_does() {
    const CHILD: &str = "IMPASSE_INVERSION_POLICY_CHILD";
    if std::env::var_os(CHILD).is_some() {
        // In the child: one inversion between two threads that nothing orders (a std
        // barrier is invisible to impasse), then say how it went.
        let (a, b) = (
            Arc::new(Mutex::named("a", 0)),
            Arc::new(Mutex::named("b", 0)),
        );
        let turn = Arc::new(std::sync::Barrier::new(2));
        let (a1, b1, turn1) = (a.clone(), b.clone(), turn.clone());
        let forward = spawn("forward", move || {
            lock_in_order(&a1, &b1);
            turn1.wait();
        });
        let backward = spawn("backward", move || {
            turn.wait();
            lock_in_order(&b, &a);
        });
        forward.join().unwrap();
        let outcome = backward.join();
        println!(
            "child outcome: {}",
            if outcome.is_ok() {
                "went on"
            } else {
                "panicked"
            }
        );
        return;
    }
    let _watchdog = watchdog("the_environment_chooses_what_an_inversion_does");
    for (value, outcome, prints_report) in [
        ("report", "went on", true),
        ("ignore", "went on", false),
        ("panic", "panicked", true),
    ] {
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "the_environment_chooses_what_an_inversion_does",
                "--exact",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env("RUST_BACKTRACE", "0")
            .env("IMPASSE_ON_INVERSION", value)
            .output()
            .expect("run the child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stdout.contains(&format!("child outcome: {outcome}")),
            "IMPASSE_ON_INVERSION={value}: {stdout}\n{stderr}"
        );
        assert_eq!(
            stderr.contains("impasse: potential deadlock"),
            prints_report,
            "IMPASSE_ON_INVERSION={value}: {stderr}"
        );
    }
}
