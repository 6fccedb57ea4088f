//! Happens-before between threads through spawn and join, as vector clocks.
//!
//! A lock-order edge is recorded with its thread's clock. Two edges can be part of one
//! deadlock only if their threads can run at the same time: an edge whose thread finished
//! (and was joined) before the other thread was spawned happened before it, and the pair is
//! ruled out. Clocks tick at spawn (the parent's) and merge at join (into the joiner's); locks
//! do not touch them, so they cost nothing on the lock path.

use super::registry::ThreadKey;
use std::sync::Arc;

/// One thread's view of every thread's progress: `(thread, epoch)`, sorted by thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VectorClock {
    entries: Vec<(ThreadKey, u64)>,
}

impl VectorClock {
    /// The epoch of `thread` that this clock has seen (`0`: nothing).
    pub(crate) fn get(&self, thread: ThreadKey) -> u64 {
        match self.entries.binary_search_by_key(&thread, |&(t, _)| t) {
            Ok(index) => self.entries[index].1,
            Err(_) => 0,
        }
    }

    /// Advances `thread`'s own epoch.
    pub(crate) fn tick(&mut self, thread: ThreadKey) {
        match self.entries.binary_search_by_key(&thread, |&(t, _)| t) {
            Ok(index) => self.entries[index].1 += 1,
            Err(index) => self.entries.insert(index, (thread, 1)),
        }
    }

    /// Takes in everything `other` has seen (a join).
    pub(crate) fn merge(&mut self, other: &VectorClock) {
        for &(thread, epoch) in &other.entries {
            match self.entries.binary_search_by_key(&thread, |&(t, _)| t) {
                Ok(index) => self.entries[index].1 = self.entries[index].1.max(epoch),
                Err(index) => self.entries.insert(index, (thread, epoch)),
            }
        }
    }
}

/// The moment an event happened: its thread, and that thread's clock then.
#[derive(Debug, Clone)]
pub(crate) struct Stamp {
    pub(crate) thread: ThreadKey,
    pub(crate) clock: Arc<VectorClock>,
}

impl Stamp {
    /// Whether this event happened before `later` (through spawns and joins).
    pub(crate) fn happened_before(&self, later: &Stamp) -> bool {
        let mine = self.clock.get(self.thread);
        mine != 0 && later.clock.get(self.thread) >= mine
    }

    /// Whether the two events may have happened at the same time.
    pub(crate) fn concurrent_with(&self, other: &Stamp) -> bool {
        self.thread != other.thread && !self.happened_before(other) && !other.happened_before(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(thread: ThreadKey, clock: &VectorClock) -> Stamp {
        Stamp {
            thread,
            clock: Arc::new(clock.clone()),
        }
    }

    #[test]
    fn spawn_then_join_orders_parent_and_child() {
        let (parent, child) = (ThreadKey::fresh(), ThreadKey::fresh());
        let mut p = VectorClock::default();
        p.tick(parent);
        let before_spawn = stamp(parent, &p);
        // spawn: the child starts from the parent's clock; the parent moves on
        let mut c = p.clone();
        c.tick(child);
        p.tick(parent);
        let in_child = stamp(child, &c);
        let parent_meanwhile = stamp(parent, &p);
        assert!(before_spawn.happened_before(&in_child));
        assert!(in_child.concurrent_with(&parent_meanwhile));
        // join: the parent takes in the child's clock
        c.tick(child);
        p.merge(&c);
        p.tick(parent);
        let after_join = stamp(parent, &p);
        assert!(in_child.happened_before(&after_join));
        assert!(!in_child.concurrent_with(&after_join));
    }

    #[test]
    fn unrelated_threads_are_concurrent() {
        let (a, b) = (ThreadKey::fresh(), ThreadKey::fresh());
        let (mut ca, mut cb) = (VectorClock::default(), VectorClock::default());
        ca.tick(a);
        cb.tick(b);
        assert!(stamp(a, &ca).concurrent_with(&stamp(b, &cb)));
    }
}
