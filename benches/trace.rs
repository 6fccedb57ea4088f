//! What recording a trace (`IMPASSE_TRACE`) costs per lock event, next to the same build with
//! recording off and to parking_lot, in one run; and how many bytes an event takes.
//!
//! - `trace_uncontended`: lock, bump a `u64`, unlock (two events: acquired, released).
//! - `trace_one_held`: hold lock A, and lock and unlock B in the loop (a known lock-order edge).
//!
//! Contenders: `parking_lot`; `impasse-detect` (recording off: the cost of the off switch is
//! one relaxed load per event); `impasse-detect-traced` (recording into a temporary directory,
//! the file writes included). Times are per lock/unlock pair. After the run the bench prints the
//! trace's bytes per event. Run with `cargo bench -p impasse-benches --bench trace`.

#[path = "common.rs"]
mod common;

use common::{BUILD, IMPASSE};
use criterion::{criterion_group, BenchmarkId, Criterion};
use std::hint::black_box;

fn recording(dir: Option<std::path::PathBuf>) {
    impasse::policy::Settings::from_env()
        .unwrap_or_default()
        .trace_dir(dir)
        .install();
}

fn trace_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("impasse-trace-bench-{}", std::process::id()))
}

fn uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace_uncontended");
    let parking_lot = parking_lot::Mutex::new(0u64);
    group.bench_function(BenchmarkId::new("parking_lot", BUILD), |b| {
        b.iter(|| *black_box(&parking_lot).lock() += 1)
    });
    let impasse = impasse::Mutex::new(0u64);
    recording(None);
    group.bench_function(BenchmarkId::new(IMPASSE, BUILD), |b| {
        b.iter(|| *black_box(&impasse).lock() += 1)
    });
    recording(Some(trace_dir()));
    group.bench_function(BenchmarkId::new(format!("{IMPASSE}-traced"), BUILD), |b| {
        b.iter(|| *black_box(&impasse).lock() += 1)
    });
    recording(None);
    group.finish();
}

fn one_held(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace_one_held");
    let (pa, pb) = (parking_lot::Mutex::new(0u64), parking_lot::Mutex::new(0u64));
    group.bench_function(BenchmarkId::new("parking_lot", BUILD), |b| {
        let _a = pa.lock();
        b.iter(|| *black_box(&pb).lock() += 1)
    });
    let (ia, ib) = (impasse::Mutex::new(0u64), impasse::Mutex::new(0u64));
    recording(None);
    group.bench_function(BenchmarkId::new(IMPASSE, BUILD), |b| {
        let _a = ia.lock();
        b.iter(|| *black_box(&ib).lock() += 1)
    });
    recording(Some(trace_dir()));
    group.bench_function(BenchmarkId::new(format!("{IMPASSE}-traced"), BUILD), |b| {
        let _a = ia.lock();
        b.iter(|| *black_box(&ib).lock() += 1)
    });
    recording(None);
    group.finish();
}

/// Bytes per event of what this run recorded.
fn bytes_per_event() {
    impasse::trace::flush();
    let Ok(entries) = std::fs::read_dir(trace_dir()) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        let events = impasse::trace::TraceReader::open(&path).map_or(0, |r| r.count());
        if events > 0 {
            println!(
                "trace: {events} events in {bytes} bytes: {:.2} bytes per event ({})",
                bytes as f64 / events as f64,
                path.display()
            );
        }
        let _ = std::fs::remove_file(&path);
    }
}

criterion_group! {
    name = trace;
    config = common::config();
    targets = uncontended, one_held,
}

fn main() {
    if cfg!(feature = "detect") {
        trace();
        bytes_per_event();
    }
    Criterion::default().configure_from_args().final_summary();
}
