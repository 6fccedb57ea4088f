//! The std flavour: [`Mutex`] and [`RwLock`] with `std::sync`'s signatures (`LockResult`,
//! poisoning, `is_poisoned`, `PoisonError::into_inner`), over the same instrumented locks as
//! the parking_lot flavour, so a std user also changes one `use` line:
//!
//! ```
//! use impasse::stdsync::{Mutex, RwLock}; // was: use std::sync::{Mutex, RwLock};
//! # let _ = (Mutex::new(0), RwLock::new(0));
//! ```
//!
//! The error types are std's own ([`PoisonError`], [`TryLockError`]), re-exported here.

mod mutex;
mod poison;
mod rwlock;

pub use self::mutex::{Mutex, MutexGuard};
pub use self::rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
