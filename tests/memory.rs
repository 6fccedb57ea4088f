//! Memory stays flat (DESIGN.md §4: "resources and threads leave the graphs when they are
//! dropped or exit: memory stays bounded by what is alive"). Millions of short-lived locks
//! are created, locked and dropped: plain and named mutexes, RwLocks, locks taken under
//! another lock, and a share contended by a second thread that blocks on them while it holds
//! a lock of its own, so that both enter the detector's wait-for graph. The process's
//! resident set is read from `/proc/self/statm` after a warm-up round and after the measured
//! round; it may not grow by more than `MAX_GROWTH`.
//!
//! One test only: tests in one binary share the process, and so its resident set.

mod common;

use common::{spawn, Watchdog};
use impasse::thread::JoinHandle;
use impasse::{Mutex, RwLock};
use std::hint::black_box;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Allowed growth of the resident set over the measured round.
const MAX_GROWTH: u64 = 2 << 20;

/// How many of each kind of lock one round makes, per unit of `scale`.
#[derive(Debug, Clone, Copy)]
struct Round {
    plain: usize,
    rwlocks: usize,
    named: usize,
    nested: usize,
    contended: usize,
    threads: usize,
}

impl Round {
    fn locks(&self) -> usize {
        self.plain
            + self.rwlocks
            + self.named
            + self.nested
            + (1 + CONTENDER_HOLDS) * self.contended
            + 2 * self.threads
    }
}

/// The resident set size, from `/proc/self/statm` (pages) times the kernel's page size.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let resident: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("statm's second field is the resident page count");
    resident * page_size()
}

