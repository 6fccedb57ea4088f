//! A thread's memory of the lock-order edges it has already recorded, so that taking a lock
//! while holding others costs a few compares and no global lock once the edges are known.
//!
//! Direct-mapped: each (from, to) pair has one slot, chosen by a hash; a pair that lands on an
//! occupied slot evicts its occupant, which is then recorded again (harmlessly) if it is met
//! again. Resource ids are never reused, so an entry for a dropped lock can never be mistaken
//! for a live one: entries need no invalidation, and the table's size bounds the memory.

use super::registry::ResourceId;

const SLOTS: usize = 256;

/// `(from, to)` pairs this thread has recorded, one per slot.
#[derive(Debug)]
pub(crate) struct EdgeCache {
    slots: [Option<(ResourceId, ResourceId)>; SLOTS],
}

impl EdgeCache {
    pub(crate) const fn new() -> EdgeCache {
        EdgeCache {
            slots: [None; SLOTS],
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
    }

    pub(crate) fn insert(&mut self, from: ResourceId, to: ResourceId) {
        self.slots[Self::slot(from, to)] = Some((from, to));
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
    }
}
