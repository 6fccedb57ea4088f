//! `#[impasse::test]`: the body runs in a world named for the test, the function keeps its
//! attributes and return type, and `timeout = "..."` reaches the test's watchdog. (Its
//! compile errors are `compile_fail` examples on `impasse::test`; the expansion itself is
//! unit-tested in `macros/`.)
//!
//! Every test here is bounded by its own `timeout` (a watchdog thread started inside the body
//! would be a stranger to its world); the child-process tests by `common::watchdog`.

mod common;

use common::watchdog;
use impasse::mpsc;
use std::process::Command;
use std::time::Duration;

const CHILD: &str = "IMPASSE_TEST_MACRO_CHILD";

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// This binary, with `args`, as a child process marked as such.
fn this_binary(args: &[&str]) -> std::process::Output {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args(args)
        .env(CHILD, "1")
        .env("RUST_BACKTRACE", "0")
        .env_remove("IMPASSE_TEST_TIMEOUT")
        .output()
        .expect("run this test binary")
}

/// A test with a doc comment and a lint attribute: both stay on the function.
#[impasse::test(timeout = "20s")]
#[allow(clippy::eq_op)]
fn a_plain_test_passes() {
    let (tx, rx) = mpsc::channel();
    tx.send(1 + 1).unwrap();
    assert_eq!(rx.recv(), Ok(2));
}

#[impasse::test(timeout = "20s")]
fn a_test_may_return_a_result_and_use_the_question_mark() -> Result<(), String> {
    let (tx, rx) = mpsc::channel::<u32>();
    tx.send("42".parse().map_err(|e| format!("{e}"))?)
        .map_err(|e| e.to_string())?;
    drop(tx);
    let all: Vec<u32> = rx.iter().collect();
    if all != [42] {
        return Err(format!("got {all:?}"));
    }
    Ok(())
}

#[impasse::test(timeout = "20s")]
#[should_panic(expected = "the body's own panic")]
fn should_panic_is_kept_and_sees_the_body_s_panic() {
    panic!("the body's own panic");
}

/// The world is named `<module path>::<function name>`: a lonely barrier's report says so.
#[cfg(feature = "detect")]
#[impasse::test(timeout = "20s")]
#[should_panic(
    expected = "the only thread of the test `test_macro::the_world_is_named_for_the_test` waits"
)]
fn the_world_is_named_for_the_test() {
    impasse::Barrier::named("meeting", 2).wait();
}

/// Stalls (its only sender is a `std::thread`, a stranger that keeps the world open, so no
/// deadlock can be proven) until its 500 ms timeout fails it; only in the child process.
#[impasse::test(timeout = "500ms")]
fn stalls_past_its_timeout() {
    if !in_child() {
        return;
    }
    let (tx, rx) = mpsc::channel::<()>();
    let stranger = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(30));
        drop(tx);
    });
    let _ = rx.recv();
    let _ = stranger.join();
}

#[test]
fn the_timeout_argument_reaches_the_watchdog() {
    let _watchdog = watchdog("the_timeout_argument_reaches_the_watchdog");
    let output = this_binary(&["stalls_past_its_timeout", "--exact", "--nocapture"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(101), "{stderr}");
    assert!(
        stderr.contains(
            "impasse: test `test_macro::stalls_past_its_timeout` did not finish within 500ms"
        ),
        "{stderr}"
    );
}
