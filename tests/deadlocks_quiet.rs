//! Near misses: scenarios that look like deadlocks to a careless detector but are not, and
//! must never be reported. With the default policy a report panics the thread that makes it,
//! so "quiet" means: every thread joins `Ok` (`common::join_quietly`) and the data is exactly
//! what the threads wrote. Each test names the near miss it guards.

mod common;

use common::{join_quietly, spawn, wait_until, watchdog};
use impasse::{
    MappedMutexGuard, Mutex, MutexGuard, ReentrantMutex, ReentrantMutexGuard, RwLock,
    RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard,
};
use std::cell::RefCell;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

/// Near miss: many threads contending for the same locks, always in one global order. Every
/// thread blocks often (its holds enter the wait-for graph) but no wait can close a cycle.
#[test]
fn consistent_lock_order_under_heavy_contention() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 20_000;
    let _watchdog = watchdog("consistent_lock_order_under_heavy_contention");
    common::inversions_panic();
    let locks = Arc::new([
        Mutex::named("first", 0u64),
        Mutex::named("second", 0u64),
        Mutex::named("third", 0u64),
    ]);
    let start = Arc::new(Barrier::new(THREADS));
    let workers = (0..THREADS)
        .map(|i| {
            let (locks, start) = (locks.clone(), start.clone());
            spawn(&format!("ordered-{i}"), move || {
                let mut mine = [0u64; 3];
                start.wait();
                for round in 0..ROUNDS {
                    // All three, or a prefix, or a suffix: always in the order first < second
                    // < third.
                    let (from, to) = match (round + i) % 4 {
                        0 | 1 => (0, 3),
                        2 => (0, 2),
                        _ => (1, 3),
                    };
                    let mut guards: Vec<MutexGuard<'_, u64>> =
                        locks[from..to].iter().map(|lock| lock.lock()).collect();
                    for (offset, guard) in guards.iter_mut().enumerate() {
                        **guard += 1;
                        mine[from + offset] += 1;
                    }
                }
                mine
            })
        })
        .collect();
    let done = join_quietly(workers);
    for (index, lock) in locks.iter().enumerate() {
        let expected: u64 = done.iter().map(|mine| mine[index]).sum();
        assert_eq!(*lock.lock(), expected, "counter {index}");
    }
    assert_eq!(
        *locks[0].lock(),
        (THREADS * ROUNDS * 3 / 4) as u64,
        "the prefix-or-all rounds each count the first lock"
    );
}

/// Near miss: ABBA where the second acquisition is a `try_lock` that backs off (releases
/// the first lock and retries). A `try_lock` never blocks, so it can close no cycle; the
/// first round forces both threads to hold one lock and fail on the other.
#[test]
fn try_lock_back_off_in_opposite_orders() {
    const ROUNDS: u64 = 10_000;
    let _watchdog = watchdog("try_lock_back_off_in_opposite_orders");
    common::inversions_panic();
    let left = Arc::new(Mutex::named("left", 0u64));
    let right = Arc::new(Mutex::named("right", 0u64));
    let both_hold_one = Arc::new(Barrier::new(2));

    fn transfer(
        first: &Mutex<u64>,
        second: &Mutex<u64>,
        both_hold_one: &Barrier,
        rounds: u64,
    ) -> u64 {
        // The forced collision: each holds its first lock and fails to get the other's.
        let held = first.lock();
        both_hold_one.wait();
        assert!(second.try_lock().is_none(), "the other thread holds it");
        both_hold_one.wait();
        drop(held);
        let mut backoffs = 1;
        let mut done = 0;
        while done < rounds {
            let mut first = first.lock();
            match second.try_lock() {
                Some(mut second) => {
                    *first += 1;
                    *second += 1;
                    done += 1;
                }
                None => {
                    backoffs += 1;
                    drop(first);
                    thread::yield_now();
                }
            }
        }
        backoffs
    }

    let a_to_b = {
        let (left, right, both) = (left.clone(), right.clone(), both_hold_one.clone());
        spawn("backoff-left-right", move || {
            transfer(&left, &right, &both, ROUNDS)
        })
    };
    let b_to_a = {
        let (left, right, both) = (left.clone(), right.clone(), both_hold_one.clone());
        spawn("backoff-right-left", move || {
            transfer(&right, &left, &both, ROUNDS)
        })
    };
    let backoffs = join_quietly(vec![a_to_b, b_to_a]);
    assert!(backoffs.iter().all(|&b| b >= 1), "{backoffs:?}");
    eprintln!("try_lock_back_off_in_opposite_orders: back-offs per thread {backoffs:?}");
    assert_eq!(*left.lock(), 2 * ROUNDS);
    assert_eq!(*right.lock(), 2 * ROUNDS);
}

