//! loom's model of the world, in the same shape as `real`.
//!
//! loom has no raw locks with `const` constructors, so `raw` builds them here from a loom
//! `Mutex` + `Condvar`, created on first use inside the model (a lock must therefore be
//! created inside `loom::model`, never in a `static`). Timed acquisitions cannot time out
//! under loom (it has no clock): they are modelled as a single attempt.

pub(crate) mod sync {
    pub(crate) use loom::sync::{Arc, MutexGuard};
    use std::time::Duration;

    /// loom's mutex without the poisoning `Result`.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }

        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
    }

    impl<T: Default> Default for Mutex<T> {
        fn default() -> Self {
            Mutex::new(T::default())
        }
    }

    /// loom's condition variable without the poisoning `Result`.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(guard).unwrap_or_else(|e| e.into_inner())
        }

        pub(crate) fn wait_timeout<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            timeout: Duration,
        ) -> (MutexGuard<'a, T>, bool) {
            let (guard, result) = self
                .0
                .wait_timeout(guard, timeout)
                .unwrap_or_else(|e| e.into_inner());
            (guard, result.timed_out())
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
    }
}

/// See the real facade: atomics loom does not model, for naming and ownership words.
pub(crate) mod plain {
    pub(crate) use std::sync::atomic::{
        AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
}

pub(crate) mod raw {
    mod mutex;
    mod rwlock;
    pub(crate) use self::mutex::RawMutex;
    pub(crate) use self::rwlock::RawRwLock;
}

pub(crate) mod cell {
    pub(crate) use loom::cell::UnsafeCell;
}

pub(crate) mod thread {
    pub(crate) use loom::thread::{current, yield_now, Builder, JoinHandle, Thread};
    pub(crate) use std::thread::panicking;

    /// loom has no clock: a sleep is a yield to the other threads of the model.
    pub(crate) fn sleep(_duration: std::time::Duration) {
        loom::thread::yield_now();
    }

    /// A number for the current loom thread, never zero and unique among live threads.
    pub(crate) fn current_id() -> std::num::NonZeroUsize {
        loom::thread_local!(static ANCHOR: u8 = 0);
        ANCHOR.with(|anchor| {
            std::num::NonZeroUsize::new(anchor as *const u8 as usize)
                .expect("a reference is never null")
        })
    }
}

pub(crate) mod hint {
    pub(crate) use loom::hint::spin_loop;
}

macro_rules! per_thread {
    ($(#[$meta:meta])* static $name:ident: $ty:ty = const { $init:expr };) => {
        loom::thread_local!($(#[$meta])* static $name: $ty = $init);
    };
}
pub(crate) use per_thread;

/// A value computed once per process, not once per model execution: only for what no model can
/// change (the source paths lock_api re-locks from). State that models check goes in `global!`.
pub(crate) type Lazy<T> = std::sync::LazyLock<T>;

macro_rules! global {
    ($(#[$meta:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        loom::lazy_static! {
            $(#[$meta])*
            static ref $name: $ty = $init;
        }
    };
}
pub(crate) use global;
