//! Happens-before between threads through spawn and join, as vector clocks.
//!
//! A lock-order edge is recorded with its thread's clock. Two edges can be part of one
//! deadlock only if their threads can run at the same time: an edge whose thread finished
//! (and was joined) before the other thread was spawned happened before it, and the pair is
//! ruled out. Clocks tick at spawn (the parent's) and merge at join (into the joiner's); locks
//! do not touch them, so they cost nothing on the lock path.
//!
//! Clocks forget joined threads, so that a thread that spawns and joins thousands of others
//! keeps a clock the size of the threads alive, not of every thread it ever joined: a joiner
//! takes in the joined thread's clock except the joined thread's own entry, and [`Absorbed`]
//! records instead where that thread's end went (into the joiner, at which epoch). Whether an
//! event of a joined thread happened before a later one then follows that record, and the
//! joiner's own, as far as it leads.

use crate::model::ThreadKey;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// One thread's view of every thread's progress: `(thread, epoch)`, sorted by thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VectorClock {
    entries: Vec<(ThreadKey, u64)>,
}

impl VectorClock {
    /// A clock from `(thread, epoch)` entries, in any order; of a thread given twice, the
    /// larger epoch counts.
    pub fn from_entries(mut entries: Vec<(ThreadKey, u64)>) -> VectorClock {
        entries.sort_unstable();
        entries.dedup_by(|later, earlier| {
            // Sorted by thread, then epoch: keep the later, larger one.
            let same = later.0 == earlier.0;
            if same {
                earlier.1 = later.1;
            }
            same
        });
        VectorClock { entries }
    }

    /// The clock's `(thread, epoch)` entries, sorted by thread.
    pub fn entries(&self) -> &[(ThreadKey, u64)] {
        &self.entries
    }

    /// The epoch of `thread` that this clock has seen (`0`: nothing).
    pub fn get(&self, thread: ThreadKey) -> u64 {
        match self.entries.binary_search_by_key(&thread, |&(t, _)| t) {
            Ok(index) => self.entries[index].1,
            Err(_) => 0,
        }
    }

    /// Advances `thread`'s own epoch.
    pub fn tick(&mut self, thread: ThreadKey) {
        match self.entries.binary_search_by_key(&thread, |&(t, _)| t) {
            Ok(index) => self.entries[index].1 += 1,
            Err(index) => self.entries.insert(index, (thread, 1)),
        }
    }

    /// Takes in everything `other` has seen (a spawned thread's start), but `except`'s own
    /// progress (a join of `except`, whose end [`Absorbed`] records instead).
    pub fn merge_except(&mut self, other: &VectorClock, except: Option<ThreadKey>) {
        for &(thread, epoch) in &other.entries {
            if Some(thread) == except {
                continue;
            }
            match self.entries.binary_search_by_key(&thread, |&(t, _)| t) {
                Ok(index) => self.entries[index].1 = self.entries[index].1.max(epoch),
                Err(index) => self.entries.insert(index, (thread, epoch)),
            }
        }
    }
}

/// Where the ends of joined threads went: for each joined thread, its joiner and the joiner's
/// epoch just after the join (everything the thread did happened before it).
#[derive(Debug, Default)]
pub struct Absorbed {
    into: FxHashMap<ThreadKey, (ThreadKey, u64)>,
}

impl Absorbed {
    /// `thread`'s end went into `joiner`'s clock at `epoch`.
    pub fn record(&mut self, thread: ThreadKey, joiner: ThreadKey, epoch: u64) {
        self.into.insert(thread, (joiner, epoch));
    }

    /// How many joined threads are recorded.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.into.len()
    }
}

/// The moment an event happened: its thread, and that thread's clock then.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// The thread the event happened on.
    pub thread: ThreadKey,
    /// What that thread had seen of every thread then.
    pub clock: Arc<VectorClock>,
}

impl Stamp {
    /// Whether this event happened before `later` (through spawns and joins): `later` has seen
    /// this thread reach this epoch, or has seen the epoch of the thread that joined it just
    /// after the join (and so on, for a joiner that was joined in turn).
    pub fn happened_before(&self, later: &Stamp, absorbed: &Absorbed) -> bool {
        let (mut thread, mut epoch) = (self.thread, self.clock.get(self.thread));
        if epoch == 0 {
            return false;
        }
        loop {
            if later.clock.get(thread) >= epoch {
                return true;
            }
            match absorbed.into.get(&thread) {
                Some(&(joiner, at)) if joiner != thread => (thread, epoch) = (joiner, at),
                _ => return false,
            }
        }
    }

    /// Whether the two events may have happened at the same time.
    pub fn concurrent_with(&self, other: &Stamp, absorbed: &Absorbed) -> bool {
        self.thread != other.thread
            && !self.happened_before(other, absorbed)
            && !other.happened_before(self, absorbed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> ThreadKey {
        ThreadKey::from_raw(n).expect("not 0")
    }

    fn stamp(thread: ThreadKey, clock: &VectorClock) -> Stamp {
        Stamp {
            thread,
            clock: Arc::new(clock.clone()),
        }
    }

    #[test]
    fn spawn_then_join_orders_parent_and_child() {
        let (parent, child) = (key(1), key(2));
        let mut p = VectorClock::default();
        p.tick(parent);
        let before_spawn = stamp(parent, &p);
        // spawn: the child starts from the parent's clock; the parent moves on
        let mut c = p.clone();
        c.tick(child);
        p.tick(parent);
        let in_child = stamp(child, &c);
        let parent_meanwhile = stamp(parent, &p);
        let none = Absorbed::default();
        assert!(before_spawn.happened_before(&in_child, &none));
        assert!(in_child.concurrent_with(&parent_meanwhile, &none));
        // join: the parent takes in the child's clock
        c.tick(child);
        p.merge_except(&c, None);
        p.tick(parent);
        let after_join = stamp(parent, &p);
        assert!(in_child.happened_before(&after_join, &none));
        assert!(!in_child.concurrent_with(&after_join, &none));
    }

    #[test]
    fn a_joined_thread_is_forgotten_by_its_joiner_and_still_ordered_before() {
        let (main, worker, next) = (key(1), key(2), key(3));
        let mut m = VectorClock::default();
        m.tick(main);
        // spawn `worker`, which does something, ends, and is joined
        let mut w = m.clone();
        w.tick(worker);
        m.tick(main);
        let in_worker = stamp(worker, &w);
        let mut absorbed = Absorbed::default();
        m.merge_except(&w, Some(worker));
        m.tick(main);
        absorbed.record(worker, main, m.get(main));
        assert_eq!(m.get(worker), 0, "the joiner forgot the joined thread");
        // then spawn `next`: what the worker did happened before it
        let mut n = m.clone();
        n.tick(next);
        let in_next = stamp(next, &n);
        assert!(in_worker.happened_before(&in_next, &absorbed));
        assert!(!in_worker.concurrent_with(&in_next, &absorbed));
        // without the record, the two would look concurrent
        assert!(in_worker.concurrent_with(&in_next, &Absorbed::default()));
        assert_eq!(absorbed.len(), 1);
    }

    #[test]
    fn unrelated_threads_are_concurrent() {
        let (a, b) = (key(1), key(2));
        let (mut ca, mut cb) = (VectorClock::default(), VectorClock::default());
        ca.tick(a);
        cb.tick(b);
        assert!(stamp(a, &ca).concurrent_with(&stamp(b, &cb), &Absorbed::default()));
    }
}
