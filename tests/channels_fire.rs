//! Channel deadlocks that form for real: each must be reported by the closed-world rule the
//! moment the last thread of the test's world blocks, naming every thread, the channel and the
//! lock, and every thread must then finish (the victim's unwinding drops its channel ends,
//! which disconnects the others).
//!
//! The closed-world rule needs a world no stranger thread can enter, and the tests of one
//! binary run side by side: a thread another test starts after this world opened keeps it open
//! until that thread ends (and if that test waits on this one's report the same way, neither
//! ends). So each scenario runs alone: its test re-runs this binary filtered to itself, with a
//! marker variable set, and the child runs the scenario and its assertions.

#![cfg(feature = "detect")]

mod common;

use common::{assert_contains, panic_text, watchdog, DEADLOCK};
use impasse::mpsc::SendError;
use impasse::testing::{self, Options};
use impasse::thread;
use impasse::{mpsc, Mutex};
use std::panic::{self, AssertUnwindSafe};
use std::process::Command;
use std::sync::Barrier;

const CHILD: &str = "IMPASSE_CHANNELS_FIRE_CHILD";

/// Runs `scenario` in a child process of its own (see the module docs), or, in that child,
/// runs it here.
fn alone(test: &str, scenario: impl FnOnce()) {
    if std::env::var_os(CHILD).is_some() {
        let _watchdog = watchdog(test);
        return scenario();
    }
    let _watchdog = watchdog(test);
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args([test, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, "1")
        .env("RUST_BACKTRACE", "0")
        .env_remove("IMPASSE_ON_DEADLOCK")
        .env_remove("IMPASSE_REPORT")
        .output()
        .expect("run the scenario alone");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the scenario failed alone ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

/// Spawns a named thread in `scope`; the scope's end joins it.
#[track_caller]
fn scoped<'scope, T: Send + 'scope>(
    scope: &'scope thread::Scope<'scope, '_>,
    name: &str,
    f: impl FnOnce() -> T + Send + 'scope,
) {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn_scoped(scope, f)
        .expect("spawn a test thread");
}

/// Runs `body` as the test `name`; returns the panic message `run` failed with.
fn run_expecting_a_report(name: &str, body: impl FnOnce()) -> String {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        testing::run(name, Options::new(), body);
    }));
    let text = panic_text(&*outcome.expect_err("the test's world made a report"));
    // The report's first line (the victim's panic, passed on by `run`) is the contract's.
    assert!(text.starts_with(DEADLOCK), "{text}");
    text
}

#[test]
fn a_receiver_holding_its_own_sender() {
    alone("a_receiver_holding_its_own_sender", || {
        let (sender_kept, line) = (std::cell::Cell::new(false), line!() + 3);
        let text = run_expecting_a_report("lonely_receiver", || {
            let (tx, rx) = mpsc::channel_named::<u32>("mailbox");
            let received = rx.recv(); // the only sender is `tx`, on this very thread
            sender_kept.set(true);
            drop((tx, received));
        });
        assert!(!sender_kept.get(), "the wait must not return");
        assert!(text.starts_with(DEADLOCK), "{text}");
        assert_contains(
            &text,
            &[
                "the only thread of the test `lonely_receiver` waits",
                "waits to receive from channel \"mailbox\"",
                &format!("at {}:{line}:", file!()),
                "any other thread could wake it, but none can run",
            ],
        );
    });
}

#[test]
fn an_unnamed_channel_is_named_by_its_creation_site() {
    alone("an_unnamed_channel_is_named_by_its_creation_site", || {
        let line = line!() + 2;
        let text = run_expecting_a_report("unnamed_channel", || {
            let (tx, rx) = mpsc::sync_channel::<u32>(1);
            tx.send(1).unwrap();
            tx.send(2).unwrap(); // full, and the receiver is this thread
            drop(rx);
        });
        assert_contains(
            &text,
            &[
                DEADLOCK,
                &format!("waits to send on channel created at {}:{line}:", file!()),
                &format!("      at {}:{}:", file!(), line + 2),
            ],
        );
    });
}

