//! The real world: parking_lot locks, std atomics, threads and thread-locals, in loom's shape.

pub(crate) mod sync {
    pub(crate) use parking_lot::{Mutex, MutexGuard};
    pub(crate) use std::sync::Arc;
    use std::time::Duration;

    /// A condition variable that takes its guard by value, as std's and loom's do.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(parking_lot::Condvar);

    impl Condvar {
        pub(crate) const fn new() -> Self {
            Condvar(parking_lot::Condvar::new())
        }

        pub(crate) fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(&mut guard);
            guard
        }

        /// Waits at most `timeout`; the flag is `true` when the wait timed out.
        pub(crate) fn wait_timeout<'a, T>(
            &self,
            mut guard: MutexGuard<'a, T>,
            timeout: Duration,
        ) -> (MutexGuard<'a, T>, bool) {
            let timed_out = self.0.wait_for(&mut guard, timeout).timed_out();
            (guard, timed_out)
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
    }
}

/// Atomics that loom does not model, constructible in `const` context.
///
/// Only for words that name things (resource ids) or record an owner next to a modelled
/// raw-lock operation: under loom they behave as if sequentially consistent at the point
/// they occur, which is all the detector's argument asks of them.
pub(crate) mod plain {
    pub(crate) use std::sync::atomic::{
        AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
}

/// The raw locks that impasse's instrumented locks wrap.
pub(crate) mod raw {
    pub(crate) use parking_lot::{RawMutex, RawRwLock};
}

pub(crate) mod cell {
    /// `core::cell::UnsafeCell` with loom's closure-based access.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T: ?Sized>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(core::cell::UnsafeCell::new(value))
        }
    }

    impl<T: ?Sized> UnsafeCell<T> {
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

pub(crate) mod thread {
    pub(crate) use std::thread::{
        current, panicking, sleep, yield_now, Builder, JoinHandle, Thread,
    };

    /// A number for the current thread, never zero and unique among live threads: the
    /// address of a thread-local (as parking_lot's `RawThreadId`).
    pub(crate) fn current_id() -> std::num::NonZeroUsize {
        std::thread_local!(static ANCHOR: u8 = const { 0 });
        ANCHOR.with(|anchor| {
            std::num::NonZeroUsize::new(anchor as *const u8 as usize)
                .expect("a reference is never null")
        })
    }
}

pub(crate) mod hint {
    pub(crate) use std::hint::spin_loop;
}

/// Declares a thread-local with a `const` initialiser (loom's mock under loom).
macro_rules! per_thread {
    ($(#[$meta:meta])* static $name:ident: $ty:ty = const { $init:expr };) => {
        std::thread_local!($(#[$meta])* static $name: $ty = const { $init });
    };
}
pub(crate) use per_thread;

/// Lazily initialised global state, created on first use.
pub(crate) type Lazy<T> = std::sync::LazyLock<T>;

/// Declares a lazily initialised global (`loom::lazy_static!` under loom, so that each
/// model execution starts from fresh state).
macro_rules! global {
    ($(#[$meta:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        $(#[$meta])*
        static $name: $crate::facade::Lazy<$ty> = $crate::facade::Lazy::new(|| $init);
    };
}
pub(crate) use global;