/// A node of a singly linked list; nodes are leaked so that a guard of one node and the
/// next node can be held at the same time without borrowing one from the other.
struct Node {
    value: u64,
    next: Option<&'static Mutex<Node>>,
}

fn leak(node: Node) -> &'static Mutex<Node> {
    Box::leak(Box::new(Mutex::new(node)))
}

/// Near miss: hand-over-hand (lock coupling) down a linked list by several threads at once,
/// while another thread inserts nodes the same way. Each thread holds a node while it waits
/// for the next one: chains of waits, all in list order, never a cycle.
#[test]
fn hand_over_hand_down_a_linked_list() {
    const NODES: usize = 16;
    const WALKERS: usize = 3;
    const PASSES: u64 = 1_000;
    const INSERTS: usize = 100;
    let _watchdog = watchdog("hand_over_hand_down_a_linked_list");
    common::inversions_panic();
    let mut original = Vec::new();
    let mut next = None;
    for _ in 0..NODES {
        let node = leak(Node { value: 0, next });
        original.push(node);
        next = Some(node);
    }
    original.reverse(); // head first
    let head: &'static Mutex<Node> = original[0];
    let start = Arc::new(Barrier::new(WALKERS + 1));

    let mut threads: Vec<impasse::thread::JoinHandle<()>> = (0..WALKERS)
        .map(|i| {
            let start = start.clone();
            spawn(&format!("walker-{i}"), move || {
                start.wait();
                for _ in 0..PASSES {
                    let mut guard = head.lock();
                    loop {
                        guard.value += 1;
                        let Some(next) = guard.next else { break };
                        let next_guard = next.lock(); // still holding the current node
                        guard = next_guard; // now release it
                    }
                }
            })
        })
        .collect();
    threads.push({
        let start = start.clone();
        spawn("inserter", move || {
            start.wait();
            for insert in 0..INSERTS {
                let mut guard = head.lock();
                for _ in 0..insert % NODES {
                    let next = guard.next.expect("the list only grows");
                    let next_guard = next.lock();
                    guard = next_guard;
                }
                let fresh = leak(Node {
                    value: 0,
                    next: guard.next,
                });
                guard.next = Some(fresh);
            }
        })
    });
    join_quietly(threads);

    for (i, node) in original.iter().enumerate() {
        assert_eq!(node.lock().value, WALKERS as u64 * PASSES, "node {i}");
    }
    let mut length = 0;
    let mut guard = head.lock();
    loop {
        length += 1;
        let Some(next) = guard.next else { break };
        let next_guard = next.lock();
        guard = next_guard;
    }
    assert_eq!(length, NODES + INSERTS);
}

/// Near miss: several threads read one RwLock at the same time, each also reading it a
/// second time while it holds the first read. With no writer anywhere, a nested `read` never
/// waits (parking_lot only holds new readers back behind a *queued* writer).
#[test]
fn many_readers_with_nested_reads() {
    const READERS: usize = 4;
    const ROUNDS: u64 = 10_000;
    let _watchdog = watchdog("many_readers_with_nested_reads");
    common::inversions_panic();
    let table = Arc::new(RwLock::named("table", vec![1u64, 2, 3]));
    let all_reading = Arc::new(Barrier::new(READERS));
    let readers = (0..READERS)
        .map(|i| {
            let (table, all_reading) = (table.clone(), all_reading.clone());
            spawn(&format!("reader-{i}"), move || {
                // Every reader holds a read at once (the barrier proves it), then reads again.
                let outer = table.read();
                all_reading.wait();
                let inner = table.read();
                assert!(table.try_read().is_some());
                all_reading.wait();
                drop((outer, inner));
                let mut total = 0u64;
                for _ in 0..ROUNDS {
                    let outer = table.read();
                    let inner = table.read();
                    assert_eq!(outer.len(), 3);
                    total += inner.iter().sum::<u64>();
                }
                total
            })
        })
        .collect();
    let totals = join_quietly(readers);
    assert_eq!(totals, vec![6 * ROUNDS; READERS]);
    table.write().push(4);
    assert_eq!(*table.read(), [1, 2, 3, 4]);
}

