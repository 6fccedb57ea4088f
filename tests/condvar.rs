//! Condition variables, both flavours, in waits that end: never reported (in closed worlds
//! too), and keeping the contract (no lost wake-up, the mutex locked again on every way out,
//! timeouts, std's poisoning). Waits that never end are in `condvar_deadlocks.rs`.

mod common;

use common::{join_quietly, spawn, wait_until, watchdog};
use impasse::testing::{self, Options};
use impasse::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// A bounded buffer with the two condition variables of the textbook.
struct Bounded {
    items: Mutex<VecDeque<Option<u64>>>,
    not_full: Condvar,
    not_empty: Condvar,
    capacity: usize,
}

impl Bounded {
    fn push(&self, item: Option<u64>) {
        let mut items = self.items.lock();
        self.not_full
            .wait_while(&mut items, |items| items.len() == self.capacity);
        items.push_back(item);
        self.not_empty.notify_one();
    }

    fn pop(&self) -> Option<u64> {
        let mut items = self.items.lock();
        self.not_empty
            .wait_while(&mut items, |items| items.is_empty());
        let item = items.pop_front().expect("not empty");
        self.not_full.notify_one();
        item
    }
}

// As parking_lot's and std's: shared between threads, and across `catch_unwind`.
const _: () = {
    use std::panic::{RefUnwindSafe, UnwindSafe};
    fn shareable<T: Send + Sync + UnwindSafe + RefUnwindSafe>() {}
    let _ = shareable::<Condvar>;
    let _ = shareable::<impasse::stdsync::Condvar>;
    let _ = shareable::<impasse::WaitTimeoutResult>;
    let _ = shareable::<impasse::stdsync::WaitTimeoutResult>;
};

