//! The std flavour: [`Mutex`] and [`RwLock`] with `std::sync`'s signatures (`LockResult`,
//! poisoning, `is_poisoned`, `PoisonError::into_inner`), over the same instrumented locks as
//! the parking_lot flavour, so a std user also changes one `use` line:
//!
//! ```
//! use impasse::stdsync::{Mutex, RwLock}; // was: use std::sync::{Mutex, RwLock};
//! # let _ = (Mutex::new(0), RwLock::new(0));
//! ```
//!
//! The error types are std's own ([`PoisonError`], [`TryLockError`]), re-exported here, and so
//! are the primitives whose API std and parking_lot share ([`Barrier`], [`Once`], [`OnceLock`]),
//! so `use impasse::stdsync::*` covers what `use std::sync::*` did.

mod condvar;
mod mutex;
mod poison;
mod rwlock;

pub use self::condvar::{Condvar, WaitTimeoutResult};
pub use self::mutex::{Mutex, MutexGuard};
pub use self::rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use crate::sync::{Barrier, BarrierWaitResult, Once, OnceLock, OnceState};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
