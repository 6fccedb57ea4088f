//! A program may hold std's lock on stderr for as long as it likes (a logger does, with
//! `std::io::stderr().lock()`): impasse's reports must still reach the user, and nothing of
//! impasse's may wait for that lock. Each scenario runs in a child that holds the lock
//! throughout; the parent reads what reached the child's stderr.

#![cfg(feature = "detect")]

mod common;

use common::{child, spawn, watchdog, DEADLOCK};
use impasse::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// In the child: holds stderr's lock, then makes `scenario` happen under it.
fn holding_stderr(scenario: impl FnOnce()) {
    let held = std::io::stderr().lock();
    scenario();
    drop(held);
}

#[test]
fn a_report_that_lets_the_program_go_on_gets_out_while_stderr_is_held() {
    const ME: &str = "a_report_that_lets_the_program_go_on_gets_out_while_stderr_is_held";
    if child::is(ME) {
        return holding_stderr(|| {
            // A relock, reported as a deadlock on another thread; `report` lets it block, so
            // this thread waits only until the report is out, then ends the process.
            let lock = Arc::new(Mutex::named("held-twice", ()));
            let _relocker = spawn("relocker", move || {
                let _first = lock.lock();
                let _second = lock.lock();
            });
            std::thread::sleep(Duration::from_millis(300));
            std::process::exit(0);
        });
    }
    let _watchdog = watchdog(ME);
    let output = child::of(ME)
        .env("IMPASSE_ON_DEADLOCK", "report")
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(DEADLOCK), "{}: {stderr}", output.status);
    assert!(stderr.contains("Mutex \"held-twice\""), "{stderr}");
}

#[test]
fn a_stalled_test_fails_while_stderr_is_held() {
    const ME: &str = "a_stalled_test_fails_while_stderr_is_held";
    if child::is(ME) {
        return holding_stderr(|| {
            impasse::testing::run(
                ME,
                impasse::testing::Options::new().timeout(Duration::from_millis(500)),
                || {
                    // The only sender is held by a thread that polls with a timeout: a stall.
                    let (tx, rx) = impasse::mpsc::channel_named::<()>("never");
                    let alive = Arc::new(());
                    let watching = Arc::downgrade(&alive);
                    std::thread::spawn(move || {
                        while watching.upgrade().is_some() {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        drop(tx);
                    });
                    let _ = rx.recv();
                    drop(alive);
                },
            )
        });
    }
    let _watchdog = watchdog(ME);
    let output = child::of(ME)
        .arg("--nocapture")
        .output()
        .expect("run the child");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    let context = format!("{}\n{stdout}\n{stderr}", output.status);
    assert!(stderr.contains("impasse: stall"), "{context}");
    assert!(stderr.contains("did not finish within 500ms"), "{context}");
    // The test failed on its own and libtest summed up: the process was not ended for it.
    assert!(
        stdout.contains("test result: FAILED. 0 passed; 1 failed"),
        "{context}"
    );
    assert!(!stderr.contains("ending the test process"), "{context}");
}
