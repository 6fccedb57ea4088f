//! With `detect` off, impasse's locks are parking_lot's in all but name: the same size, the
//! same guards' size. (CI runs this file with `--no-default-features`; with `detect` on, the
//! locks carry their identity and are larger, which this file states too.)

use std::mem::size_of;

#[test]
fn locks_are_parking_lots_size_without_detect() {
    let sizes = [
        (
            "Mutex<u64>",
            size_of::<impasse::Mutex<u64>>(),
            size_of::<parking_lot::Mutex<u64>>(),
        ),
        (
            "RwLock<u64>",
            size_of::<impasse::RwLock<u64>>(),
            size_of::<parking_lot::RwLock<u64>>(),
        ),
        (
            "ReentrantMutex<u64>",
            size_of::<impasse::ReentrantMutex<u64>>(),
            size_of::<parking_lot::ReentrantMutex<u64>>(),
        ),
        (
            "Mutex<()>",
            size_of::<impasse::Mutex<()>>(),
            size_of::<parking_lot::Mutex<()>>(),
        ),
        (
            "MutexGuard<u64>",
            size_of::<impasse::MutexGuard<'static, u64>>(),
            size_of::<parking_lot::MutexGuard<'static, u64>>(),
        ),
    ];
    for (name, ours, theirs) in sizes {
        if cfg!(feature = "detect") {
            assert!(
                ours >= theirs,
                "{name}: {ours} bytes, parking_lot's {theirs}"
            );
        } else {
            assert_eq!(
                ours, theirs,
                "{name} without `detect` must be parking_lot's size"
            );
        }
    }
}
