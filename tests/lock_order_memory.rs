//! The lock-order graph follows the live locks: a million nested acquisitions of freshly
//! created locks (each adding a new edge, each lock dropped right after) run in bounded
//! memory. Each one takes the lock-order graph's slow path (about 2 µs in a release build,
//! ten times that in a debug one), so a debug build runs a tenth of the million:
//! `cargo test --release --test lock_order_memory -- --nocapture` runs all of it.

#![cfg(all(feature = "detect", target_os = "linux"))]

mod common;

use impasse::Mutex;

/// A line of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("a KiB field")
}

fn nested_fresh_pairs(count: usize) {
    let outer = Mutex::new(0u64);
    for i in 0..count {
        let inner = Mutex::new(i as u64);
        let mut o = outer.lock();
        let i = inner.lock();
        *o += *i;
        drop((i, o));
        // `inner` drops here, and its node and edge leave the lock-order graph.
    }
    let fresh_parent = Mutex::new(());
    let fresh_child = Mutex::new(());
    for _ in 0..count / 2 {
        let parent = Mutex::new(());
        let child = Mutex::new(());
        let _p = parent.lock();
        let _c = child.lock();
        let _fp = fresh_parent.lock();
        let _fc = fresh_child.lock();
    }
}

#[test]
fn a_million_nested_acquisitions_of_fresh_locks_stay_flat() {
    let _watchdog = common::Watchdog::new(
        "a_million_nested_acquisitions_of_fresh_locks_stay_flat",
        std::time::Duration::from_secs(120),
    );
    let count = if cfg!(debug_assertions) {
        100_000
    } else {
        1_000_000
    };
    nested_fresh_pairs(count / 10); // warm-up: allocator pools, thread-local caches
    let before = status_kib("VmRSS:");
    nested_fresh_pairs(count);
    let after = status_kib("VmRSS:");
    let peak = status_kib("VmHWM:");
    println!(
        "{count} nested fresh pairs: rss before {before} KiB, after {after} KiB, peak {peak} KiB"
    );
    assert!(
        after <= before + 4 * 1024,
        "memory grew from {before} KiB to {after} KiB over {count} fresh nested locks"
    );
}