/// Near miss: a thread that reads with `read_recursive`, lets a writer queue, and reads
/// recursively again. parking_lot lets a recursive reader pass a queued writer while readers
/// hold the lock, so this is no deadlock (the plain-`read` version is one, see
/// `deadlocks_fire::rereading_behind_a_queued_writer`).
#[test]
fn read_recursive_twice_while_a_writer_is_queued() {
    let _watchdog = watchdog("read_recursive_twice_while_a_writer_is_queued");
    common::inversions_panic();
    let config = Arc::new(RwLock::named("config", 1u64));
    let step = Arc::new(Barrier::new(2));
    let rereader = {
        let (config, step) = (config.clone(), step.clone());
        spawn("recursive-rereader", move || {
            let first = config.read_recursive();
            // 1: reading.
            step.wait();
            // 2: the writer is queued; a plain reader would wait now, a recursive one passes.
            step.wait();
            assert!(config.try_read().is_none(), "the writer is queued");
            let second = config.read_recursive();
            assert_eq!((*first, *second), (1, 1));
        })
    };
    step.wait(); // 1
    let writer = {
        let config = config.clone();
        spawn("queued-writer", move || {
            *config.write() = 2;
        })
    };
    wait_until(|| config.is_locked_exclusive() || writer.is_finished());
    step.wait(); // 2
    join_quietly(vec![rereader, writer]);
    assert_eq!(*config.read(), 2);
}

/// Near miss: ABBA where both second acquisitions are timed (`try_lock_for`). A timed wait
/// gives up by itself: both time out, or one gets through once the other has given up.
#[test]
fn timed_waits_in_an_abba_cycle() {
    let _watchdog = watchdog("timed_waits_in_an_abba_cycle");
    common::inversions_panic();
    let a = Arc::new(Mutex::named("timed-a", 0u32));
    let b = Arc::new(Mutex::named("timed-b", 0u32));
    let both_hold_one = Arc::new(Barrier::new(2));
    let timed =
        |name: &str, first: Arc<Mutex<u32>>, second: Arc<Mutex<u32>>, both: Arc<Barrier>| {
            spawn(name, move || {
                let mut first = first.lock();
                both.wait();
                match second.try_lock_for(Duration::from_millis(50)) {
                    Some(mut second) => {
                        *first += 1;
                        *second += 1;
                        true
                    }
                    None => false,
                }
            })
        };
    let t1 = timed(
        "timed-a-then-b",
        a.clone(),
        b.clone(),
        both_hold_one.clone(),
    );
    let t2 = timed(
        "timed-b-then-a",
        b.clone(),
        a.clone(),
        both_hold_one.clone(),
    );
    let got_through = join_quietly(vec![t1, t2]);
    let successes = got_through.iter().filter(|&&ok| ok).count();
    assert!(successes <= 1, "both cannot get through: {got_through:?}");
    assert_eq!(*a.lock(), successes as u32);
    assert_eq!(*b.lock(), successes as u32);
}

/// Near miss: an untimed wait on a lock whose holder is itself in a timed wait for a lock
/// the first thread holds. The timed wait gives up, so the untimed one is granted: no cycle.
#[test]
fn untimed_wait_on_a_thread_in_a_timed_wait() {
    let _watchdog = watchdog("untimed_wait_on_a_thread_in_a_timed_wait");
    common::inversions_panic();
    let a = Arc::new(Mutex::named("patient-a", 0u32));
    let b = Arc::new(Mutex::named("patient-b", 0u32));
    let both_hold_one = Arc::new(Barrier::new(2));
    let timed = {
        let (a, b, both) = (a.clone(), b.clone(), both_hold_one.clone());
        spawn("gives-up", move || {
            let _a = a.lock();
            both.wait();
            // `b` stays held until the other thread has `a`, which it gets only after this
            // wait gave up: it always times out.
            b.try_lock_for(Duration::from_millis(100)).is_some()
        })
    };
    let untimed = {
        let (a, b, both) = (a.clone(), b.clone(), both_hold_one.clone());
        spawn("waits-forever", move || {
            let mut b = b.lock();
            both.wait();
            let mut a = a.lock();
            *a += 1;
            *b += 1;
        })
    };
    let timed_got_b = timed.join();
    join_quietly(vec![untimed]);
    assert_eq!(
        timed_got_b.ok(),
        Some(false),
        "the timed wait must time out"
    );
    assert_eq!((*a.lock(), *b.lock()), (1, 1));
}

