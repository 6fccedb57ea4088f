//! What impasse's `Mutex` costs next to parking_lot's, std's and the peer deadlock detectors'
//! (tracing-mutex, deloxide, no_deadlocks), scenario by scenario, in one run.
//!
//! Each scenario is one criterion group; each contender is one benchmark in it, driven
//! through the [`Lock`] trait, so every contender runs the very same loop body, [`touch`]:
//! lock, bump a `u64`, unlock. The scenarios are the costs DESIGN.md §3 promises to keep:
//!
//! - `uncontended`: one thread, one lock.
//! - `one_held`: one thread holds lock A and locks B, always in the order A→B, so a
//!   lock-order detector sees an edge it already knows.
//! - `two_threads_one_lock`: two threads hammer one lock.
//! - `two_threads_two_locks`: two threads, each hammering its own lock (on its own cache
//!   lines): any global state on the fast path shows up here. Timed per thread (each thread's
//!   own time per pair), so it reads beside `uncontended`: equal when nothing is shared.
//! - `create_lock_drop`: create a fresh lock, lock it, unlock it, drop it.
//! - `nested_1` to `nested_4`: take a chain of 1 to 4 locks in one order, then release them:
//!   every lock-order edge is known after the first round.
//! - `edge_churn`: hold a lock, then create, lock and drop a fresh one: every round adds a new
//!   lock-order edge (and removes it again with the fresh lock).
//!
//! Times are per lock/unlock pair. `two_threads_one_lock` times the wall clock from the first
//! thread's start to the last one's end and divides it by the pairs both threads ran;
//! `two_threads_two_locks` reports each thread's own time per pair.
//!
//! A benchmark id is `<scenario>/<contender>/<build>`: the contender `impasse-detect` or
//! `impasse-off` follows the `detect` feature, `deloxide-lock-order` the
//! `deloxide-lock-order` feature, and the build label keeps the results of
//! `benches/run.sh`'s two builds apart, so each is compared with the parking_lot of its own
//! build.

#[path = "common.rs"]
mod common;

use common::{config, BUILD, IMPASSE};
use criterion::measurement::WallTime;
use criterion::{criterion_group, Bencher, BenchmarkGroup, BenchmarkId, Criterion};
use std::hint::black_box;
use std::ops::DerefMut;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// A mutex under test, as every scenario drives it.
trait Lock: Send + Sync {
    /// The contender's name in benchmark ids.
    const NAME: &'static str;

    /// What `lock` hands back; the lock is released when it is dropped.
    type Guard<'a>: DerefMut<Target = u64>
    where
        Self: 'a;

    /// A fresh, unlocked lock around `value`.
    fn new(value: u64) -> Self;

    /// Acquires the lock, blocking until it is available.
    fn lock(&self) -> Self::Guard<'_>;
}

impl Lock for std::sync::Mutex<u64> {
    const NAME: &'static str = "std";
    type Guard<'a> = std::sync::MutexGuard<'a, u64>;

    fn new(value: u64) -> Self {
        std::sync::Mutex::new(value)
    }

    fn lock(&self) -> Self::Guard<'_> {
        std::sync::Mutex::lock(self).expect("no thread panics while holding it")
    }
}

impl Lock for parking_lot::Mutex<u64> {
    const NAME: &'static str = "parking_lot";
    type Guard<'a> = parking_lot::MutexGuard<'a, u64>;

    fn new(value: u64) -> Self {
        parking_lot::Mutex::new(value)
    }

    fn lock(&self) -> Self::Guard<'_> {
        parking_lot::Mutex::lock(self)
    }
}

impl Lock for impasse::Mutex<u64> {
    const NAME: &'static str = IMPASSE;
    type Guard<'a> = impasse::MutexGuard<'a, u64>;

    fn new(value: u64) -> Self {
        impasse::Mutex::new(value)
    }

    fn lock(&self) -> Self::Guard<'_> {
        impasse::Mutex::lock(self)
    }
}

