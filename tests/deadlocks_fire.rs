//! Lock deadlocks that form for real: each must be reported, at once, by the thread whose
//! wait closes the cycle, naming every thread, lock and site. Every test is bounded twice:
//! the detector ends it, and a watchdog fails it if the detector does not.

#![cfg(feature = "detect")]

mod common;

use common::{here, one_report, spawn, wait_until, watchdog, DEADLOCK};
use impasse::{Mutex, ReentrantMutex, RwLock};
use std::sync::{Arc, Barrier};

/// Locks `m`, first sending the caller's site (the line of this call) to `sites`.
#[track_caller]
fn lock_noting_site<'a, T>(
    m: &'a Mutex<T>,
    sites: &std::sync::mpsc::Sender<String>,
) -> impasse::MutexGuard<'a, T> {
    sites.send(here()).unwrap();
    m.lock()
}

#[test]
fn abba_two_threads() {
    let _watchdog = watchdog("abba_two_threads");
    let a = Arc::new(Mutex::named("account-a", 0));
    let b = Arc::new(Mutex::named("account-b", 0));
    let both_hold_one = Arc::new(Barrier::new(2));
    let (sites_tx, sites) = std::sync::mpsc::channel();

    let t1 = {
        let (a, b, barrier, sites) = (
            a.clone(),
            b.clone(),
            both_hold_one.clone(),
            sites_tx.clone(),
        );
        spawn("transfer-a-to-b", move || {
            let _a = lock_noting_site(&a, &sites);
            barrier.wait();
            let _b = lock_noting_site(&b, &sites);
        })
    };
    let t2 = {
        let (a, b, barrier, sites) = (a.clone(), b.clone(), both_hold_one.clone(), sites_tx);
        spawn("transfer-b-to-a", move || {
            let _b = lock_noting_site(&b, &sites);
            barrier.wait();
            let _a = lock_noting_site(&a, &sites);
        })
    };

    let report = one_report(vec![t1, t2]);
    assert!(report.starts_with(DEADLOCK), "{report}");
    assert!(
        report.contains("2 threads wait for each other in a cycle"),
        "{report}"
    );
    for name in [
        "transfer-a-to-b",
        "transfer-b-to-a",
        "\"account-a\"",
        "\"account-b\"",
    ] {
        assert!(report.contains(name), "report lacks {name}:\n{report}");
    }
    // Every acquisition and every wait is named by its source line.
    let sites: Vec<String> = sites.try_iter().collect();
    assert_eq!(sites.len(), 4);
    for site in &sites {
        assert!(
            report.contains(site.as_str()),
            "report lacks the site {site}:\n{report}"
        );
    }
    // The locks were released by unwinding: both can be taken again.
    drop((a.lock(), b.lock()));
}

#[test]
fn three_thread_cycle() {
    let _watchdog = watchdog("three_thread_cycle");
    let locks: Arc<Vec<Mutex<()>>> = Arc::new(
        (0..3)
            .map(|i| Mutex::named(format!("stage-{i}"), ()))
            .collect(),
    );
    let all_hold_one = Arc::new(Barrier::new(3));
    let threads = (0..3)
        .map(|i| {
            let (locks, barrier) = (locks.clone(), all_hold_one.clone());
            spawn(&format!("stage-worker-{i}"), move || {
                let _mine = locks[i].lock();
                barrier.wait();
                let _next = locks[(i + 1) % 3].lock();
            })
        })
        .collect();
    let report = one_report(threads);
    assert!(
        report.contains("3 threads wait for each other in a cycle"),
        "{report}"
    );
    for i in 0..3 {
        assert!(report.contains(&format!("stage-worker-{i}")), "{report}");
        assert!(report.contains(&format!("\"stage-{i}\"")), "{report}");
    }
}

