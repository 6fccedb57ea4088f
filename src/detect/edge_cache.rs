//! A thread's memory of the lock-order edges it has already recorded, so that taking a lock
//! while holding others costs a few compares and no global lock once the edges are known.
//!
//! Two levels. First a direct-mapped table: each (from, to) pair has one slot, chosen by a
//! hash, and a pair that lands on an occupied slot evicts its occupant. Then, for threads that
//! take many distinct pairs (a thousand accounts locked in every pairwise order), a hash set of
//! every pair recorded, made on the first eviction and emptied when it reaches [`SPILL_LIMIT`]
//! pairs. A pair forgotten by both is recorded again, harmlessly, if it is met again.
//!
//! Resource ids are never reused, so an entry for a dropped lock can never be mistaken for a
//! live one: entries need no invalidation, and the two sizes bound the memory. The set is
//! freed by hand (`free`): the cache lives in a thread-local without a destructor.

use super::registry::ResourceId;
use rustc_hash::FxHashSet;
use std::mem::ManuallyDrop;

const SLOTS: usize = 256;
/// The most pairs the second level keeps before it starts again from empty.
const SPILL_LIMIT: usize = 1 << 13;

/// One recorded edge.
type Pair = (ResourceId, ResourceId);

/// `(from, to)` pairs this thread has recorded.
#[derive(Debug)]
pub(crate) struct EdgeCache {
    slots: [Option<Pair>; SLOTS],
    spill: ManuallyDrop<Option<Box<FxHashSet<Pair>>>>,
}

impl EdgeCache {
    pub(crate) const fn new() -> EdgeCache {
        EdgeCache {
            slots: [None; SLOTS],
            spill: ManuallyDrop::new(None),
        }
    }

    fn slot(from: ResourceId, to: ResourceId) -> usize {
        // Fibonacci hashing of the pair: cheap, and spreads consecutive ids.
        let mixed = (from.get() ^ to.get().rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> (64 - SLOTS.trailing_zeros())) as usize
    }

    #[inline]
    pub(crate) fn contains(&self, from: ResourceId, to: ResourceId) -> bool {
        self.slots[Self::slot(from, to)] == Some((from, to))
            || self
                .spill
                .as_ref()
                .is_some_and(|spill| spill.contains(&(from, to)))
    }

    /// Remembers `(from, to)`. An evicted pair moves to the second level, which may allocate:
    /// call this only when the thread may (not while it is torn down).
    pub(crate) fn insert(&mut self, from: ResourceId, to: ResourceId) {
        let slot = &mut self.slots[Self::slot(from, to)];
        if let Some(evicted) = slot.replace((from, to)) {
            if evicted != (from, to) {
                let spill = self.spill.get_or_insert_with(Box::default);
                if spill.len() >= SPILL_LIMIT {
                    spill.clear();
                }
                spill.insert(evicted);
            }
        }
    }

    /// Frees the second level (the thread is exiting).
    pub(crate) fn free(&mut self) {
        // `take` leaves `None` behind: the set is dropped once, here, and a later use finds
        // an empty second level.
        drop(self.spill.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::registry::IdBlock;

    #[test]
    fn remembers_what_it_was_told_and_nothing_else() {
        let mut ids = IdBlock::empty();
        let (a, b, c) = (ids.take(), ids.take(), ids.take());
        let mut cache = EdgeCache::new();
        assert!(!cache.contains(a, b));
        cache.insert(a, b);
        assert!(cache.contains(a, b));
        assert!(!cache.contains(b, a), "edges have a direction");
        assert!(!cache.contains(a, c));
        cache.free();
    }

    #[test]
    fn many_pairs_are_remembered_past_the_first_level() {
        let mut ids = IdBlock::empty();
        let locks: Vec<ResourceId> = (0..60).map(|_| ids.take()).collect();
        let mut cache = EdgeCache::new();
        let pairs: Vec<_> = locks
            .iter()
            .flat_map(|&a| locks.iter().map(move |&b| (a, b)))
            .filter(|(a, b)| a != b)
            .collect();
        for &(a, b) in &pairs {
            cache.insert(a, b);
        }
        assert!(
            pairs.iter().all(|&(a, b)| cache.contains(a, b)),
            "all 9,900"
        );
        cache.free();
        assert!(!cache.contains(locks[0], locks[1]) || cache.slots.iter().any(Option::is_some));
    }
}