#[test]
fn bounded_producer_consumer_under_contention() {
    const PRODUCERS: u64 = 3;
    const CONSUMERS: usize = 3;
    const ITEMS: u64 = 3_000; // per producer
    let _watchdog = watchdog("bounded_producer_consumer_under_contention");
    let total = testing::run("bounded_producer_consumer", Options::new(), || {
        let buffer = Arc::new(Bounded {
            items: Mutex::named("buffer", VecDeque::new()),
            not_full: Condvar::named("not_full"),
            not_empty: Condvar::named("not_empty"),
            capacity: 4,
        });
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|i| {
                let buffer = buffer.clone();
                common::spawn(&format!("consumer-{i}"), move || {
                    let mut sum = 0;
                    while let Some(item) = buffer.pop() {
                        sum += item;
                    }
                    sum
                })
            })
            .collect();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let buffer = buffer.clone();
                common::spawn(&format!("producer-{p}"), move || {
                    for i in 0..ITEMS {
                        buffer.push(Some(p * ITEMS + i));
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.join().expect("a producer");
        }
        for _ in 0..CONSUMERS {
            buffer.push(None);
        }
        consumers
            .into_iter()
            .map(|c| c.join().expect("a consumer"))
            .sum::<u64>()
    });
    let n = PRODUCERS * ITEMS;
    assert_eq!(total, n * (n - 1) / 2, "every item consumed exactly once");
}

#[test]
fn timed_waits_in_a_would_be_cycle_time_out_quietly() {
    let _watchdog = watchdog("timed_waits_in_a_would_be_cycle_time_out_quietly");
    testing::run("timed_would_be_cycle", Options::new(), || {
        let state = Arc::new(Mutex::named("state", ()));
        let flag = Arc::new(Mutex::named("flag", false));
        let ready = Arc::new(Condvar::named("ready"));
        let holding = Arc::new(Barrier::new(2));
        let waiter = {
            let (state, flag, ready, holding) =
                (state.clone(), flag.clone(), ready.clone(), holding.clone());
            common::spawn("timed-waiter", move || {
                let _state = state.lock();
                holding.wait();
                let mut flag = flag.lock();
                // The notifier needs `state` first: these waits can only time out.
                let result = ready.wait_while_for(&mut flag, |f| !*f, Duration::from_millis(60));
                assert!(result.timed_out());
                let deadline = Instant::now() + Duration::from_millis(40);
                assert!(ready.wait_until(&mut flag, deadline).timed_out());
                assert!(ready.wait_for(&mut flag, Duration::ZERO).timed_out());
                assert!(!*flag);
            })
        };
        let notifier = common::spawn("late-notifier", move || {
            holding.wait();
            let _state = state.lock(); // blocks until the waiter gives up
            *flag.lock() = true;
            ready.notify_all();
        });
        waiter.join().expect("the waiter");
        notifier.join().expect("the notifier");
    });
}

#[test]
fn a_notification_before_the_wait_is_not_lost_with_a_predicate() {
    let _watchdog = watchdog("a_notification_before_the_wait_is_not_lost_with_a_predicate");
    let pair = Arc::new((Mutex::named("flag", false), Condvar::named("ready")));
    let notifier = {
        let pair = pair.clone();
        spawn("early-notifier", move || {
            let (flag, ready) = &*pair;
            *flag.lock() = true;
            ready.notify_one() // nobody waits yet
        })
    };
    let nobody_listened = !join_quietly(vec![notifier])[0];
    assert!(nobody_listened);
    let (flag, ready) = &*pair;
    let mut flag = flag.lock();
    ready.wait_while(&mut flag, |f| !*f); // checks first: returns at once
    assert!(*flag);
}

#[test]
fn ping_pong_loses_no_wake_up() {
    const ROUNDS: u64 = 5_000;
    let _watchdog = watchdog("ping_pong_loses_no_wake_up");
    let shared = Arc::new((Mutex::named("ball", 0u64), Condvar::named("turn")));
    let players: Vec<_> = (0..2u64)
        .map(|me| {
            let shared = shared.clone();
            spawn(&format!("player-{me}"), move || {
                let (ball, turn) = &*shared;
                let mut ball = ball.lock();
                loop {
                    turn.wait_while(&mut ball, |ball| *ball % 2 != me && *ball < 2 * ROUNDS);
                    if *ball >= 2 * ROUNDS {
                        return;
                    }
                    *ball += 1;
                    turn.notify_one();
                }
            })
        })
        .collect();
    join_quietly(players);
    assert_eq!(*shared.0.lock(), 2 * ROUNDS);
}

#[test]
fn notify_all_wakes_every_waiter_and_notify_one_one() {
    #[derive(Default)]
    struct Gate {
        waiting: usize,
        tickets: usize,
        passed: usize,
    }
    let _watchdog = watchdog("notify_all_wakes_every_waiter_and_notify_one_one");
    let shared = Arc::new((Mutex::new(Gate::default()), Condvar::new()));
    assert!(!shared.1.notify_one());
    assert_eq!(shared.1.notify_all(), 0);
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let shared = shared.clone();
            spawn(&format!("gate-waiter-{i}"), move || {
                let (gate, open) = &*shared;
                let mut gate = gate.lock();
                gate.waiting += 1;
                open.wait_while(&mut gate, |g| g.tickets == 0);
                gate.tickets -= 1;
                gate.passed += 1;
            })
        })
        .collect();
    let (gate, open) = &*shared;
    wait_until(|| gate.lock().waiting == 3);
    // A waiter that has released the mutex is queued before a notifier can get at the queue.
    gate.lock().tickets = 1;
    assert!(open.notify_one());
    wait_until(|| gate.lock().passed == 1);
    gate.lock().tickets = 2;
    assert_eq!(open.notify_all(), 2);
    join_quietly(waiters);
    assert_eq!(gate.lock().passed, 3);
}

#[test]
fn timed_waits_relock_and_report_their_outcome() {
    let m = Mutex::new(0);
    let cv = Condvar::default();
    let mut guard = m.lock();
    assert!(cv
        .wait_for(&mut guard, Duration::from_millis(5))
        .timed_out());
    assert!(m.is_locked(), "the mutex is locked again");
    *guard += 1;
    let past = Instant::now() - Duration::from_millis(1);
    assert!(cv.wait_until(&mut guard, past).timed_out());
    // A condition that already fails never waits, and is no timeout.
    assert!(!cv
        .wait_while_for(&mut guard, |v| *v == 0, Duration::ZERO)
        .timed_out());
    assert!(cv
        .wait_while_until(&mut guard, |v| *v == 1, past)
        .timed_out());
    // A wait beyond what `Instant` can hold is a wait without a deadline.
    let shared = Arc::new((Mutex::new((false, false)), Condvar::new())); // (waiting, done)
    let waiter = {
        let shared = shared.clone();
        spawn("forever-waiter", move || {
            let mut state = shared.0.lock();
            state.0 = true;
            shared
                .1
                .wait_while_for(&mut state, |s| !s.1, Duration::MAX)
                .timed_out()
        })
    };
    wait_until(|| shared.0.lock().0);
    shared.0.lock().1 = true;
    assert_eq!(shared.1.notify_all(), 1);
    assert_eq!(join_quietly(vec![waiter]), [false]);
    assert_eq!(format!("{cv:?}"), "Condvar { .. }");
}