/// tracing-mutex's always-on flavour (`stdsync::Mutex` is std's own in release builds).
impl Lock for tracing_mutex::stdsync::tracing::Mutex<u64> {
    const NAME: &'static str = "tracing-mutex";
    type Guard<'a> = tracing_mutex::stdsync::tracing::MutexGuard<'a, u64>;

    fn new(value: u64) -> Self {
        tracing_mutex::stdsync::tracing::Mutex::new(value)
    }

    fn lock(&self) -> Self::Guard<'_> {
        tracing_mutex::stdsync::tracing::Mutex::lock(self)
            .expect("no thread panics while holding it")
    }
}

impl Lock for deloxide::Mutex<u64> {
    const NAME: &'static str = if cfg!(feature = "deloxide-lock-order") {
        "deloxide-lock-order"
    } else {
        "deloxide"
    };
    type Guard<'a> = deloxide::MutexGuard<'a, u64>;

    fn new(value: u64) -> Self {
        deloxide::Mutex::new(value)
    }

    fn lock(&self) -> Self::Guard<'_> {
        deloxide::Mutex::lock(self)
    }
}

impl Lock for no_deadlocks::Mutex<u64> {
    const NAME: &'static str = "no_deadlocks";
    type Guard<'a> = no_deadlocks::MutexGuard<'a, u64>;

    fn new(value: u64) -> Self {
        no_deadlocks::Mutex::new(value)
    }

    fn lock(&self) -> Self::Guard<'_> {
        no_deadlocks::Mutex::lock(self).expect("no thread panics while holding it")
    }
}

/// The loop body of every scenario: lock, bump the counter, unlock.
#[inline]
fn touch<L: Lock>(lock: &L) {
    let mut guard = lock.lock();
    *guard = black_box(*guard).wrapping_add(1);
}

/// A lock alone on its cache lines (two, for the adjacent-line prefetcher), so that the
/// two-lock scenario measures the locks' own sharing, not where the test put them.
#[repr(align(128))]
struct Padded<T>(T);

/// How a two-thread scenario counts its time.
#[derive(Clone, Copy)]
enum Clock {
    /// The wall time from the first thread's start to the last one's end, halved: the time
    /// per critical section over both threads (their throughput).
    Both,
    /// Each thread's own time, averaged: how long one critical section takes a thread while
    /// the other runs too, to be set beside `uncontended` (a thread alone).
    PerThread,
}

/// Runs `iters` critical sections on each of two fresh threads, one thread per lock of
/// `locks`, released together by a barrier; returns their time as `clock` counts it.
fn two_threads<L: Lock>(iters: u64, locks: [&L; 2], clock: Clock) -> Duration {
    let barrier = Barrier::new(2);
    let spans = thread::scope(|scope| {
        let workers = locks.map(|lock| {
            let barrier = &barrier;
            scope.spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for _ in 0..iters {
                    touch(lock);
                }
                (start, Instant::now())
            })
        });
        workers.map(|worker| worker.join().expect("a benchmark thread panicked"))
    });
    match clock {
        Clock::Both => {
            let start = spans.iter().map(|span| span.0).min().expect("two spans");
            let end = spans.iter().map(|span| span.1).max().expect("two spans");
            (end - start) / 2
        }
        Clock::PerThread => {
            spans
                .iter()
                .map(|(start, end)| *end - *start)
                .sum::<Duration>()
                / 2
        }
    }
}

/// One scenario: a criterion group with one benchmark per contender.
trait Scenario {
    /// The group's name.
    const NAME: &'static str;

    /// Measures the scenario for the contender `L`.
    fn bench<L: Lock>(b: &mut Bencher<'_>);
}

struct Uncontended;

impl Scenario for Uncontended {
    const NAME: &'static str = "uncontended";

    fn bench<L: Lock>(b: &mut Bencher<'_>) {
        let lock = L::new(0);
        b.iter(|| touch(&lock));
    }
}

struct OneHeld;

impl Scenario for OneHeld {
    const NAME: &'static str = "one_held";