#[test]
fn dining_philosophers_five() {
    let _watchdog = watchdog("dining_philosophers_five");
    let forks: Arc<Vec<Mutex<()>>> = Arc::new(
        (0..5)
            .map(|i| Mutex::named(format!("fork-{i}"), ()))
            .collect(),
    );
    let seated = Arc::new(Barrier::new(5));
    let philosophers = (0..5)
        .map(|i| {
            let (forks, seated) = (forks.clone(), seated.clone());
            spawn(&format!("philosopher-{i}"), move || {
                let _left = forks[i].lock();
                seated.wait();
                let _right = forks[(i + 1) % 5].lock();
            })
        })
        .collect();
    let report = one_report(philosophers);
    assert!(
        report.contains("5 threads wait for each other in a cycle"),
        "{report}"
    );
    for i in 0..5 {
        assert!(report.contains(&format!("\"philosopher-{i}\"")), "{report}");
        assert!(report.contains(&format!("\"fork-{i}\"")), "{report}");
    }
}

#[test]
fn relocking_a_held_mutex() {
    let _watchdog = watchdog("relocking_a_held_mutex");
    let m = Arc::new(Mutex::named("config", ()));
    let t = spawn("relocker", move || {
        let _first = m.lock();
        let _second = m.lock();
    });
    let report = one_report(vec![t]);
    assert!(
        report.contains("a thread waits for a resource it holds itself"),
        "{report}"
    );
    assert!(report.contains("\"relocker\""), "{report}");
    assert!(report.contains("\"config\""), "{report}");
}

#[test]
fn read_then_write_on_one_rwlock() {
    let _watchdog = watchdog("read_then_write_on_one_rwlock");
    let lock = Arc::new(RwLock::named("table", 0));
    let t = spawn("reader-turned-writer", move || {
        let _read = lock.read();
        let _write = lock.write();
    });
    let report = one_report(vec![t]);
    assert!(
        report.contains("a thread waits for a resource it holds itself"),
        "{report}"
    );
    assert!(
        report.contains("waits to write RwLock \"table\""),
        "{report}"
    );
    assert!(
        report.contains("holds a read lock of RwLock \"table\""),
        "{report}"
    );
}

#[test]
fn upgradable_then_write_on_one_rwlock() {
    let _watchdog = watchdog("upgradable_then_write_on_one_rwlock");
    let lock = Arc::new(RwLock::named("index", 0));
    let t = spawn("upgrader", move || {
        let _upgradable = lock.upgradable_read();
        let _write = lock.write();
    });
    let report = one_report(vec![t]);
    assert!(
        report.contains("holds an upgradable read of RwLock \"index\""),
        "{report}"
    );
}

#[test]
fn rwlock_and_mutex_mixed_cycle() {
    let _watchdog = watchdog("rwlock_and_mutex_mixed_cycle");
    let table = Arc::new(RwLock::named("table", 0));
    let log = Arc::new(Mutex::named("log", ()));
    let both = Arc::new(Barrier::new(2));
    let writer = {
        let (table, log, both) = (table.clone(), log.clone(), both.clone());
        spawn("writer", move || {
            let _w = table.write();
            both.wait();
            let _l = log.lock();
        })
    };
    let reader = {
        let (table, log, both) = (table.clone(), log.clone(), both.clone());
        spawn("reader", move || {
            let _l = log.lock();
            both.wait();
            let _r = table.read();
        })
    };
    let report = one_report(vec![writer, reader]);
    assert!(report.contains("\"table\""), "{report}");
    assert!(report.contains("\"log\""), "{report}");
}

#[test]
fn rereading_behind_a_queued_writer() {
    // parking_lot lets no new reader pass a queued writer: a thread that reads, while a
    // writer queues, and then reads again, waits for the writer, which waits for it.
    let _watchdog = watchdog("rereading_behind_a_queued_writer");
    let lock = Arc::new(RwLock::named("cache", 0));
    let read_once = Arc::new(Barrier::new(2));
    let rereader = {
        let (lock, read_once) = (lock.clone(), read_once.clone());
        spawn("rereader", move || {
            let _first = lock.read();
            read_once.wait();
            while !lock.is_locked_exclusive() {
                std::thread::yield_now();
            }
            let _second = lock.read();
        })
    };
    read_once.wait();
    let writer = {
        let lock = lock.clone();
        spawn("queued-writer", move || {
            *lock.write() += 1;
        })
    };
    let report = one_report(vec![rereader, writer]);
    assert!(report.contains("\"rereader\""), "{report}");
    assert!(report.contains("\"queued-writer\""), "{report}");
    assert!(
        report.contains("no new reader passes a waiting writer"),
        "{report}"
    );
}