#[test]
fn a_computing_std_thread_keeps_the_world_open() {
    let _watchdog = watchdog("a_computing_std_thread_keeps_the_world_open");
    testing::run("computing_notifier", Options::new(), || {
        let pair = Arc::new((Mutex::named("result", None), Condvar::named("computed")));
        let computer = {
            let pair = pair.clone();
            // Invisible to impasse: while it computes, the test's wait must not be called a
            // deadlock, even though the test's thread is the world's only member.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                *pair.0.lock() = Some(42);
                pair.1.notify_one();
            })
        };
        let (result, computed) = &*pair;
        let mut result = result.lock();
        computed.wait_while(&mut result, |r| r.is_none());
        assert_eq!(*result, Some(42));
        drop(result);
        computer.join().unwrap();
    });
}

mod std_flavour {
    use super::common::{join_quietly, panic_text, spawn, watchdog};
    use impasse::stdsync::{Condvar, Mutex};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn waits_time_out_and_wake() {
        let _watchdog = watchdog("std_flavour::waits_time_out_and_wake");
        let pair = Arc::new((Mutex::new(0), Condvar::new()));
        let (count, changed) = &*pair;
        let guard = count.lock().unwrap();
        let (guard, result) = changed
            .wait_timeout(guard, Duration::from_millis(5))
            .unwrap();
        assert!(result.timed_out());
        let (guard, result) = changed
            .wait_timeout_while(guard, Duration::from_millis(5), |c| *c == 0)
            .unwrap();
        assert!(result.timed_out());
        drop(guard);
        let counter = {
            let pair = pair.clone();
            spawn("std-counter", move || {
                for _ in 0..3 {
                    *pair.0.lock().unwrap() += 1;
                    pair.1.notify_all();
                }
            })
        };
        let guard = changed
            .wait_while(count.lock().unwrap(), |c| *c < 3)
            .unwrap();
        assert_eq!(*guard, 3);
        let (guard, result) = changed
            .wait_timeout_while(guard, Duration::from_secs(5), |c| *c < 3)
            .unwrap();
        assert!(!result.timed_out());
        drop(guard);
        join_quietly(vec![counter]);
        changed.notify_one();
        assert_eq!(format!("{changed:?}"), "Condvar { .. }");
    }

    #[test]
    fn a_wait_returns_err_once_the_mutex_is_poisoned() {
        let _watchdog = watchdog("std_flavour::a_wait_returns_err_once_the_mutex_is_poisoned");
        let pair = Arc::new((Mutex::named("std-flag", false), Condvar::named("std-ready")));
        let (flag, ready) = &*pair;
        let guard = flag.lock().unwrap();
        let poisoner = {
            let pair = pair.clone();
            spawn("poisoner", move || {
                let mut flag = pair.0.lock().unwrap();
                *flag = true;
                pair.1.notify_one();
                panic!("boom while holding the mutex");
            })
        };
        let err = ready
            .wait_while(guard, |f| !*f)
            .expect_err("the mutex was poisoned during the wait");
        let guard = err.into_inner();
        assert!(*guard, "the wait still hands over the guard");
        drop(guard);
        let payload = poisoner.join().expect_err("the poisoner panicked");
        assert!(panic_text(&*payload).contains("boom"));
        assert!(flag.is_poisoned());
        let timed = ready.wait_timeout(flag.lock().unwrap_err().into_inner(), Duration::ZERO);
        assert!(timed.is_err(), "a timed wait reports the poison too");
    }
}
