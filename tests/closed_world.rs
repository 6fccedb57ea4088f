//! The closed-world rule: a world whose every thread waits, and none can wake another, is
//! deadlocked; a world with a thread impasse cannot see is never judged.

#![cfg(feature = "detect")]

mod common;

use common::{panic_text, watchdog, DEADLOCK};
use impasse::testing::{self, Options};
use impasse::Barrier;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_barrier_waiting_for_a_party_that_does_not_exist() {
    let _watchdog = watchdog("a_barrier_waiting_for_a_party_that_does_not_exist");
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        testing::run("lonely_barrier", Options::new(), || {
            let barrier = Barrier::named("meeting", 2);
            barrier.wait();
        })
    }));
    let text = panic_text(&*outcome.expect_err("the wait is reported"));
    assert!(text.starts_with(DEADLOCK), "{text}");
    assert!(
        text.contains("the only thread of the test `lonely_barrier` waits"),
        "{text}"
    );
    assert!(text.contains("waits at Barrier \"meeting\""), "{text}");
}

#[test]
fn a_std_thread_impasse_cannot_see_keeps_the_world_open() {
    let _watchdog = watchdog("a_std_thread_impasse_cannot_see_keeps_the_world_open");
    testing::run("late_party", Options::new(), || {
        let barrier = Arc::new(Barrier::named("meeting", 2));
        let late = {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                // Computing (sleeping) before it arrives: impasse must not call the test
                // thread's wait a deadlock meanwhile.
                std::thread::sleep(Duration::from_millis(300));
                barrier.wait();
            })
        };
        barrier.wait();
        late.join().unwrap();
    });
}
