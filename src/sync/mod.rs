//! The swap-in primitives: parking_lot's API ([`Mutex`], [`RwLock`], [`ReentrantMutex`]) and
//! std's ([`stdsync`]), over one instrumented raw layer each.

mod barrier;
mod mutex;
mod raw_mutex;
mod raw_rwlock;
mod reentrant_mutex;
mod rwlock;
pub mod stdsync;

pub use self::barrier::{Barrier, BarrierWaitResult};
pub use self::mutex::{MappedMutexGuard, Mutex, MutexGuard};
pub use self::raw_mutex::RawMutex;
pub use self::raw_rwlock::RawRwLock;
pub use self::reentrant_mutex::{
    MappedReentrantMutexGuard, RawReentrantMutex, ReentrantMutex, ReentrantMutexGuard,
};
pub use self::rwlock::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, RwLock, RwLockReadGuard,
    RwLockUpgradableReadGuard, RwLockWriteGuard,
};
