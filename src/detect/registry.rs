//! Identities: thread keys, resource ids, and the names given to resources.
//!
//! Ids are handed out without a global lock or a shared counter on the hot path: each thread
//! reserves a block of resource ids at a time, and a resource takes its id on its first
//! acquisition (or at `named`). Names live in a table touched only by named resources, at
//! creation and drop, and by report building. Invariant: an id is never reused in a process,
//! so a held-stack entry of a lock that was leaked and then dropped can never alias a live one.

use crate::facade::plain::{AtomicU64, Ordering};
use crate::facade::sync::Mutex;
use std::collections::HashMap;
use std::num::NonZeroU64;

pub(crate) use crate::model::{ResourceId, ThreadKey};

impl ThreadKey {
    /// A key for a thread that has never used the detector before (assigned on the thread's
    /// first use of the detector).
    pub(crate) fn fresh() -> ThreadKey {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ThreadKey(nonzero(NEXT.fetch_add(1, Ordering::Relaxed)))
    }
}

/// A thread's reserved range of resource ids, `next..end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdBlock {
    next: u64,
    end: u64,
}

impl IdBlock {
    const SIZE: u64 = 1024;

    pub(crate) const fn empty() -> Self {
        IdBlock { next: 0, end: 0 }
    }

    /// The next id of this block, reserving a new block when it is spent.
    pub(crate) fn take(&mut self) -> ResourceId {
        static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
        if self.next == self.end {
            self.next = NEXT_BLOCK.fetch_add(Self::SIZE, Ordering::Relaxed);
            self.end = self.next + Self::SIZE;
        }
        let id = self.next;
        self.next += 1;
        ResourceId(nonzero(id))
    }
}

fn nonzero(value: u64) -> NonZeroU64 {
    // Both counters start at 1 and would need 2^64 increments to wrap.
    NonZeroU64::new(value).expect("impasse: id counter wrapped")
}

crate::facade::global! {
    /// Names given with `named`, by resource.
    static NAMES: Mutex<HashMap<ResourceId, Box<str>>> = Mutex::new(HashMap::new());
}

/// Remembers `name` for `id` until [`forget_name`].
pub(crate) fn remember_name(id: ResourceId, name: Box<str>) {
    NAMES.lock().insert(id, name);
}

pub(crate) fn forget_name(id: ResourceId) {
    NAMES.lock().remove(&id);
}

/// The name given to `id`, if any.
pub(crate) fn name_of(id: ResourceId) -> Option<String> {
    NAMES.lock().get(&id).map(|name| name.to_string())
}