/// Near miss: RwLock timed waits across two locks held for writing, in opposite orders.
#[test]
fn timed_rwlock_waits_in_a_cycle() {
    let _watchdog = watchdog("timed_rwlock_waits_in_a_cycle");
    common::inversions_panic();
    let left = Arc::new(RwLock::named("timed-left", 0u32));
    let right = Arc::new(RwLock::named("timed-right", 0u32));
    let both = Arc::new(Barrier::new(2));
    let reader = {
        let (left, right, both) = (left.clone(), right.clone(), both.clone());
        spawn("write-left-read-right", move || {
            let mut w = left.write();
            both.wait();
            let got = right.try_read_for(Duration::from_millis(50)).is_some();
            *w += u32::from(got);
            got
        })
    };
    let writer = {
        let (left, right, both) = (left.clone(), right.clone(), both.clone());
        spawn("write-right-write-left", move || {
            let mut w = right.write();
            both.wait();
            match left.try_write_for(Duration::from_millis(50)) {
                Some(mut l) => {
                    *l += 1;
                    *w += 1;
                    true
                }
                None => false,
            }
        })
    };
    let got = join_quietly(vec![reader, writer]);
    assert!(got.iter().filter(|&&g| g).count() <= 1, "{got:?}");
}

/// Near miss: a nested `read` while a *timed* writer waits. With the detector a timed writer
/// waits without holding the writer bit, so the reader gets through (without it, the reader
/// waits until the writer gives up): no deadlock, no report.
#[test]
fn nested_read_behind_a_timed_writer() {
    let _watchdog = watchdog("nested_read_behind_a_timed_writer");
    common::inversions_panic();
    let cache = Arc::new(RwLock::named("cache", 7u32));
    let step = Arc::new(Barrier::new(2));
    let rereader = {
        let (cache, step) = (cache.clone(), step.clone());
        spawn("rereader", move || {
            let first = cache.read();
            step.wait(); // 1: reading
            step.wait(); // 2: the timed writer is queued
            let second = cache.read(); // waits until the timed writer gives up
            assert_eq!((*first, *second), (7, 7));
        })
    };
    step.wait(); // 1
    let writer = {
        let cache = cache.clone();
        spawn("timed-writer", move || {
            cache.try_write_for(Duration::from_millis(200)).is_some()
        })
    };
    wait_until(|| cache.is_locked_exclusive() || writer.is_finished());
    step.wait(); // 2
    join_quietly(vec![rereader]); // it got through
    let wrote = join_quietly(vec![writer]);
    assert_eq!(wrote, vec![false], "the reader held the lock all along");
}

/// Near miss: relocking a `ReentrantMutex` the thread already holds (several levels, through
/// `lock`, `try_lock` and `unlocked`), while another thread waits for it.
#[test]
fn reentrant_relock_on_one_thread() {
    const ROUNDS: usize = 5_000;
    let _watchdog = watchdog("reentrant_relock_on_one_thread");
    common::inversions_panic();
    let journal = Arc::new(ReentrantMutex::named(
        "journal",
        RefCell::new(Vec::<(usize, usize)>::new()),
    ));

    fn nested(journal: &ReentrantMutex<RefCell<Vec<(usize, usize)>>>, me: usize, depth: usize) {
        let guard = journal.lock();
        guard.borrow_mut().push((me, depth));
        if depth < 3 {
            nested(journal, me, depth + 1);
        }
    }

    let start = Arc::new(Barrier::new(2));
    let threads = (0..2)
        .map(|me| {
            let (journal, start) = (journal.clone(), start.clone());
            spawn(&format!("reentrant-{me}"), move || {
                start.wait();
                for round in 0..ROUNDS {
                    let mut outer = journal.lock();
                    outer.borrow_mut().push((me, 0));
                    nested(&journal, me, 1); // levels 1, 2, 3
                    let again = journal.try_lock().expect("the owner may always relock");
                    assert!(journal.is_owned_by_current_thread());
                    drop(again);
                    if round % 100 == 0 {
                        // Give the other thread a chance while this one holds nothing.
                        ReentrantMutexGuard::unlocked(&mut outer, || {
                            assert!(!journal.is_owned_by_current_thread());
                        });
                    }
                }
            })
        })
        .collect();
    join_quietly(threads);
    let journal = Arc::try_unwrap(journal).expect("the threads are done");
    let entries = journal.into_inner().into_inner();
    assert_eq!(entries.len(), 2 * ROUNDS * 4);
    // Mutual exclusion: each round's four entries come from one thread, levels 0..4.
    for round in entries.chunks(4) {
        let me = round[0].0;
        assert_eq!(round, [(me, 0), (me, 1), (me, 2), (me, 3)]);
    }
}