#[test]
fn rereading_behind_a_queued_writer_while_timed_writers_poll() {
    // The same deadlock, with three threads looping on `try_write_for` meanwhile: a timed
    // writer never holds the writer bit while it waits, so the queued-writer rule stays
    // certain, and the deadlock is reported while they poll (it once waited for them to stop).
    let _watchdog = watchdog("rereading_behind_a_queued_writer_while_timed_writers_poll");
    let lock = Arc::new(RwLock::named("polled-cache", 0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pollers: Vec<_> = (0..3)
        .map(|i| {
            let (lock, stop) = (lock.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("poller-{i}"))
                .spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        if let Some(mut value) =
                            lock.try_write_for(std::time::Duration::from_millis(50))
                        {
                            *value += 1;
                        }
                    }
                })
                .expect("a poller")
        })
        .collect();
    let read_once = Arc::new(Barrier::new(2));
    let rereader = {
        let (lock, read_once) = (lock.clone(), read_once.clone());
        spawn("rereader", move || {
            let _first = lock.read();
            read_once.wait();
            while !lock.is_locked_exclusive() {
                std::thread::yield_now();
            }
            let _second = lock.read();
        })
    };
    read_once.wait();
    let writer = {
        let lock = lock.clone();
        spawn("queued-writer", move || {
            *lock.write() += 1;
        })
    };
    let report = one_report(vec![rereader, writer]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for poller in pollers {
        poller.join().expect("a poller");
    }
    assert!(report.contains("\"rereader\""), "{report}");
    assert!(report.contains("\"queued-writer\""), "{report}");
}

#[test]
fn queued_writer_cycle_closed_by_another_thread() {
    // The reader held up by the queued writer is not the last to block: the thread that
    // closes the cycle cannot use the queued-writer rule for another thread's request, so
    // the held-up reader finds the cycle itself on its next recheck.
    let _watchdog = watchdog("queued_writer_cycle_closed_by_another_thread");
    let table = Arc::new(RwLock::named("table", 0));
    let log = Arc::new(Mutex::named("log", ()));
    let reading = Arc::new(Barrier::new(2));
    let go_lock_log = Arc::new(Barrier::new(2));

    let holder = {
        let (table, log, reading, go) = (
            table.clone(),
            log.clone(),
            reading.clone(),
            go_lock_log.clone(),
        );
        spawn("reader-then-log", move || {
            let _r = table.read();
            reading.wait();
            go.wait();
            let _l = log.lock();
        })
    };
    reading.wait();
    let writer = {
        let table = table.clone();
        spawn("queued-writer", move || {
            *table.write() += 1;
        })
    };
    wait_until(|| table.is_locked_exclusive());
    let log_holder = {
        let (table, log, go) = (table.clone(), log.clone(), go_lock_log.clone());
        spawn("log-then-reader", move || {
            let _l = log.lock();
            go.wait();
            let _r = table.read();
        })
    };
    let report = one_report(vec![holder, writer, log_holder]);
    assert!(
        report.contains("3 threads wait for each other in a cycle"),
        "{report}"
    );
    assert!(
        report.contains("detected by thread \"log-then-reader\""),
        "{report}"
    );
}

#[test]
fn upgrade_waits_for_a_reader_that_waits_for_the_upgrader() {
    let _watchdog = watchdog("upgrade_waits_for_a_reader_that_waits_for_the_upgrader");
    let table = Arc::new(RwLock::named("table", 0));
    let log = Arc::new(Mutex::named("log", ()));
    let both = Arc::new(Barrier::new(2));
    let upgrader = {
        let (table, log, both) = (table.clone(), log.clone(), both.clone());
        spawn("upgrader", move || {
            let _l = log.lock();
            let up = table.upgradable_read();
            both.wait();
            let _w = impasse::RwLockUpgradableReadGuard::upgrade(up);
        })
    };
    let reader = {
        let (table, log, both) = (table.clone(), log.clone(), both.clone());
        spawn("reader", move || {
            let _r = table.read();
            both.wait();
            let _l = log.lock();
        })
    };
    let report = one_report(vec![upgrader, reader]);
    assert!(
        report.contains("waits to upgrade its read of RwLock \"table\""),
        "{report}"
    );
}

