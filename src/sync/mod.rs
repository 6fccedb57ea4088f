//! The swap-in primitives: parking_lot's API ([`Mutex`], [`RwLock`], [`ReentrantMutex`]) and
//! std's ([`stdsync`]), over one instrumented raw layer each.

mod barrier;
mod condvar;
mod mutex;
mod once;
mod raw_mutex;
mod raw_rwlock;
mod reentrant_mutex;
mod rwlock;
mod semaphore;
pub mod stdsync;

pub use self::barrier::{Barrier, BarrierWaitResult};
pub use self::condvar::{Condvar, WaitTimeoutResult};
pub use self::mutex::{const_mutex, MappedMutexGuard, Mutex, MutexGuard};
pub use self::once::{Once, OnceLock, OnceState};
pub use self::raw_mutex::RawMutex;
pub use self::raw_rwlock::RawRwLock;
pub use self::reentrant_mutex::{
    const_reentrant_mutex, MappedReentrantMutexGuard, RawReentrantMutex, ReentrantMutex,
    ReentrantMutexGuard,
};
pub use self::rwlock::{
    const_rwlock, MappedRwLockReadGuard, MappedRwLockWriteGuard, RwLock, RwLockReadGuard,
    RwLockUpgradableReadGuard, RwLockWriteGuard,
};
pub use self::semaphore::{Semaphore, SemaphorePermit};