/// Near miss: RwLock downgrades and upgradable-to-write upgrades while other readers come and
/// go. An upgrade waits for readers and holds new ones back, but waits for no one who waits
/// for it.
#[test]
fn rwlock_downgrade_and_upgrade_with_readers_coming_and_going() {
    const ROUNDS: u64 = 5_000;
    const READERS: usize = 2;
    let _watchdog = watchdog("rwlock_downgrade_and_upgrade_with_readers_coming_and_going");
    common::inversions_panic();
    let pair = Arc::new(RwLock::named("pair", (0u64, 0u64)));
    let start = Arc::new(Barrier::new(2 + READERS));
    let mut threads = Vec::new();
    threads.push({
        let (pair, start) = (pair.clone(), start.clone());
        spawn("downgrading-writer", move || {
            start.wait();
            for _ in 0..ROUNDS {
                let mut w = pair.write();
                w.0 += 1;
                w.1 += 1;
                let r = RwLockWriteGuard::downgrade(w);
                assert_eq!(r.0, r.1);
            }
        })
    });
    threads.push({
        let (pair, start) = (pair.clone(), start.clone());
        spawn("upgrader", move || {
            start.wait();
            for round in 0..ROUNDS {
                let u = pair.upgradable_read();
                assert_eq!(u.0, u.1);
                let mut w = if round % 2 == 0 {
                    RwLockUpgradableReadGuard::upgrade(u)
                } else {
                    match RwLockUpgradableReadGuard::try_upgrade(u) {
                        Ok(w) => w,
                        Err(u) => RwLockUpgradableReadGuard::upgrade(u),
                    }
                };
                w.0 += 1;
                w.1 += 1;
                let mut u = RwLockWriteGuard::downgrade_to_upgradable(w);
                if round % 3 == 0 {
                    u.with_upgraded(|p| {
                        p.0 += 1;
                        p.1 += 1;
                    });
                }
                let r = RwLockUpgradableReadGuard::downgrade(u);
                assert_eq!(r.0, r.1);
            }
        })
    });
    for i in 0..READERS {
        let (pair, start) = (pair.clone(), start.clone());
        threads.push(spawn(&format!("passing-reader-{i}"), move || {
            start.wait();
            for round in 0..ROUNDS * 2 {
                if round % 2 == 0 {
                    let r = pair.read();
                    assert_eq!(r.0, r.1);
                } else if let Some(r) = pair.try_read() {
                    assert_eq!(r.0, r.1);
                }
            }
        }));
    }
    join_quietly(threads);
    let with_upgraded = ROUNDS.div_ceil(3);
    let expected = ROUNDS + ROUNDS + with_upgraded;
    assert_eq!(*pair.read(), (expected, expected));
}

/// Near miss: two threads take the same two locks in the same order while a third takes
/// them one at a time (never both): lots of waiting, no cycle.
#[test]
fn same_order_pair_with_a_one_at_a_time_taker() {
    const ROUNDS: u64 = 20_000;
    let _watchdog = watchdog("same_order_pair_with_a_one_at_a_time_taker");
    common::inversions_panic();
    let a = Arc::new(Mutex::named("pair-a", 0u64));
    let b = Arc::new(Mutex::named("pair-b", 0u64));
    let start = Arc::new(Barrier::new(3));
    let mut threads = Vec::new();
    for i in 0..2 {
        let (a, b, start) = (a.clone(), b.clone(), start.clone());
        threads.push(spawn(&format!("pair-taker-{i}"), move || {
            start.wait();
            for _ in 0..ROUNDS {
                let mut a = a.lock();
                let mut b = b.lock();
                *a += 1;
                *b += 1;
            }
        }));
    }
    {
        let (a, b, start) = (a.clone(), b.clone(), start.clone());
        threads.push(spawn("single-taker", move || {
            start.wait();
            for round in 0..ROUNDS {
                if round % 2 == 0 {
                    *a.lock() += 1;
                    *b.lock() += 1;
                } else {
                    *b.lock() += 1;
                    *a.lock() += 1;
                }
            }
        }));
    }
    join_quietly(threads);
    assert_eq!((*a.lock(), *b.lock()), (3 * ROUNDS, 3 * ROUNDS));
}

