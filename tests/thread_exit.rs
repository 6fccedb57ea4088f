//! A thread that exits leaves nothing behind. The held stack lives in a thread-local without a
//! destructor (the fast path then skips std's "destructor registered yet?" test), so its memory
//! is freed by hand when the thread exits: a leak there would grow with every thread a program
//! ever ran. A counting allocator measures the bytes alive before and after many short threads
//! that each lock and release.
//!
//! One test only: the allocator counts the whole process.

use impasse::{Mutex, RwLock};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::thread;

/// The system allocator, counting the bytes it has handed out and not yet taken back.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counter is
// bookkeeping only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `threads` threads one after the other; each takes every lock once, one at a time (no
/// nesting, so no lock-order edge is recorded anywhere), and exits.
///
/// Each thread is joined with `JoinHandle::join`, which returns once the thread has exited,
/// its thread-local destructors (which free the held stack) included. A `thread::scope` would
/// not do: it returns as soon as the closures have returned, while the threads may still be
/// running those destructors, so under load the measurement would count memory that a thread
/// still in its exit is about to free.
fn lock_in_threads(
    mutexes: &Arc<Vec<Mutex<u64>>>,
    rwlocks: &Arc<Vec<RwLock<u64>>>,
    threads: usize,
) {
    for _ in 0..threads {
        let (mutexes, rwlocks) = (Arc::clone(mutexes), Arc::clone(rwlocks));
        thread::spawn(move || {
            for m in mutexes.iter() {
                *m.lock() += 1;
            }
            for r in rwlocks.iter() {
                *r.write() += 1;
                assert!(*r.read() > 0);
            }
        })
        .join()
        .expect("the thread ran");
    }
}

#[test]
fn threads_that_held_locks_leave_no_memory_behind() {
    const THREADS: usize = 300;
    let mutexes: Arc<Vec<Mutex<u64>>> = Arc::new((0..4).map(|_| Mutex::new(0)).collect());
    let rwlocks: Arc<Vec<RwLock<u64>>> = Arc::new((0..4).map(|_| RwLock::new(0)).collect());
    // Warm-up: whatever is created once per process (the detector's tables) exists after it.
    lock_in_threads(&mutexes, &rwlocks, 8);

    let before = LIVE.load(Ordering::Relaxed);
    lock_in_threads(&mutexes, &rwlocks, THREADS);
    let after = LIVE.load(Ordering::Relaxed);

    assert_eq!(*mutexes[0].lock(), 8 + THREADS as u64, "every thread ran");
    // A held stack that is never freed costs at least one entry's allocation (tens of bytes)
    // per thread: `THREADS` of them would be kilobytes. What is allowed is a little slack
    // for allocations std makes once, whenever it first needs them.
    let grown = after - before;
    assert!(
        grown < 1024,
        "{THREADS} threads that exited left {grown} bytes allocated"
    );
}
