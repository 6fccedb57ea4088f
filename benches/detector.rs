//! What the detector's bookkeeping costs as a program's history grows (issue: "costs that grow
//! with history"), each against the baseline it should stay close to:
//!
//! - `ordered_transfers_<accounts>`: four threads each make 5,000 transfers between two random
//!   accounts of a fresh set, locking the lower index first: the classic deadlock fix, a
//!   dense lock-order graph without a cycle. `impasse` tracks lock instances (the default);
//!   `impasse-strict` orders lock classes, and since all accounts are one class it records no
//!   edge at all: the cost of everything but the lock-order graph. parking_lot for scale.
//!   (`impasse-detect`: with the `detect` feature; `impasse-off` without.)
//! - `spawn_join_after_<history>`: one spawn and join of a thread that takes two locks, nested,
//!   after `history` threads have been spawned and joined the same way (`impasse::thread`, so
//!   the joiner's clock takes in each one): the cost per thread must not grow with history.
//!   std's spawn and join for scale.
//! - `idle_waiters_<count>`: `count` threads blocked in an untimed `recv`, the process
//!   otherwise asleep; the time reported is the CPU time the whole process uses per 100 ms of
//!   wall time (so 2 ms is 2 % of a core). std's channels for scale.
//!
//! Benchmark ids are `<scenario>/<contender>/<build>`, as in `locks.rs`. Run with
//! `cargo bench -p impasse-benches --bench detector` (also part of `benches/run.sh`).

#[path = "common.rs"]
mod common;

use common::{BUILD, IMPASSE};
use criterion::{criterion_group, BenchmarkId, Criterion};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

const THREADS: u64 = 4;
const TRANSFERS: u64 = 5_000;

/// A set of accounts, each behind a lock.
trait Accounts: Send + Sync + 'static {
    fn open(count: usize) -> Self;
    /// Moves one unit from `low` to `high`, locking `low` first.
    fn transfer(&self, low: usize, high: usize);
}

impl Accounts for Vec<impasse::Mutex<u64>> {
    fn open(count: usize) -> Self {
        (0..count).map(|_| impasse::Mutex::new(100)).collect()
    }

    fn transfer(&self, low: usize, high: usize) {
        let mut from = self[low].lock();
        let mut to = self[high].lock();
        *from -= 1;
        *to += 1;
    }
}

impl Accounts for Vec<parking_lot::Mutex<u64>> {
    fn open(count: usize) -> Self {
        (0..count).map(|_| parking_lot::Mutex::new(100)).collect()
    }

    fn transfer(&self, low: usize, high: usize) {
        let mut from = self[low].lock();
        let mut to = self[high].lock();
        *from -= 1;
        *to += 1;
    }
}

/// One set of ordered transfers over `count` fresh accounts; the time the threads took.
fn transfers<A: Accounts>(count: usize) -> Duration {
    let set = Arc::new(A::open(count));
    let start = Arc::new(Barrier::new(THREADS as usize + 1));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (set, start) = (set.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let mut x = 0x9E37_79B9_7F4A_7C15_u64 ^ (t + 1);
                for _ in 0..TRANSFERS {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let i = (x % count as u64) as usize;
                    let j = ((x >> 32) % count as u64) as usize;
                    if i != j {
                        set.transfer(i.min(j), i.max(j));
                    }
                }
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    for worker in workers {
        worker.join().expect("a transfer thread");
    }
    began.elapsed()
}

fn ordered_transfers(c: &mut Criterion) {
    for accounts in [100, 1_000] {
        let mut group = c.benchmark_group(format!("ordered_transfers_{accounts}"));
        group.sample_size(10);
        let id = |name: &str| BenchmarkId::new(name, BUILD);
        group.bench_function(id("parking_lot"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| transfers::<Vec<parking_lot::Mutex<u64>>>(accounts))
                    .sum()
            })
        });
        for (name, strict) in [
            (IMPASSE.to_owned(), false),
            (format!("{IMPASSE}-strict"), true),
        ] {
            group.bench_function(id(&name), |b| {
                let previous = impasse::policy::Settings::from_env()
                    .unwrap_or_default()
                    .strict_lock_order(strict)
                    .install();
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| transfers::<Vec<impasse::Mutex<u64>>>(accounts))
                        .sum()
                });
                previous.install();
            });
        }
        group.finish();
    }
}

