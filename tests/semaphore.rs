//! Semaphores: permits never over-subscribed, timed and non-blocking acquisitions, and waits
//! for permits that nothing can ever give back reported in a closed world.
//!
//! The closed-world scenarios run one after another in a single test: two test worlds open
//! at once, each spawning threads after the other opened, would keep each other from ever
//! being closed (`src/detect/threads.rs`).

mod common;

use common::{join_quietly, spawn, watchdog};
use impasse::testing::{self, Options};
use impasse::{Mutex, Semaphore};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

// Shared between threads, and across `catch_unwind`.
const _: () = {
    use std::panic::{RefUnwindSafe, UnwindSafe};
    fn shareable<T: Send + Sync + UnwindSafe + RefUnwindSafe>() {}
    let _ = shareable::<Semaphore>;
};

#[test]
fn contention_never_exceeds_the_permits() {
    const THREADS: usize = 6;
    const PERMITS: usize = 2;
    const ROUNDS: usize = 2_000;
    let _watchdog = watchdog("contention_never_exceeds_the_permits");
    let most = testing::run("semaphore_contention", Options::new(), || {
        let pool = Arc::new(Semaphore::named("pool", PERMITS));
        let (inside, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let workers: Vec<_> = (0..THREADS)
            .map(|i| {
                let (pool, inside, most) = (pool.clone(), inside.clone(), most.clone());
                crate::common::spawn(&format!("worker-{i}"), move || {
                    for round in 0..ROUNDS {
                        let permit = if round % 3 == 0 {
                            pool.acquire_many(PERMITS) // the whole pool, now and then
                        } else {
                            pool.acquire()
                        };
                        let now = inside.fetch_add(permit.num_permits(), Ordering::SeqCst)
                            + permit.num_permits();
                        assert!(now <= PERMITS, "{now} permits in use");
                        most.fetch_max(now, Ordering::SeqCst);
                        std::hint::spin_loop();
                        inside.fetch_sub(permit.num_permits(), Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a worker");
        }
        assert_eq!(pool.available_permits(), PERMITS);
        most.load(Ordering::SeqCst)
    });
    assert_eq!(most, PERMITS);
}

#[test]
fn try_acquire_timeouts_forget_and_add_permits() {
    let _watchdog = watchdog("try_acquire_timeouts_forget_and_add_permits");
    let pool = Arc::new(Semaphore::new(2));
    let (holding, checked) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    // Holds the other permit until the checks below are done, then gives it back while
    // computing (a permit stays on its thread).
    let releaser = {
        let (pool, holding, checked) = (pool.clone(), holding.clone(), checked.clone());
        spawn("releaser", move || {
            let second = pool.try_acquire_many(1).expect("a permit");
            holding.wait();
            checked.wait();
            std::thread::sleep(Duration::from_millis(10)); // computing
            drop(second);
        })
    };
    holding.wait();
    let first = pool.try_acquire().expect("the other permit");
    assert_eq!(first.num_permits(), 1);
    assert!(pool.try_acquire().is_none());
    assert!(pool.try_acquire_many(2).is_none());
    let started = Instant::now();
    assert!(pool.acquire_timeout(Duration::from_millis(20)).is_none());
    assert!(started.elapsed() >= Duration::from_millis(20));
    assert_eq!(format!("{pool:?}"), "Semaphore { permits: 0, .. }");
    checked.wait();
    // A permit given back in time ends a timed wait.
    let third = pool
        .acquire_timeout(Duration::from_secs(10))
        .expect("the permit given back");
    join_quietly(vec![releaser]);

    // Forgotten permits are gone; added ones serve a waiter for many.
    third.forget();
    assert_eq!(pool.available_permits(), 0);
    let many = {
        let pool = pool.clone();
        spawn("many", move || pool.acquire_many(3).num_permits())
    };
    drop(first); // 1: not enough for the waiter
    pool.add_permits(2); // 3: the waiter takes them all
    assert_eq!(join_quietly(vec![many]), [3]);
    assert_eq!(pool.available_permits(), 3);
    assert_eq!(pool.acquire_many(0).num_permits(), 0);
}

#[test]
fn a_timed_acquisition_in_a_would_be_cycle_gives_up_quietly() {
    let _watchdog = watchdog("a_timed_acquisition_in_a_would_be_cycle_gives_up_quietly");
    testing::run("timed_permit", Options::new(), || {
        let pool = Arc::new(Semaphore::named("pool", 1));
        let ledger = Arc::new(Mutex::named("ledger", ()));
        let both_hold = Arc::new(Barrier::new(2));
        let holder = {
            let (pool, ledger, both_hold) = (pool.clone(), ledger.clone(), both_hold.clone());
            crate::common::spawn("permit-holder", move || {
                let _permit = pool.acquire();
                both_hold.wait();
                let _ledger = ledger.lock(); // until the other gives up on the permit
            })
        };
        let patient = crate::common::spawn("ledger-holder", move || {
            let _ledger = ledger.lock();
            both_hold.wait();
            pool.acquire_timeout(Duration::from_millis(50)).is_none()
        });
        holder.join().expect("the permit holder");
        assert!(patient.join().expect("the ledger holder"), "it timed out");
    });
}

// With `detect`, a permit stays on the thread that took it (the held stack is per thread).
#[cfg(feature = "detect")]
const _: () = {
    use std::marker::PhantomData;
    struct Probe<T: ?Sized>(PhantomData<T>);
    trait NotSend {
        const IS_SEND: bool = false;
    }
    impl<T: ?Sized> NotSend for Probe<T> {}
    #[allow(dead_code)]
    impl<T: ?Sized + Send> Probe<T> {
        const IS_SEND: bool = true;
    }
    assert!(<Probe<u8>>::IS_SEND);
    assert!(!<Probe<impasse::SemaphorePermit<'static>>>::IS_SEND);
};

/// Waits for permits nothing can give back, reported in a closed world.
#[cfg(feature = "detect")]
mod fire {
    use super::common::{assert_contains, watchdog};
    use impasse::{Condvar, Mutex, Semaphore};
    use std::panic::{self, AssertUnwindSafe};
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    use super::common::world::{reports_of, Ending};

    fn permit_holder_waits_for_a_mutex_whose_holder_waits_for_a_permit() {
        let text = reports_of("permit_against_mutex", || {
            let ending = Ending::new();
            let pool = Arc::new(Semaphore::named("pool", 1));
            let ledger = Arc::new(Mutex::named("ledger", ()));
            let both_hold = Arc::new(Barrier::new(2));
            let holder = {
                let (pool, ledger, both_hold) = (pool.clone(), ledger.clone(), both_hold.clone());
                ending.spawn("permit-holder", move || {
                    let _permit = pool.acquire();
                    both_hold.wait();
                    let _ledger = ledger.lock();
                })
            };
            let starved = {
                let pool = pool.clone();
                ending.spawn("ledger-holder", move || {
                    let _ledger = ledger.lock();
                    both_hold.wait();
                    let _permit = pool.acquire();
                })
            };
            ending.close(vec![holder, starved], || pool.add_permits(1));
        });
        assert_contains(
            &text,
            &[
                "waits for a permit of Semaphore \"pool\"",
                "holds a permit of Semaphore \"pool\"",
                "Mutex \"ledger\"",
                "thread \"permit-holder\"",
                "thread \"ledger-holder\"",
            ],
        );
    }

    fn the_only_permit_is_held_by_a_thread_that_waits_forever() {
        let text = reports_of("permit_held_by_a_sleeper", || {
            let ending = Ending::new();
            let pool = Arc::new(Semaphore::named("pool", 1));
            let go = Arc::new((Mutex::named("go", false), Condvar::named("go")));
            let holding = Arc::new(Barrier::new(2));
            let sleeper = {
                let (pool, go, holding) = (pool.clone(), go.clone(), holding.clone());
                ending.spawn("sleeper", move || {
                    let _permit = pool.acquire();
                    holding.wait();
                    let mut go_on = go.0.lock();
                    // Nobody will say go while this thread keeps the only permit.
                    go.1.wait_while(&mut go_on, |go_on| !*go_on);
                })
            };
            let starved = {
                let (pool, go) = (pool.clone(), go.clone());
                ending.spawn("starved", move || {
                    holding.wait();
                    let _permit = pool.acquire();
                    *go.0.lock() = true;
                    go.1.notify_all();
                })
            };
            ending.close(vec![sleeper, starved], || {
                *go.0.lock() = true;
                go.1.notify_all();
                pool.add_permits(1);
            });
        });
        assert_contains(
            &text,
            &[
                "waits for a permit of Semaphore \"pool\"",
                "holds a permit of Semaphore \"pool\"",
                "waits on Condvar \"go\"",
                "thread \"sleeper\"",
                "thread \"starved\"",
            ],
        );
    }

    fn acquiring_more_permits_than_there_will_ever_be() {
        let pool = Semaphore::named("pool", 2);
        let text = reports_of("too_many_permits", || {
            let _all = pool.acquire_many(3);
        });
        // The reported waiter left the queue: nobody waits ahead of the next one.
        assert_eq!(pool.acquire_many(2).num_permits(), 2);
        assert!(
            text.contains("the only thread of the test `too_many_permits` waits"),
            "{text}"
        );
        assert!(
            text.contains("waits for a permit of Semaphore \"pool\""),
            "{text}"
        );
    }

    /// Reported not when it began but on a later look (the world closed meanwhile): the
    /// waiter still leaves the queue, so added permits are not handed to it.
    fn a_wait_reported_on_a_later_look() {
        let pool = Semaphore::named("pool", 0);
        let text = reports_of("reported_later", || {
            // Invisible to impasse, it keeps the world open while it computes, then leaves
            // without adding a permit.
            let computer = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(100)));
            let report = panic::catch_unwind(AssertUnwindSafe(|| pool.acquire()));
            computer.join().unwrap();
            panic::resume_unwind(report.expect_err("the wait is reported"));
        });
        assert!(
            text.contains("waits for a permit of Semaphore \"pool\""),
            "{text}"
        );
        pool.add_permits(1);
        assert!(
            pool.try_acquire().is_some(),
            "the reported waiter left the queue"
        );
    }

    /// A permit taken again by the thread that holds the only one.
    fn taking_a_second_permit_while_holding_the_only_one() {
        let text = reports_of("second_permit", || {
            let pool = Semaphore::named("pool", 1);
            let _first = pool.acquire();
            let _second = pool.acquire();
        });
        assert!(
            text.contains("holds a permit of Semaphore \"pool\""),
            "{text}"
        );
    }

    #[test]
    fn closed_worlds_report_waits_for_permits_nothing_can_give_back() {
        let _watchdog = watchdog("closed_worlds_report_waits_for_permits_nothing_can_give_back");
        permit_holder_waits_for_a_mutex_whose_holder_waits_for_a_permit();
        the_only_permit_is_held_by_a_thread_that_waits_forever();
        acquiring_more_permits_than_there_will_ever_be();
        taking_a_second_permit_while_holding_the_only_one();
        a_wait_reported_on_a_later_look();
    }
}