/// Near miss: a chain of waits that ends at a thread that is not blocked. `first` holds a
/// mutex and waits to write `middle`; `second` reads `middle` and waits to write `last`; a
/// late reader of `last` waits behind `second`'s queued write; the main thread reads `last`
/// and is blocked by nothing. Every link is a real wait, the chain is long, it is no cycle.
#[test]
fn chain_of_waits_that_is_no_cycle() {
    let _watchdog = watchdog("chain_of_waits_that_is_no_cycle");
    common::inversions_panic();
    let head = Arc::new(Mutex::named("chain-head", 0u32));
    let middle = Arc::new(RwLock::named("chain-middle", 0u32));
    let last = Arc::new(RwLock::named("chain-last", 0u32));
    let main_reads_last = last.read();
    let middle_read = Arc::new(Barrier::new(2));

    let second = {
        let (middle, last, middle_read) = (middle.clone(), last.clone(), middle_read.clone());
        spawn("chain-second", move || {
            let m = middle.read();
            middle_read.wait();
            *last.write() += 1; // queued behind the main thread's read
            *m
        })
    };
    middle_read.wait();
    wait_until(|| last.is_locked_exclusive() || second.is_finished());
    let first = {
        let (head, middle) = (head.clone(), middle.clone());
        spawn("chain-first", move || {
            let mut h = head.lock();
            *middle.write() += 1; // queued behind `second`'s read
            *h += 1;
        })
    };
    wait_until(|| middle.is_locked_exclusive() || first.is_finished());
    let late_reader = {
        let last = last.clone();
        spawn("chain-late-reader", move || *last.read())
    };
    // Let the late reader arrive behind the queued writer (it cannot pass it).
    assert!(last.try_read().is_none(), "a writer is queued on `last`");
    drop(main_reads_last);
    let read_middle = join_quietly(vec![second]);
    assert_eq!(read_middle, vec![0]);
    let late = join_quietly(vec![late_reader]);
    assert!(late == vec![0] || late == vec![1], "{late:?}");
    join_quietly(vec![first]);
    assert_eq!((*head.lock(), *middle.read(), *last.read()), (1, 1, 1));
}

/// Near miss (stale state): RwLock guards released out of order, downgraded, upgraded,
/// mapped and bumped must leave nothing behind in the thread's held stack. The thread then
/// waits to write the same lock while another thread reads it; a stale hold would make the
/// wait look like a wait for itself.
#[test]
fn rwlock_guard_transformations_leave_no_stale_hold() {
    let _watchdog = watchdog("rwlock_guard_transformations_leave_no_stale_hold");
    common::inversions_panic();
    let table = Arc::new(RwLock::named("reshaped", (0u32, 0u32)));
    let other = Arc::new(Mutex::named("other", ()));
    let transformed = Arc::new(Barrier::new(2));
    let reshaper = {
        let (table, other, transformed) = (table.clone(), other.clone(), transformed.clone());
        spawn("reshaper", move || {
            // Released out of order.
            let w = table.write();
            let o = other.lock();
            drop(w);
            drop(o);
            // Write → read; write → upgradable → read; upgradable → write.
            drop(RwLockWriteGuard::downgrade(table.write()));
            let u = RwLockWriteGuard::downgrade_to_upgradable(table.write());
            drop(RwLockUpgradableReadGuard::downgrade(u));
            let mut w = RwLockUpgradableReadGuard::upgrade(table.upgradable_read());
            w.0 += 1;
            drop(w);
            let u = table.upgradable_read();
            let w = RwLockUpgradableReadGuard::try_upgrade(u).expect("no other reader");
            drop(w);
            let mut u = table.upgradable_read();
            u.with_upgraded(|t| t.1 += 1);
            drop(u);
            // Mapped guards, bump, unlocked, fair unlocks, recursive and timed reads.
            let mapped = RwLockWriteGuard::map(table.write(), |t| &mut t.0);
            drop(mapped);
            let mapped = RwLockReadGuard::map(table.read(), |t| &t.1);
            drop(mapped);
            let mut w = table.write();
            RwLockWriteGuard::bump(&mut w);
            RwLockWriteGuard::unlocked(&mut w, || ());
            RwLockWriteGuard::unlock_fair(w);
            let mut r = table.read_recursive();
            RwLockReadGuard::bump(&mut r);
            RwLockReadGuard::unlock_fair(r);
            drop(table.try_read_for(Duration::from_millis(1)));
            drop(table.try_upgradable_read());
            transformed.wait();
            // The main thread reads now: this write waits for it, and for no one else.
            transformed.wait();
            let mut w = table.write();
            w.0 += 10;
        })
    };
    transformed.wait();
    let main_reads = table.read();
    transformed.wait();
    wait_until(|| table.is_locked_exclusive() || reshaper.is_finished());
    drop(main_reads);
    join_quietly(vec![reshaper]);
    assert_eq!(*table.read(), (11, 1));
}

