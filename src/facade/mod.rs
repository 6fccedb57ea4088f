//! The one place that names `std`, `parking_lot` or `loom` synchronisation types.
//!
//! Every other room imports its locks, condition variables, atomics, cells, threads and
//! thread-locals from here. Under `RUSTFLAGS="--cfg loom"` this module switches to loom's
//! models, so the detector's shared state, the channel and semaphore internals and the pool
//! are model-checked as the very code that runs for real (tokio's `src/loom/` is the model
//! for this switch). `.ci/run` greps the rest of `src/` to keep the rule true.
//!
//! Where loom and std differ, the real side takes loom's shape: guards without poisoning,
//! `Condvar::wait` by value, `UnsafeCell::with`/`with_mut`.

// The facade offers the whole vocabulary of both worlds; not every room uses every word.
#![allow(dead_code, unused_imports, unused_macros)]

#[cfg(not(loom))]
mod real;
#[cfg(not(loom))]
pub(crate) use self::real::*;

#[cfg(loom)]
mod model;
#[cfg(loom)]
pub(crate) use self::model::*;

mod spin;
pub(crate) use self::spin::SpinWait;

/// Declares a function `const` in the real world and plain under loom, whose objects cannot be
/// built in a `const` context (STYLE.md §4): one body instead of two `cfg`-twins.
macro_rules! const_unless_loom {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        #[cfg(not(loom))]
        $(#[$meta])*
        $vis const fn $name($($arg: $ty),*) -> $ret $body

        #[cfg(loom)]
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use const_unless_loom;