/// The kernel's page size, from `/proc/self/smaps` (4 KiB if it cannot be read).
fn page_size() -> u64 {
    std::fs::read_to_string("/proc/self/smaps")
        .ok()
        .and_then(|smaps| {
            smaps
                .lines()
                .find_map(|line| line.strip_prefix("KernelPageSize:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(4096, |kb| kb * 1024)
}

/// How many fresh locks the contender holds each time it blocks.
const CONTENDER_HOLDS: usize = 12;

/// The second thread: it takes locks of its own, then writes each RwLock it is sent, which
/// the main thread is reading, so it blocks holding a lock: both enter the wait-for graph.
struct Contender {
    work: Option<mpsc::Sender<Arc<RwLock<u64>>>>,
    done: mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl Contender {
    fn start() -> Contender {
        let (work, inbox) = mpsc::channel::<Arc<RwLock<u64>>>();
        let (done_tx, done) = mpsc::channel();
        let thread = spawn("contender", move || {
            for contended in inbox {
                // Fresh locks of its own, all held while it blocks: they are published
                // with its wait, and must leave the graph with it. Taken with `try_lock`
                // (free, so it succeeds), which records no lock-order edges among them: only
                // the blocking write adds edges, one from each.
                let own: Vec<Mutex<usize>> = (0..CONTENDER_HOLDS)
                    .map(|k| {
                        if k % 2 == 0 {
                            Mutex::new(k)
                        } else {
                            Mutex::named("contender-own", k)
                        }
                    })
                    .collect();
                let held: Vec<_> = own
                    .iter()
                    .map(|m| m.try_lock().expect("a fresh lock is free"))
                    .collect();
                *contended.write() += 1;
                drop(held);
                done_tx.send(()).expect("the main thread waits for this");
            }
        });
        Contender {
            work: Some(work),
            done,
            thread: Some(thread),
        }
    }

    /// One contended lock: read it, let the contender queue to write it, release it.
    fn contend(&self, i: usize) {
        let contended = Arc::new(if i % 3 == 0 {
            RwLock::named(format!("contended-{i}"), 0u64)
        } else {
            RwLock::new(0u64)
        });
        let reading = contended.read();
        self.work
            .as_ref()
            .expect("running")
            .send(contended.clone())
            .expect("the contender runs");
        let thread = self.thread.as_ref().expect("running");
        // The writer bit shows the contender queued, so registered in the graph, holding
        // its own lock.
        while !contended.is_locked_exclusive() && !thread.is_finished() {
            thread::yield_now();
        }
        drop(reading);
        self.done
            .recv_timeout(Duration::from_secs(10))
            .expect("the contender wrote");
        assert_eq!(*contended.read(), 1);
    }

    fn stop(mut self) {
        drop(self.work.take());
        let thread = self.thread.take().expect("running");
        common::join_quietly(vec![thread]);
    }
}

/// One round of lock churn; returns how long each kind took.
fn churn(round: Round, contender: &Contender) -> Vec<(&'static str, Duration)> {
    let mut took = Vec::new();
    let mut phase = Instant::now();
    let mut lap = |name: &'static str, took: &mut Vec<(&'static str, Duration)>| {
        took.push((name, phase.elapsed()));
        phase = Instant::now();
    };
    let mut sum = 0u64;
    for i in 0..round.plain {
        let m = Mutex::new(i as u64);
        *m.lock() += 1;
        sum += *m.lock();
    }
    lap("plain", &mut took);
    for i in 0..round.rwlocks {
        let rw = RwLock::new(i as u64);
        *rw.write() += 1;
        let a = rw.read();
        let b = rw.read();
        sum += *a + *b;
    }
    lap("rwlock", &mut took);
    for i in 0..round.named {
        let m = if i % 2 == 0 {
            Mutex::named("churned", i as u64)
        } else {
            Mutex::named(format!("churned-{i}"), i as u64)
        };
        sum += *m.lock();
    }
    lap("named", &mut took);
    let outer = Mutex::named("outer", 0u64);
    for i in 0..round.nested {
        let mut held = outer.lock();
        let inner = Mutex::new(i as u64);
        *held += *inner.lock();
    }
    sum += *outer.lock();
    lap("nested", &mut took);
    for i in 0..round.contended {
        contender.contend(i);
        sum += 1;
    }
    lap("contended", &mut took);
    // Threads that take locks, block once in the graph, and exit.
    let shared = Arc::new(RwLock::named("short-lived-threads", 0u64));
    for i in 0..round.threads {
        let reading = shared.read();
        let writer = {
            let shared = shared.clone();
            spawn("short-lived", move || {
                let own = Mutex::new(i as u64);
                let _held = own.lock();
                *shared.write() += 1;
            })
        };
        while !shared.is_locked_exclusive() && !writer.is_finished() {
            thread::yield_now();
        }
        drop(reading);
        common::join_quietly(vec![writer]);
    }
    sum += *shared.read();
    lap("threads", &mut took);
    black_box(sum);
    took
}

#[test]
fn memory_stays_flat_over_millions_of_locks() {
    // A few seconds on an idle 2-core machine; the contended hand-offs are scheduling-bound
    // and take ten times longer when other processes keep both cores busy.
    let _watchdog = Watchdog::new(
        "memory_stays_flat_over_millions_of_locks",
        Duration::from_secs(120),
    );
    let contender = Contender::start();
    let measured = Round {
        plain: 2_000_000,
        rwlocks: 100_000,
        named: 100_000,
        nested: 50_000,
        contended: 2_500,
        threads: 100,
    };
    let warm_up = Round {
        plain: measured.plain / 5,
        rwlocks: measured.rwlocks / 5,
        named: measured.named / 5,
        nested: measured.nested / 5,
        contended: measured.contended / 5,
        threads: measured.threads / 5,
    };

    let started = Instant::now();
    let at_start = rss_bytes();
    let warm_up_phases = churn(warm_up, &contender);
    let warm = rss_bytes();
    let warm_up_took = started.elapsed();
    let started = Instant::now();
    let phases = churn(measured, &contender);
    let after = rss_bytes();
    let measured_took = started.elapsed();
    contender.stop();

    let growth = after.saturating_sub(warm);
    eprintln!(
        "memory: RSS {:.2} MiB at start, {:.2} MiB after warm-up ({} locks, {warm_up_took:.2?}), \
         {:.2} MiB after the measured round ({} locks, {measured_took:.2?}): growth {} KiB \
         (limit {} KiB)",
        at_start as f64 / (1 << 20) as f64,
        warm as f64 / (1 << 20) as f64,
        warm_up.locks(),
        after as f64 / (1 << 20) as f64,
        measured.locks(),
        growth / 1024,
        MAX_GROWTH / 1024,
    );
    eprintln!("memory: warm-up phases {warm_up_phases:.2?}");
    eprintln!("memory: measured phases {phases:.2?} for {measured:?}");
    assert!(
        measured.locks() >= 1_000_000,
        "the measured round must churn at least a million locks"
    );
    assert!(
        growth < MAX_GROWTH,
        "RSS grew by {} KiB over {} short-lived locks (limit {} KiB): something keeps dropped \
         locks or exited threads alive",
        growth / 1024,
        measured.locks(),
        MAX_GROWTH / 1024
    );
}