#[test]
fn reentrant_mutexes_in_opposite_orders() {
    let _watchdog = watchdog("reentrant_mutexes_in_opposite_orders");
    let a = Arc::new(ReentrantMutex::named("re-a", ()));
    let b = Arc::new(ReentrantMutex::named("re-b", ()));
    let both = Arc::new(Barrier::new(2));
    let t1 = {
        let (a, b, both) = (a.clone(), b.clone(), both.clone());
        spawn("re-1", move || {
            let _a = a.lock();
            let _a_again = a.lock(); // reentrant: no wait
            both.wait();
            let _b = b.lock();
        })
    };
    let t2 = {
        let (a, b, both) = (a.clone(), b.clone(), both.clone());
        spawn("re-2", move || {
            let _b = b.lock();
            both.wait();
            let _a = a.lock();
        })
    };
    let report = one_report(vec![t1, t2]);
    assert!(report.contains("ReentrantMutex \"re-a\""), "{report}");
    assert!(report.contains("ReentrantMutex \"re-b\""), "{report}");
}

#[test]
fn lock_taken_in_drop_while_held() {
    struct FlushOnDrop<'a>(&'a Mutex<Vec<u8>>);
    impl Drop for FlushOnDrop<'_> {
        fn drop(&mut self) {
            self.0.lock().clear();
        }
    }

    let _watchdog = watchdog("lock_taken_in_drop_while_held");
    let buffer = Arc::new(Mutex::named("buffer", vec![1, 2, 3]));
    let t = spawn("flusher", move || {
        let _held = buffer.lock();
        drop(FlushOnDrop(&buffer));
    });
    let report = one_report(vec![t]);
    assert!(report.contains("\"buffer\""), "{report}");
}

#[test]
fn unnamed_locks_are_named_by_their_creation_site() {
    let _watchdog = watchdog("unnamed_locks_are_named_by_their_creation_site");
    let (m, created) = (Arc::new(Mutex::new(())), here());
    let t = spawn("relocker", move || {
        let _g = m.lock();
        let _again = m.lock();
    });
    let report = one_report(vec![t]);
    assert!(
        report.contains(&format!("Mutex created at {created}")),
        "{report}"
    );
}

#[test]
fn std_flavour_reports_and_poisons() {
    let _watchdog = watchdog("std_flavour_reports_and_poisons");
    let a = Arc::new(impasse::stdsync::Mutex::named("std-a", 0));
    let b = Arc::new(impasse::stdsync::Mutex::named("std-b", 0));
    let both = Arc::new(Barrier::new(2));
    let t1 = {
        let (a, b, both) = (a.clone(), b.clone(), both.clone());
        spawn("std-1", move || {
            let _a = a.lock().unwrap_or_else(|e| e.into_inner());
            both.wait();
            let _b = b.lock().unwrap_or_else(|e| e.into_inner());
        })
    };
    let t2 = {
        let (a, b, both) = (a.clone(), b.clone(), both.clone());
        spawn("std-2", move || {
            let _b = b.lock().unwrap_or_else(|e| e.into_inner());
            both.wait();
            let _a = a.lock().unwrap_or_else(|e| e.into_inner());
        })
    };
    let report = one_report(vec![t1, t2]);
    assert!(
        report.contains("\"std-a\"") && report.contains("\"std-b\""),
        "{report}"
    );
    // The thread that panicked held exactly one of the two: that one is poisoned, as std does.
    assert_eq!(
        u8::from(a.is_poisoned()) + u8::from(b.is_poisoned()),
        1,
        "exactly the lock held by the panicking thread is poisoned"
    );
}