    fn bench<L: Lock>(b: &mut Bencher<'_>) {
        let (first, second) = (L::new(0), L::new(0));
        let _held = first.lock();
        b.iter(|| touch(&second));
    }
}

struct TwoThreadsOneLock;

impl Scenario for TwoThreadsOneLock {
    const NAME: &'static str = "two_threads_one_lock";

    fn bench<L: Lock>(b: &mut Bencher<'_>) {
        let lock = Padded(L::new(0));
        b.iter_custom(|iters| two_threads(iters, [&lock.0, &lock.0], Clock::Both));
    }
}

struct TwoThreadsTwoLocks;

impl Scenario for TwoThreadsTwoLocks {
    const NAME: &'static str = "two_threads_two_locks";

    fn bench<L: Lock>(b: &mut Bencher<'_>) {
        let locks = [Padded(L::new(0)), Padded(L::new(0))];
        b.iter_custom(|iters| two_threads(iters, [&locks[0].0, &locks[1].0], Clock::PerThread));
    }
}

struct CreateLockDrop;

impl Scenario for CreateLockDrop {
    const NAME: &'static str = "create_lock_drop";

    fn bench<L: Lock>(b: &mut Bencher<'_>) {
        // The lock is used and dropped where it was made: `black_box` on its address keeps
        // it from being optimised away without moving it after the atomics (a move right
        // after them stalls on store forwarding, which would measure the move).
        b.iter(|| {
            let lock = L::new(0);
            touch(black_box(&lock));
        });
    }
}

/// A chain of `D` locks taken in order and released, each round.
struct Nested<const D: usize>;

impl<const D: usize> Scenario for Nested<D> {
    const NAME: &'static str = match D {
        1 => "nested_1",
        2 => "nested_2",
        3 => "nested_3",
        4 => "nested_4",
        _ => "nested",
    };

    fn bench<L: Lock>(b: &mut Bencher<'_>) {
        let chain: Vec<L> = (0..D).map(|_| L::new(0)).collect();
        b.iter(|| {
            let guards: Vec<_> = chain.iter().map(|lock| lock.lock()).collect();
            black_box(&guards);
        });
    }
}

struct EdgeChurn;

impl Scenario for EdgeChurn {
    const NAME: &'static str = "edge_churn";

    fn bench<L: Lock>(b: &mut Bencher<'_>) {
        let outer = L::new(0);
        let _held = outer.lock();
        b.iter(|| {
            let fresh = L::new(0);
            touch(black_box(&fresh));
        });
    }
}

/// Runs scenario `S` for every contender, in one group.
fn scenario<S: Scenario>(c: &mut Criterion) {
    let mut group = c.benchmark_group(S::NAME);
    contender::<S, std::sync::Mutex<u64>>(&mut group);
    contender::<S, parking_lot::Mutex<u64>>(&mut group);
    contender::<S, impasse::Mutex<u64>>(&mut group);
    contender::<S, tracing_mutex::stdsync::tracing::Mutex<u64>>(&mut group);
    contender::<S, deloxide::Mutex<u64>>(&mut group);
    contender::<S, no_deadlocks::Mutex<u64>>(&mut group);
    group.finish();
}

/// Adds scenario `S` for contender `L` to `group`.
fn contender<S: Scenario, L: Lock>(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.bench_function(BenchmarkId::new(L::NAME, BUILD), S::bench::<L>);
}

criterion_group! {
    name = locks;
    config = config();
    targets = scenario::<Uncontended>,
        scenario::<OneHeld>,
        scenario::<TwoThreadsOneLock>,
        scenario::<TwoThreadsTwoLocks>,
        scenario::<CreateLockDrop>,
        scenario::<Nested<1>>,
        scenario::<Nested<2>>,
        scenario::<Nested<3>>,
        scenario::<Nested<4>>,
        scenario::<EdgeChurn>,
}

fn main() {
    // deloxide is started as its documentation asks; with `lock-order-graph` compiled in,
    // starting is what turns its lock-order graph on.
    deloxide::Deloxide::new().start().expect("deloxide starts");
    locks();
    Criterion::default().configure_from_args().final_summary();
}
