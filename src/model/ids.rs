//! Identities of threads and resources. How the runtime hands them out (without a shared
//! counter on the hot path) is `detect/registry.rs`'s business; here they are plain numbers.

use std::num::NonZeroU64;

/// impasse's number for a thread: unique in a process, in order of first use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadKey(pub(crate) NonZeroU64);

impl ThreadKey {
    /// The number.
    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// The key numbered `raw`; `None` for `0`, which no thread has.
    pub fn from_raw(raw: u64) -> Option<ThreadKey> {
        NonZeroU64::new(raw).map(ThreadKey)
    }
}

/// impasse's number for a resource (a lock, a channel, a condition variable, ...): never
/// reused in a process, so a stale reference to a dropped resource never names a live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(pub(crate) NonZeroU64);

impl ResourceId {
    /// The number.
    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// The id numbered `raw`; `None` for `0`, which no resource has.
    pub fn from_raw(raw: u64) -> Option<ResourceId> {
        NonZeroU64::new(raw).map(ResourceId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_names_nothing_and_other_numbers_round_trip() {
        assert_eq!(ThreadKey::from_raw(0), None);
        assert_eq!(ResourceId::from_raw(0), None);
        assert_eq!(ThreadKey::from_raw(7).map(ThreadKey::get), Some(7));
        assert_eq!(
            ResourceId::from_raw(u64::MAX).map(ResourceId::get),
            Some(u64::MAX)
        );
    }
}