/// One spawn and join of a thread that takes two locks, nested, through `impasse::thread`.
fn impasse_spawn_join(locks: &Arc<(impasse::Mutex<u64>, impasse::Mutex<u64>)>) {
    let locks = locks.clone();
    impasse::thread::spawn(move || {
        let mut a = locks.0.lock();
        let mut b = locks.1.lock();
        *a += 1;
        *b += 1;
    })
    .join()
    .expect("the thread ran");
}

fn std_spawn_join(locks: &Arc<(parking_lot::Mutex<u64>, parking_lot::Mutex<u64>)>) {
    let locks = locks.clone();
    thread::spawn(move || {
        let mut a = locks.0.lock();
        let mut b = locks.1.lock();
        *a += 1;
        *b += 1;
    })
    .join()
    .expect("the thread ran");
}

fn spawn_join(c: &mut Criterion) {
    let impasse_locks = Arc::new((impasse::Mutex::new(0), impasse::Mutex::new(0)));
    let std_locks = Arc::new((parking_lot::Mutex::new(0), parking_lot::Mutex::new(0)));
    let mut history = 0;
    for after in [1_000, 20_000] {
        // The history this benchmark's threads come after (the earlier ones' count too).
        while history < after {
            impasse_spawn_join(&impasse_locks);
            history += 1;
        }
        let mut group = c.benchmark_group(format!("spawn_join_after_{after}"));
        group.bench_function(BenchmarkId::new(IMPASSE, BUILD), |b| {
            b.iter(|| impasse_spawn_join(&impasse_locks))
        });
        group.bench_function(BenchmarkId::new("std", BUILD), |b| {
            b.iter(|| std_spawn_join(&std_locks))
        });
        group.finish();
    }
}

/// The CPU time this process has used so far (user and system).
fn cpu_time() -> Duration {
    // SAFETY: `getrusage` writes one `rusage` into the zeroed value it is given, and reads
    // nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// CPU time the process uses per 100 ms of wall time while `count` threads wait in `recv`.
fn idle_cpu(iters: u64, count: usize, impasse: bool) -> Duration {
    let mut senders_impasse = Vec::new();
    let mut senders_std = Vec::new();
    let mut waiters = Vec::new();
    for _ in 0..count {
        if impasse {
            let (tx, rx) = impasse::mpsc::channel::<()>();
            senders_impasse.push(tx);
            waiters.push(thread::spawn(move || {
                let _ = rx.recv();
            }));
        } else {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            senders_std.push(tx);
            waiters.push(thread::spawn(move || {
                let _ = rx.recv();
            }));
        }
    }
    thread::sleep(Duration::from_millis(200)); // every waiter asleep
    let before = cpu_time();
    thread::sleep(Duration::from_millis(100) * iters as u32);
    let used = cpu_time() - before;
    drop((senders_impasse, senders_std));
    for waiter in waiters {
        waiter.join().expect("a waiter");
    }
    used
}

fn idle_waiters(c: &mut Criterion) {
    for count in [1_000, 3_000] {
        let mut group = c.benchmark_group(format!("idle_waiters_{count}"));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(100));
        group.bench_function(BenchmarkId::new(IMPASSE, BUILD), |b| {
            b.iter_custom(|iters| idle_cpu(iters, count, true))
        });
        group.bench_function(BenchmarkId::new("std", BUILD), |b| {
            b.iter_custom(|iters| idle_cpu(iters, count, false))
        });
        group.finish();
    }
}

criterion_group! {
    name = detector;
    config = common::config();
    targets = ordered_transfers, spawn_join, idle_waiters,
}

fn main() {
    detector();
    Criterion::default().configure_from_args().final_summary();
}