/// Near miss (stale state): the same for a Mutex: guards released out of order, mapped,
/// `unlocked`, `unlock_fair`, `bump`, a `try_lock_for` that timed out. The thread then waits
/// for the same mutex, which a third thread holds while it is itself in a timed wait; a stale
/// hold would make the wait look like a wait for itself.
#[test]
fn mutex_guard_transformations_leave_no_stale_hold() {
    let _watchdog = watchdog("mutex_guard_transformations_leave_no_stale_hold");
    common::inversions_panic();
    let counter = Arc::new(Mutex::named("reshaped-mutex", (0u32, 0u32)));
    let other = Arc::new(Mutex::named("other-mutex", ()));
    let gate = Arc::new(RwLock::named("gate", ()));
    let step = Arc::new(Barrier::new(3));

    let reshaper = {
        let (counter, other, step) = (counter.clone(), other.clone(), step.clone());
        spawn("mutex-reshaper", move || {
            let c = counter.lock();
            let o = other.lock();
            drop(c); // out of order
            drop(o);
            let mapped: MappedMutexGuard<'_, u32> = MutexGuard::map(counter.lock(), |c| &mut c.0);
            let mut mapped = MappedMutexGuard::map(mapped, |c| c);
            *mapped += 1;
            drop(mapped);
            let not_mapped = MutexGuard::try_map(counter.lock(), |_| None::<&mut u32>);
            drop(not_mapped.expect_err("the closure declined"));
            let mut g = counter.lock();
            MutexGuard::unlocked(&mut g, || ());
            MutexGuard::unlocked_fair(&mut g, || ());
            MutexGuard::bump(&mut g);
            MutexGuard::unlock_fair(g);
            step.wait(); // 1: the holder takes the mutex
            step.wait(); // 2: it holds it, until step 3: this timed attempt fails
            assert!(counter.try_lock_for(Duration::from_millis(1)).is_none());
            step.wait(); // 3: the holder goes into a timed write of `gate`
            let mut g = counter.lock(); // waits for the holder, not for itself
            g.1 += 1;
        })
    };
    let holder = {
        let (counter, gate, step) = (counter.clone(), gate.clone(), step.clone());
        spawn("timed-holder", move || {
            step.wait(); // 1
            let _c = counter.lock();
            // 2: holding it.
            step.wait();
            // 3: the main thread reads `gate`, so this timed write holds `counter` for its
            // whole timeout, long enough for the reshaper to block on it.
            step.wait();
            gate.try_write_for(Duration::from_millis(150)).is_some()
        })
    };
    let main_reads = gate.read();
    step.wait(); // 1
    step.wait(); // 2
    step.wait(); // 3
    let wrote = join_quietly(vec![holder]);
    assert_eq!(wrote, vec![false], "the main thread read `gate` all along");
    drop(main_reads);
    join_quietly(vec![reshaper]);
    assert_eq!(*counter.lock(), (1, 1));
}