/// A thread holds a mutex and waits to receive; the only sender waits for that mutex. The
/// test's thread is the receiver and the sender runs in a scope, so that whichever of them
/// is the victim, the scope's end joins the other once it has finished.
#[test]
fn a_mutex_and_a_channel() {
    alone("a_mutex_and_a_channel", || {
        let text = run_expecting_a_report("mutex_and_channel", || {
            let ledger = Mutex::named("ledger", 0u32);
            let (tx, rx) = mpsc::channel_named::<u32>("updates");
            let lined_up = Barrier::new(2);
            let (ledger, lined_up) = (&ledger, &lined_up);
            thread::scope(|s| {
                // `tx` moves in: the sender's unwinding must drop it.
                scoped(s, "sender", move || {
                    lined_up.wait();
                    let total = *ledger.lock(); // waits for the receiver's hold
                    tx.send(total) // the receiver is gone if it was the victim
                });
                let mut total = ledger.lock();
                lined_up.wait();
                // Waits for the sender, which waits for `total`'s lock; if the sender is the
                // victim, its unwinding drops `tx` and this receive fails.
                assert_eq!(rx.recv(), Err(mpsc::RecvError));
                *total += 1;
            });
            unreachable!("one of the two panicked with the report, and the scope passes it on");
        });
        assert_contains(
            &text,
            &[
                DEADLOCK,
                "every thread of the test `mutex_and_channel` is blocked",
                "waits to receive from channel \"updates\"",
                "holds Mutex \"ledger\"",
                "thread \"sender\"",
                "waits for Mutex \"ledger\"",
            ],
        );
    });
}

/// Two threads, each waiting to receive what the other would send next.
#[test]
fn a_channel_cycle() {
    alone("a_channel_cycle", || {
        let text = run_expecting_a_report("channel_cycle", || {
            let (to_left, left_inbox) = mpsc::channel_named::<u32>("to-left");
            let (to_right, right_inbox) = mpsc::channel_named::<u32>("to-right");
            thread::scope(|s| {
                scoped(s, "right", move || {
                    let n = right_inbox.recv()?;
                    to_left.send(n + 1).ok();
                    Ok::<_, mpsc::RecvError>(n)
                });
                // This thread is "left": if "right" is the victim, its unwinding drops
                // `to_left` and this receive fails.
                assert_eq!(left_inbox.recv(), Err(mpsc::RecvError));
                drop(to_right);
            });
            unreachable!("one of the two panicked with the report, and the scope passes it on");
        });
        assert_contains(
            &text,
            &[
                DEADLOCK,
                "2 threads wait, and none can wake another",
                "waits to receive from channel \"to-left\"",
                "thread \"right\"",
                "waits to receive from channel \"to-right\"",
            ],
        );
    });
}

/// Two threads, each sending on a rendezvous channel the other would receive from after its
/// own send.
#[test]
fn rendezvous_channels_both_sending() {
    alone("rendezvous_channels_both_sending", || {
        let text = run_expecting_a_report("rendezvous_both_sending", || {
            let (to_left, left_inbox) = mpsc::sync_channel_named::<&str>("to-left", 0);
            let (to_right, right_inbox) = mpsc::sync_channel_named::<&str>("to-right", 0);
            thread::scope(|s| {
                scoped(s, "right", move || {
                    // If "left" is the victim, its receiver is gone: the value comes back.
                    assert_eq!(to_left.send("from right"), Err(SendError("from right")));
                    drop(right_inbox);
                });
                // If "right" is the victim, its receiver is gone: the value comes back.
                assert_eq!(to_right.send("from left"), Err(SendError("from left")));
                drop(left_inbox);
            });
            unreachable!("one of the two panicked with the report, and the scope passes it on");
        });
        assert_contains(
            &text,
            &[
                DEADLOCK,
                "waits to send on channel \"to-right\"",
                "thread \"right\"",
                "waits to send on channel \"to-left\"",
            ],
        );
    });
}
