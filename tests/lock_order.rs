//! Potential deadlocks: lock-order inversions that did not deadlock in this run but can in
//! another. Each precision rule has a firing scenario and a quiet near-miss.
//!
//! Threads are lined up with std barriers and channels, which impasse does not see: to it the
//! threads may run at the same time, exactly as in a program whose threads are not ordered by
//! spawn and join. Only `impasse::thread` spawns and joins order threads for the detector.

#![cfg(feature = "detect")]

mod common;

use common::{join_all, join_quietly, spawn, watchdog};
use impasse::{Mutex, RwLock};
use std::sync::{Arc, Barrier};

const POTENTIAL: &str = "impasse: potential deadlock";

/// [`common::one_after_another`], whose panics must all be potential-deadlock reports.
fn one_after_another(
    first: (&str, impl FnOnce() + Send + 'static),
    second: (&str, impl FnOnce() + Send + 'static),
) -> Vec<String> {
    let reports = common::one_after_another(first, second);
    for text in &reports {
        assert!(text.starts_with(POTENTIAL), "unexpected panic:\n{text}");
    }
    reports
}

/// Joins every thread; returns the potential-deadlock reports they panicked with.
fn join_all_potential(handles: Vec<impasse::thread::JoinHandle<()>>) -> Vec<String> {
    let mut reports = Vec::new();
    for handle in handles {
        if let Err(payload) = handle.join() {
            let text = common::panic_text(&*payload);
            assert!(text.starts_with(POTENTIAL), "unexpected panic:\n{text}");
            reports.push(text);
        }
    }
    reports
}

fn lock_pair(a: &Mutex<u32>, b: &Mutex<u32>) {
    let mut a = a.lock();
    let mut b = b.lock();
    *a += 1;
    *b += 1;
}

#[test]
fn two_threads_in_opposite_orders() {
    let _watchdog = watchdog("two_threads_in_opposite_orders");
    common::inversions_panic();
    let a = Arc::new(Mutex::named("alpha", 0));
    let b = Arc::new(Mutex::named("beta", 0));
    let (a1, b1, a2, b2) = (a.clone(), b.clone(), a.clone(), b.clone());
    let reports = one_after_another(
        ("forward", move || lock_pair(&a1, &b1)),
        ("backward", move || lock_pair(&b2, &a2)),
    );
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let report = &reports[0];
    assert!(
        report.contains("2 threads take 2 locks in orders that form a cycle"),
        "{report}"
    );
    for needle in [
        "thread \"forward\"",
        "thread \"backward\"",
        "Mutex \"alpha\"",
        "Mutex \"beta\"",
        "cycle: beta -> alpha -> beta",
        "possible interleaving:",
        "lock alpha: waits for",
        "suggested order: alpha, then beta",
        "detected by thread \"backward\"",
        "tests/lock_order.rs:",
    ] {
        assert!(
            report.contains(needle),
            "report lacks {needle:?}:\n{report}"
        );
    }
    // The reporting thread released the lock whose acquisition closed the cycle, and its
    // guards unwound: both locks are free.
    assert!(!a.is_locked() && !b.is_locked());
}

#[test]
fn three_threads_three_locks() {
    let _watchdog = watchdog("three_threads_three_locks");
    common::inversions_panic();
    let locks: Arc<Vec<Mutex<u32>>> = Arc::new(
        (0..3)
            .map(|i| Mutex::named(format!("ring-{i}"), 0))
            .collect(),
    );
    let mut turn = Vec::new();
    for i in 0..3 {
        turn.push(Arc::new(Barrier::new(if i == 0 { 1 } else { 2 })));
    }
    let turn = Arc::new(turn);
    let threads = (0..3)
        .map(|i| {
            let (locks, turn) = (locks.clone(), turn.clone());
            spawn(&format!("ring-worker-{i}"), move || {
                turn[i].wait();
                lock_pair(&locks[i], &locks[(i + 1) % 3]);
                if i + 1 < 3 {
                    turn[i + 1].wait();
                }
            })
        })
        .collect();
    let reports = join_all_potential(threads);
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert!(
        reports[0].contains("3 threads take 3 locks in orders that form a cycle"),
        "{}",
        reports[0]
    );
}

#[test]
fn bank_transfers_in_opposite_directions() {
    let _watchdog = watchdog("bank_transfers_in_opposite_directions");
    common::inversions_panic();
    let accounts: Arc<Vec<Mutex<u32>>> = Arc::new(
        (0..2)
            .map(|i| Mutex::named(format!("account-{i}"), 100))
            .collect(),
    );
    fn transfer(accounts: &[Mutex<u32>], from: usize, to: usize, amount: u32) {
        let mut source = accounts[from].lock();
        let mut target = accounts[to].lock();
        *source -= amount;
        *target += amount;
    }
    let (x, y) = (accounts.clone(), accounts.clone());
    let reports = one_after_another(
        ("pay-0-to-1", move || transfer(&x, 0, 1, 10)),
        ("pay-1-to-0", move || transfer(&y, 1, 0, 5)),
    );
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert!(reports[0].contains("\"account-0\""), "{}", reports[0]);
}

#[test]
fn rwlock_writer_then_reader_inversion() {
    let _watchdog = watchdog("rwlock_writer_then_reader_inversion");
    common::inversions_panic();
    let (p, q) = (
        Arc::new(RwLock::named("p", 0)),
        Arc::new(RwLock::named("q", 0)),
    );
    let (p1, q1, p2, q2) = (p.clone(), q.clone(), p.clone(), q.clone());
    let reports = one_after_another(
        ("writes-p-reads-q", move || {
            let _w = p1.write();
            let _r = q1.read();
        }),
        ("writes-q-reads-p", move || {
            let _w = q2.write();
            let _r = p2.read();
        }),
    );
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert!(
        reports[0].contains("the write lock of RwLock \"q\""),
        "{}",
        reports[0]
    );
}

#[test]
fn quiet_readers_in_opposite_orders() {
    // Near-miss of the rwlock rule: readers never block readers.
    let _watchdog = watchdog("quiet_readers_in_opposite_orders");
    common::inversions_panic();
    let (p, q) = (Arc::new(RwLock::new(0)), Arc::new(RwLock::new(0)));
    let (p1, q1, p2, q2) = (p.clone(), q.clone(), p.clone(), q.clone());
    let reports = one_after_another(
        ("reads-p-then-q", move || {
            let _a = p1.read();
            let _b = q1.read_recursive();
        }),
        ("reads-q-then-p", move || {
            let _a = q2.read();
            let _b = p2.read_recursive();
        }),
    );
    assert!(reports.is_empty(), "{reports:#?}");
}

#[test]
fn quiet_single_thread_inversion() {
    // Near-miss of the distinct-threads rule: one thread cannot wait for itself in two places.
    let _watchdog = watchdog("quiet_single_thread_inversion");
    common::inversions_panic();
    let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let t = spawn("alone", move || {
        lock_pair(&a, &b);
        lock_pair(&b, &a);
    });
    join_quietly(vec![t]);
}

#[test]
fn quiet_inversion_under_a_gate_lock() {
    // Near-miss of the gate rule: both orders are taken under one outer lock.
    let _watchdog = watchdog("quiet_inversion_under_a_gate_lock");
    common::inversions_panic();
    let gate = Arc::new(Mutex::named("gate", ()));
    let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let (g1, a1, b1) = (gate.clone(), a.clone(), b.clone());
    let (g2, a2, b2) = (gate.clone(), a.clone(), b.clone());
    let reports = one_after_another(
        ("gated-forward", move || {
            let _g = g1.lock();
            lock_pair(&a1, &b1);
        }),
        ("gated-backward", move || {
            let _g = g2.lock();
            lock_pair(&b2, &a2);
        }),
    );
    assert!(reports.is_empty(), "{reports:#?}");
}

#[test]
fn an_ungated_edge_still_fires_next_to_a_gated_one() {
    // The gate must be common to every edge of the cycle: here the second thread has none.
    let _watchdog = watchdog("an_ungated_edge_still_fires_next_to_a_gated_one");
    common::inversions_panic();
    let gate = Arc::new(Mutex::named("gate", ()));
    let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let (g1, a1, b1) = (gate.clone(), a.clone(), b.clone());
    let (a2, b2) = (a.clone(), b.clone());
    let reports = one_after_another(
        ("gated", move || {
            let _g = g1.lock();
            lock_pair(&a1, &b1);
        }),
        ("ungated", move || lock_pair(&b2, &a2)),
    );
    assert_eq!(reports.len(), 1, "{reports:#?}");
}

#[test]
fn quiet_when_spawn_and_join_order_the_threads() {
    // Near-miss of the concurrency rule: the first thread is joined before the second is
    // spawned, so their orders can never overlap.
    let _watchdog = watchdog("quiet_when_spawn_and_join_order_the_threads");
    common::inversions_panic();
    let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let (a1, b1) = (a.clone(), b.clone());
    join_quietly(vec![spawn("earlier", move || lock_pair(&a1, &b1))]);
    let (a2, b2) = (a.clone(), b.clone());
    join_quietly(vec![spawn("later", move || lock_pair(&b2, &a2))]);
}

#[test]
fn a_parent_racing_its_child_fires() {
    // The counterpart: the child runs while its parent goes on, so they are concurrent.
    let _watchdog = watchdog("a_parent_racing_its_child_fires");
    common::inversions_panic();
    let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let turn = Arc::new(Barrier::new(2));
    let parent = {
        let (a, b, turn) = (a.clone(), b.clone(), turn.clone());
        spawn("parent", move || {
            let child = {
                let (a, b, turn) = (a.clone(), b.clone(), turn.clone());
                spawn("child", move || {
                    lock_pair(&a, &b);
                    turn.wait();
                })
            };
            turn.wait();
            lock_pair(&b, &a);
            let _ = child.join();
        })
    };
    let reports = join_all_potential(vec![parent]);
    assert_eq!(reports.len(), 1, "{reports:#?}");
}

#[test]
fn quiet_try_lock_back_off() {
    // Near-miss of the try-lock rule: a successful try_lock adds no edge into its lock.
    let _watchdog = watchdog("quiet_try_lock_back_off");
    common::inversions_panic();
    let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let (a1, b1, a2, b2) = (a.clone(), b.clone(), a.clone(), b.clone());
    let reports = one_after_another(
        ("locks", move || lock_pair(&a1, &b1)),
        ("tries", move || {
            let _b = b2.lock();
            let got = a2.try_lock();
            assert!(got.is_some(), "nobody holds a now");
        }),
    );
    assert!(reports.is_empty(), "{reports:#?}");
}

#[test]
fn locks_taken_after_a_try_lock_still_get_edges_from_it() {
    let _watchdog = watchdog("locks_taken_after_a_try_lock_still_get_edges_from_it");
    common::inversions_panic();
    let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let (a1, b1, a2, b2) = (a.clone(), b.clone(), a.clone(), b.clone());
    let reports = one_after_another(
        ("tries-then-locks", move || {
            let _a = a1.try_lock().expect("free");
            let _b = b1.lock();
        }),
        ("locks", move || lock_pair(&b2, &a2)),
    );
    assert_eq!(reports.len(), 1, "{reports:#?}");
}

#[test]
fn quiet_hierarchical_locking_of_many_instances() {
    // Parent then child, for many pairs, in several threads: one consistent order.
    let _watchdog = watchdog("quiet_hierarchical_locking_of_many_instances");
    common::inversions_panic();
    let tree: Arc<Vec<(Mutex<u32>, Mutex<u32>)>> =
        Arc::new((0..200).map(|_| (Mutex::new(0), Mutex::new(0))).collect());
    let threads = (0..4)
        .map(|w| {
            let tree = tree.clone();
            spawn(&format!("walker-{w}"), move || {
                for (parent, child) in tree.iter() {
                    let mut p = parent.lock();
                    let mut c = child.lock();
                    *p += 1;
                    *c += 1;
                }
            })
        })
        .collect();
    join_quietly(threads);
    assert!(tree.iter().all(|(p, c)| *p.lock() == 4 && *c.lock() == 4));
}

#[test]
fn a_dropped_lock_takes_its_edges_with_it() {
    // A lock that dies leaves the graph: a new lock in the other order is a fresh node.
    let _watchdog = watchdog("a_dropped_lock_takes_its_edges_with_it");
    common::inversions_panic();
    let a = Arc::new(Mutex::new(0));
    {
        let b = Mutex::new(0);
        lock_pair(&a, &b);
    }
    let b = Arc::new(Mutex::new(0));
    let (a2, b2) = (a.clone(), b.clone());
    let t = spawn("other-order", move || lock_pair(&b2, &a2));
    join_quietly(vec![t]);
    let reports = join_all(Vec::<impasse::thread::JoinHandle<()>>::new());
    assert!(reports.is_empty());
}

#[test]
fn quiet_for_other_instances_of_the_same_classes() {
    // Strict mode's near-miss in the default mode: locks created on the same lines, but
    // different instances in each thread, can never wait for each other.
    let _watchdog = watchdog("quiet_for_other_instances_of_the_same_classes");
    common::inversions_panic();
    fn pair() -> (Mutex<u32>, Mutex<u32>) {
        (Mutex::new(0), Mutex::new(0))
    }
    let ((x1, y1), (x2, y2)) = (pair(), pair());
    let reports = one_after_another(
        ("first-pair", move || lock_pair(&x1, &y1)),
        ("second-pair", move || lock_pair(&y2, &x2)),
    );
    assert!(reports.is_empty(), "{reports:#?}");
}

/// A ring of `n` locks taken by `n` threads, each its pair, one after another (lined up by std
/// barriers, which impasse does not see): the last acquisition closes an `n`-lock cycle.
fn ring(n: usize) -> Vec<String> {
    let locks: Arc<Vec<Mutex<u32>>> = Arc::new(
        (0..n)
            .map(|i| Mutex::named(format!("ring{n}-{i}"), 0))
            .collect(),
    );
    let turns: Arc<Vec<Barrier>> = Arc::new(
        (0..n)
            .map(|i| Barrier::new(if i == 0 { 1 } else { 2 }))
            .collect(),
    );
    let threads = (0..n)
        .map(|i| {
            let (locks, turns) = (locks.clone(), turns.clone());
            spawn(&format!("ring{n}-worker-{i}"), move || {
                turns[i].wait();
                lock_pair(&locks[i], &locks[(i + 1) % n]);
                if i + 1 < n {
                    turns[i + 1].wait();
                }
            })
        })
        .collect();
    join_all_potential(threads)
}

#[test]
fn long_rings_are_reported_too() {
    // Cycles of any length are searched (once limited to six locks).
    let _watchdog = watchdog("long_rings_are_reported_too");
    common::inversions_panic();
    for n in [7, 12] {
        let reports = ring(n);
        assert_eq!(reports.len(), 1, "{n}: {reports:#?}");
        assert!(
            reports[0].contains(&format!(
                "{n} threads take {n} locks in orders that form a cycle"
            )),
            "{}",
            reports[0]
        );
    }
}

#[test]
fn a_lock_read_held_across_both_orders_is_no_gate() {
    // Two readers can hold `gate` at once, so it does not keep the two orders apart.
    let _watchdog = watchdog("a_lock_read_held_across_both_orders_is_no_gate");
    common::inversions_panic();
    let gate = Arc::new(RwLock::named("read-gate", ()));
    let (a, b) = (
        Arc::new(Mutex::named("ga", 0)),
        Arc::new(Mutex::named("gb", 0)),
    );
    let (g1, a1, b1) = (gate.clone(), a.clone(), b.clone());
    let (g2, a2, b2) = (gate.clone(), a.clone(), b.clone());
    let reports = one_after_another(
        ("reads-gate-a-b", move || {
            let _g = g1.read();
            lock_pair(&a1, &b1);
        }),
        ("reads-gate-b-a", move || {
            let _g = g2.read();
            lock_pair(&b2, &a2);
        }),
    );
    assert_eq!(reports.len(), 1, "{reports:#?}");
}

#[test]
fn quiet_when_the_gate_is_write_held() {
    // The near miss: a writer at a time, so the gate serialises the two orders.
    let _watchdog = watchdog("quiet_when_the_gate_is_write_held");
    common::inversions_panic();
    let gate = Arc::new(RwLock::named("write-gate", ()));
    let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let (g1, a1, b1) = (gate.clone(), a.clone(), b.clone());
    let (g2, a2, b2) = (gate.clone(), a.clone(), b.clone());
    let reports = one_after_another(
        ("writes-gate-a-b", move || {
            let _g = g1.write();
            lock_pair(&a1, &b1);
        }),
        ("writes-gate-b-a", move || {
            let _g = g2.write();
            lock_pair(&b2, &a2);
        }),
    );
    assert!(reports.is_empty(), "{reports:#?}");
}

#[test]
fn earlier_ordered_threads_do_not_crowd_out_a_later_inversion() {
    // Five threads take `a` then `b` one after another, each spawned after the previous was
    // joined: each one's witness supersedes the one before. Then two threads nothing orders
    // take the two orders: the inversion is found (it was lost once an edge kept 4 witnesses).
    let _watchdog = watchdog("earlier_ordered_threads_do_not_crowd_out_a_later_inversion");
    common::inversions_panic();
    let (a, b) = (
        Arc::new(Mutex::named("ea", 0)),
        Arc::new(Mutex::named("eb", 0)),
    );
    for i in 0..5 {
        let (a, b) = (a.clone(), b.clone());
        join_quietly(vec![spawn(&format!("earlier-{i}"), move || {
            lock_pair(&a, &b)
        })]);
    }
    let (a1, b1, a2, b2) = (a.clone(), b.clone(), a.clone(), b.clone());
    let reports = one_after_another(
        ("later-forward", move || lock_pair(&a1, &b1)),
        ("later-backward", move || lock_pair(&b2, &a2)),
    );
    assert_eq!(reports.len(), 1, "{reports:#?}");
}

#[test]
fn quiet_for_locks_taken_in_index_order_by_many_threads() {
    // The classic fix for the bank-transfer deadlock: lock two accounts in index order. A
    // dense lock-order graph with no cycle, quiet, however many accounts.
    let _watchdog = watchdog("quiet_for_locks_taken_in_index_order_by_many_threads");
    common::inversions_panic();
    const ACCOUNTS: usize = 60;
    let accounts: Arc<Vec<Mutex<u64>>> =
        Arc::new((0..ACCOUNTS).map(|_| Mutex::new(1_000)).collect());
    let threads = (0..4u64)
        .map(|t| {
            let accounts = accounts.clone();
            spawn(&format!("transfers-{t}"), move || {
                let mut x = 0x9E37_79B9_7F4A_7C15_u64 ^ t;
                for _ in 0..2_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let (i, j) = ((x % 60) as usize, ((x >> 32) % 60) as usize);
                    if i == j {
                        continue;
                    }
                    let mut low = accounts[i.min(j)].lock();
                    let mut high = accounts[i.max(j)].lock();
                    *low -= 1;
                    *high += 1;
                }
            })
        })
        .collect();
    join_quietly(threads);
    let total: u64 = accounts.iter().map(|a| *a.lock()).sum();
    assert_eq!(total, 1_000 * ACCOUNTS as u64);
}

#[test]
fn quiet_when_a_message_orders_the_two_orders() {
    // What a thread did before it sent happened before what the receiver does after: impasse
    // owns the channel, so it sees that order (the near miss of `two_threads_in_opposite_orders`,
    // whose std barrier it cannot see).
    let _watchdog = watchdog("quiet_when_a_message_orders_the_two_orders");
    common::inversions_panic();
    let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let (done_tx, done_rx) = impasse::mpsc::channel_named::<()>("first-order-done");
    let (a1, b1, a2, b2) = (a.clone(), b.clone(), a.clone(), b.clone());
    let first = spawn("sends-after-a-b", move || {
        lock_pair(&a1, &b1);
        done_tx.send(()).unwrap();
    });
    let second = spawn("receives-then-b-a", move || {
        done_rx.recv().unwrap();
        lock_pair(&b2, &a2);
    });
    join_quietly(vec![first, second]);
}

#[test]
fn quiet_for_pool_tasks_run_one_after_another() {
    // The second task is submitted after the first one's result was taken: the pool carries
    // that order from the first task's end, through its result, to the second task's start.
    // The second must run on the other worker (on the same one, the two orders would be one
    // thread's anyway): hogs that block on std channels, which impasse cannot see, keep the
    // first task's worker busy and the other one free, whichever worker each hog lands on.
    let _watchdog = watchdog("quiet_for_pool_tasks_run_one_after_another");
    common::inversions_panic();
    let pool = common::pool(2, "ordered-tasks");
    let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let name = || std::thread::current().name().map(str::to_owned);
    // Submits a task that says where it runs and then blocks until its sender is dropped.
    let hog = |pool: &impasse::pool::ThreadPool| {
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (tell, told) = std::sync::mpsc::channel();
        let task = pool.submit(move || {
            let _ = tell.send(name());
            let _ = hold.recv();
        });
        let worker = told.recv().expect("the hog says where it runs");
        (worker, release, task)
    };
    for _ in 0..10 {
        let (a1, b1, a2, b2) = (a.clone(), b.clone(), a.clone(), b.clone());
        let first = pool.submit(move || {
            lock_pair(&a1, &b1);
            name()
        });
        let first_worker = first.result().expect("the first order");
        let mut busy = hog(&pool);
        if busy.0 != first_worker {
            // The other worker is busy: a second hog can only run on the first task's worker;
            // then the first hog ends, and its worker is the only free one.
            let on_first_worker = hog(&pool);
            assert_eq!(on_first_worker.0, first_worker, "two workers, one busy");
            let (_, release, task) = std::mem::replace(&mut busy, on_first_worker);
            drop(release);
            task.result().expect("the first hog");
        }
        let second = pool.submit(move || {
            lock_pair(&b2, &a2);
            name()
        });
        let second_worker = second.result().expect("the second order");
        assert_ne!(
            second_worker, first_worker,
            "the two orders ran on one worker"
        );
        let (_, release, task) = busy;
        drop(release);
        task.result().expect("the hog");
    }
}

#[test]
fn pool_tasks_nothing_orders_still_fire() {
    // The near miss: two tasks submitted together, lined up by a std barrier impasse cannot
    // see, on the pool's two workers.
    let _watchdog = watchdog("pool_tasks_nothing_orders_still_fire");
    common::inversions_panic();
    let pool = common::pool(2, "unordered-tasks");
    let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let turn = Arc::new(Barrier::new(2));
    let (a1, b1, a2, b2, turn1) = (a.clone(), b.clone(), a.clone(), b.clone(), turn.clone());
    let first = pool.submit(move || {
        lock_pair(&a1, &b1);
        turn1.wait();
    });
    let second = pool.submit(move || {
        turn.wait();
        lock_pair(&b2, &a2);
    });
    let results = [first.result(), second.result()];
    let reports: Vec<String> = results
        .into_iter()
        .filter_map(|result| match result {
            Err(impasse::pool::TaskError::Panicked(panic)) => Some(panic.message().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert!(reports[0].starts_with(POTENTIAL), "{}", reports[0]);
}

#[test]
fn quiet_for_a_once_cell_initialiser_and_a_later_user() {
    // What the initialiser did happened before what a thread that sees the cell initialised
    // does next.
    let _watchdog = watchdog("quiet_for_a_once_cell_initialiser_and_a_later_user");
    common::inversions_panic();
    let cell = Arc::new(impasse::OnceLock::<u32>::new());
    let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    let turn = Arc::new(Barrier::new(2));
    let (cell1, a1, b1, turn1) = (cell.clone(), a.clone(), b.clone(), turn.clone());
    let initialiser = spawn("initialises", move || {
        cell1.get_or_init(|| {
            lock_pair(&a1, &b1);
            7
        });
        turn1.wait();
    });
    let user = spawn("uses-later", move || {
        turn.wait();
        assert_eq!(cell.get(), Some(&7));
        lock_pair(&b, &a);
    });
    join_quietly(vec![initialiser, user]);
}
