//! Re-locks through lock_api's guards (`MutexGuard::unlocked`, `bump`) under every policy: a
//! report made while a thread takes back a lock that a live guard owns can never unwind it
//! (the guard would then release a lock the thread does not hold, and two threads could hold
//! it at once), so a policy that would unwind aborts instead, a panicking callback included.
//!
//! This file's name contains `lock_api` on purpose: an ordinary acquisition in a file whose
//! path names lock_api is not a re-lock, and a deadlock there unwinds its victim as anywhere.

#![cfg(feature = "detect")]

mod common;

use common::{child, spawn, watchdog, DEADLOCK};
use impasse::policy::{Action, Settings};
use impasse::{Mutex, MutexGuard};
use std::sync::{Arc, Barrier};

const POTENTIAL: &str = "impasse: potential deadlock";

#[test]
fn a_deadlock_in_a_file_named_for_lock_api_unwinds_its_victim() {
    let _watchdog = watchdog("a_deadlock_in_a_file_named_for_lock_api_unwinds_its_victim");
    let (a, b) = (
        Arc::new(Mutex::named("left", ())),
        Arc::new(Mutex::named("right", ())),
    );
    let both_hold_one = Arc::new(Barrier::new(2));
    let t1 = {
        let (a, b, barrier) = (a.clone(), b.clone(), both_hold_one.clone());
        spawn("abba-1", move || {
            let _a = a.lock();
            barrier.wait();
            let _b = b.lock();
        })
    };
    let t2 = spawn("abba-2", move || {
        let _b = b.lock();
        both_hold_one.wait();
        let _a = a.lock();
    });
    // One of them is the victim and unwinds (before the fix the process aborted here).
    let reports = common::join_all(vec![t1, t2]);
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert!(reports[0].starts_with(DEADLOCK), "{}", reports[0]);
}

/// How a scenario's re-lock closes a lock-order cycle: inside `unlocked`, or by `bump`.
#[derive(Clone, Copy)]
enum Relock {
    Unlocked,
    Bump,
}

/// Thread "first" takes `a` then `b`. Then thread "second" re-locks `a` while holding `b`, so
/// the re-lock itself records `b → a` and closes the cycle. Meanwhile a third thread probes
/// `a` with `try_lock` whenever "second" says it holds it: it must never get in. Returns
/// whether the probe ever got `a` while "second" held it.
fn relock_closes_a_cycle(relock: Relock) -> bool {
    let (a, b) = (
        Arc::new(Mutex::named("a", ())),
        Arc::new(Mutex::named("b", ())),
    );
    let first = {
        let (a, b) = (a.clone(), b.clone());
        spawn("first", move || {
            let _a = a.lock();
            let _b = b.lock();
        })
    };
    first.join().expect("the first order");
    let holds_a = Arc::new(Barrier::new(2));
    let probed = Arc::new(Barrier::new(2));
    let second = {
        let (a, b, holds_a, probed) = (a.clone(), b.clone(), holds_a.clone(), probed.clone());
        std::thread::spawn(move || {
            let mut guard = a.lock();
            match relock {
                Relock::Unlocked => {
                    let mut keep = None;
                    MutexGuard::unlocked(&mut guard, || keep = Some(b.lock()));
                    holds_a.wait();
                    probed.wait();
                    drop(keep);
                }
                Relock::Bump => {
                    let keep = b.lock();
                    MutexGuard::bump(&mut guard);
                    holds_a.wait();
                    probed.wait();
                    drop(keep);
                }
            }
            drop(guard);
        })
    };
    holds_a.wait();
    let broke_exclusion = a.try_lock().is_some();
    probed.wait();
    second.join().expect("the second thread went on");
    broke_exclusion
}

const POLICY: &str = "IMPASSE_RELOCK_POLICY";
const RELOCK: &str = "IMPASSE_RELOCK_KIND";

/// In the child: the policy named by `POLICY`, installed from code, then the scenario.
fn run_in_child() {
    let action = match std::env::var(POLICY).as_deref() {
        Ok("panic") => Action::Panic,
        Ok("panicking-callback") => Action::Callback(Arc::new(|_| panic!("the callback panics"))),
        Ok("returning-callback") => Action::Callback(Arc::new(|_| {})),
        Ok("report") => Action::Report,
        Ok("ignore") => Action::Ignore,
        Ok("fail") => Action::Fail,
        other => panic!("unknown policy {other:?}"),
    };
    let relock = match std::env::var(RELOCK).as_deref() {
        Ok("bump") => Relock::Bump,
        _ => Relock::Unlocked,
    };
    Settings::new().on_inversion(action).install();
    let broke = relock_closes_a_cycle(relock);
    println!("exclusion {}", if broke { "broken" } else { "kept" });
}

#[test]
fn a_relock_never_unwinds_under_any_policy() {
    const ME: &str = "a_relock_never_unwinds_under_any_policy";
    if child::is(ME) {
        return run_in_child();
    }
    let _watchdog = watchdog(ME);
    // (policy, whether the process aborts after the report)
    let policies = [
        ("panic", true),
        ("panicking-callback", true),
        ("returning-callback", false),
        ("report", false),
        ("ignore", false),
        ("fail", false),
    ];
    for relock in ["unlocked", "bump"] {
        for (policy, aborts) in policies {
            let output = child::of(ME)
                .arg("--nocapture")
                .env(POLICY, policy)
                .env(RELOCK, relock)
                .output()
                .expect("run the child");
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            let context = format!("{policy}, {relock}: {}\n{stdout}\n{stderr}", output.status);
            assert!(!stdout.contains("exclusion broken"), "{context}");
            if aborts {
                #[cfg(unix)]
                {
                    use std::os::unix::process::ExitStatusExt;
                    assert_eq!(output.status.signal(), Some(6), "SIGABRT: {context}");
                }
                assert!(stderr.contains(POTENTIAL), "{context}");
                assert!(stderr.contains("taking back a lock"), "{context}");
            } else {
                assert!(stdout.contains("exclusion kept"), "{context}");
            }
        }
    }
}
