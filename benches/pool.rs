//! What impasse's pool costs next to rayon and the `threadpool` crate, in one run, on two
//! worker threads each.
//!
//! - `tiny_tasks`: 1,000 tasks that do (almost) nothing, submitted and all waited for; time
//!   per task. impasse is measured twice: `submit` with a handle and a result per task (what
//!   `concurrent.futures` does), and `scope` (fire-and-forget inside a scope, as rayon's
//!   `scope` + `spawn`); rayon through `scope` + `spawn`; threadpool through `execute` and
//!   `join`.
//! - `coarse_map`: 32 items of about 200 µs of arithmetic each, mapped in parallel, against
//!   the same work done sequentially on one thread: the speedup is `sequential / contender`.
//!
//! The contender `impasse-detect` or `impasse-off` follows the `detect` feature.

#[path = "common.rs"]
mod common;

use common::{config, BUILD, IMPASSE};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::sync::mpsc;
use std::time::Duration;

const WORKERS: usize = 2;
const TINY: u64 = 1_000;
const ITEMS: u64 = 32;

/// About 200 µs of arithmetic (on this machine) that the optimiser cannot skip.
fn coarse_work(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..1_250_000 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    }
    black_box(x)
}

fn tiny_tasks(c: &mut Criterion) {
    let mut group = c.benchmark_group("tiny_tasks");
    group.throughput(criterion::Throughput::Elements(TINY));

    let pool = impasse::pool::ThreadPool::new(WORKERS);
    group.bench_function(BenchmarkId::new(format!("{IMPASSE}-submit"), BUILD), |b| {
        b.iter(|| {
            let handles: Vec<_> = (0..TINY)
                .map(|i| pool.submit(move || black_box(i)))
                .collect();
            for handle in handles {
                black_box(handle.result().expect("a tiny task"));
            }
        })
    });
    group.bench_function(BenchmarkId::new(format!("{IMPASSE}-scope"), BUILD), |b| {
        b.iter(|| {
            pool.scope(|s| {
                for i in 0..TINY {
                    drop(s.submit(move || black_box(i)));
                }
            })
        })
    });
    drop(pool);

    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .expect("a rayon pool");
    group.bench_function(BenchmarkId::new("rayon-scope", BUILD), |b| {
        b.iter(|| {
            rayon.scope(|s| {
                for i in 0..TINY {
                    s.spawn(move |_| {
                        black_box(i);
                    });
                }
            })
        })
    });

    let threadpool = threadpool::ThreadPool::new(WORKERS);
    group.bench_function(BenchmarkId::new("threadpool", BUILD), |b| {
        b.iter(|| {
            for i in 0..TINY {
                threadpool.execute(move || {
                    black_box(i);
                });
            }
            threadpool.join();
        })
    });
    group.finish();
}

fn coarse_map(c: &mut Criterion) {
    let mut group = c.benchmark_group("coarse_map");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(2));

    group.bench_function(BenchmarkId::new("sequential", BUILD), |b| {
        b.iter(|| (0..ITEMS).map(coarse_work).sum::<u64>())
    });

    let pool = impasse::pool::ThreadPool::new(WORKERS);
    group.bench_function(BenchmarkId::new(IMPASSE, BUILD), |b| {
        b.iter(|| {
            pool.map(0..ITEMS, coarse_work)
                .map(|r| r.expect("a coarse task"))
                .sum::<u64>()
        })
    });
    drop(pool);

    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .expect("a rayon pool");
    group.bench_function(BenchmarkId::new("rayon", BUILD), |b| {
        use rayon::prelude::*;
        b.iter(|| rayon.install(|| (0..ITEMS).into_par_iter().map(coarse_work).sum::<u64>()))
    });

    let threadpool = threadpool::ThreadPool::new(WORKERS);
    group.bench_function(BenchmarkId::new("threadpool", BUILD), |b| {
        b.iter(|| {
            let (tx, rx) = mpsc::channel();
            for i in 0..ITEMS {
                let tx = tx.clone();
                threadpool.execute(move || tx.send(coarse_work(i)).expect("collector alive"));
            }
            drop(tx);
            rx.iter().sum::<u64>()
        })
    });
    group.finish();
}

criterion_group! {
    name = pool;
    config = config();
    targets = tiny_tasks, coarse_map,
}
criterion_main!(pool);