/// Near miss (lock order): two threads take `a`, `b` and `b`, `a`, at the same time, but
/// always inside one common gate lock, which serialises the two orders: no interleaving can
/// deadlock, so no potential deadlock may be reported.
#[test]
fn opposite_orders_under_a_common_gate_lock() {
    const ROUNDS: u64 = 500;
    let _watchdog = watchdog("opposite_orders_under_a_common_gate_lock");
    common::inversions_panic();
    let gate = Arc::new(Mutex::named("gate", ()));
    let a = Arc::new(Mutex::named("gated-a", 0u64));
    let b = Arc::new(Mutex::named("gated-b", 0u64));
    let start = Arc::new(Barrier::new(2));
    let gated = |name: &str, first: Arc<Mutex<u64>>, second: Arc<Mutex<u64>>| {
        let (gate, start) = (gate.clone(), start.clone());
        spawn(name, move || {
            start.wait(); // both threads run at the same time
            for _ in 0..ROUNDS {
                let _gate = gate.lock();
                let mut first = first.lock();
                let mut second = second.lock();
                *first += 1;
                *second += 1;
            }
        })
    };
    let t1 = gated("gated-a-then-b", a.clone(), b.clone());
    let t2 = gated("gated-b-then-a", b.clone(), a.clone());
    join_quietly(vec![t1, t2]);
    assert_eq!((*a.lock(), *b.lock()), (2 * ROUNDS, 2 * ROUNDS));
}

/// Near miss (lock order): one thread takes `a` then `b`, and later `b` then `a`. One thread
/// cannot wait for itself in two places at once: no potential deadlock.
#[test]
fn both_orders_on_one_thread() {
    let _watchdog = watchdog("both_orders_on_one_thread");
    common::inversions_panic();
    let a = Arc::new(Mutex::named("solo-a", 0u32));
    let b = Arc::new(Mutex::named("solo-b", 0u32));
    let solo = {
        let (a, b) = (a.clone(), b.clone());
        spawn("solo", move || {
            for _ in 0..100 {
                {
                    let mut a = a.lock();
                    let mut b = b.lock();
                    *a += 1;
                    *b += 1;
                }
                let mut b = b.lock();
                let mut a = a.lock();
                *a += 1;
                *b += 1;
            }
        })
    };
    join_quietly(vec![solo]);
    assert_eq!((*a.lock(), *b.lock()), (200, 200));
}

/// Near miss (lock order): two threads read two RwLocks in opposite orders at the same time,
/// and nobody ever writes them. Readers never block readers, so the inversion cannot deadlock.
#[test]
fn read_read_inversion_without_writers() {
    const ROUNDS: u64 = 500;
    let _watchdog = watchdog("read_read_inversion_without_writers");
    common::inversions_panic();
    let left = Arc::new(RwLock::named("read-left", 1u64));
    let right = Arc::new(RwLock::named("read-right", 2u64));
    let start = Arc::new(Barrier::new(2));
    let reader = |name: &str, first: Arc<RwLock<u64>>, second: Arc<RwLock<u64>>| {
        let start = start.clone();
        spawn(name, move || {
            start.wait();
            let mut sum = 0;
            for _ in 0..ROUNDS {
                let first = first.read();
                let second = second.read();
                sum += *first + *second;
            }
            sum
        })
    };
    let t1 = reader("reads-left-right", left.clone(), right.clone());
    let t2 = reader("reads-right-left", right.clone(), left.clone());
    assert_eq!(join_quietly(vec![t1, t2]), vec![3 * ROUNDS; 2]);
}

/// Near miss (lock order): `a` then `b` on one thread, `b` then `a` on another that is only
/// spawned after the first was joined (through `impasse::thread`, which carries the
/// happens-before order): the two orders can never overlap, so no potential deadlock.
#[test]
fn opposite_orders_separated_by_a_join() {
    let _watchdog = watchdog("opposite_orders_separated_by_a_join");
    common::inversions_panic();
    let a = Arc::new(Mutex::named("joined-a", 0u32));
    let b = Arc::new(Mutex::named("joined-b", 0u32));
    let take = |name: &str, first: Arc<Mutex<u32>>, second: Arc<Mutex<u32>>| {
        impasse::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let mut first = first.lock();
                let mut second = second.lock();
                *first += 1;
                *second += 1;
            })
            .expect("spawn a test thread")
    };
    let earlier = take("before-the-join", a.clone(), b.clone());
    let joined = earlier.join();
    assert!(joined.is_ok(), "the first thread must finish quietly");
    let later = take("after-the-join", b.clone(), a.clone());
    let joined = later
        .join()
        .map_err(|payload| common::panic_text(&*payload));
    assert_eq!(
        joined,
        Ok(()),
        "no potential deadlock between ordered threads"
    );
    assert_eq!((*a.lock(), *b.lock()), (2, 2));
}
