//! One thread's place in happens-before: its vector clock (`predict/vector_clock.rs`), kept lazily.
//!
//! Besides spawn and join, impasse's own primitives carry happens-before from one thread to
//! another: a message (what the sender did before sending happened before what the receiver
//! does after receiving it), a pool task (its submitter's past before the task; the task before
//! whoever takes its result), a once-cell (the initialiser before every later user). The giving
//! side **releases** its clock (the clock travels with the message, the task, the cell), the
//! taking side **acquires** it.
//!
//! Doing that eagerly would cost an allocation per message (a new clock on every tick and every
//! merge). So it is lazy: a release hands out the current clock as it is and only marks it
//! released, and the thread's epoch moves on at its next stamp; an acquire only keeps the
//! clock, and the kept clocks are merged at the next stamp (or once too many pile up). Stamps
//! are taken only when a lock-order edge is recorded, a thread is spawned or joined, so a
//! thread that passes a million messages between two new edges merges and ticks once.
//!
//! Invariant: a stamp taken after a release is of a later epoch than the released clock, and a
//! stamp taken after an acquire has seen every clock acquired before it.

use super::registry::ThreadKey;
use crate::predict::{Stamp, VectorClock};
use std::sync::Arc;

/// How many acquired clocks wait to be merged at most.
const PENDING: usize = 32;

/// A thread's clock (see the module docs).
#[derive(Debug)]
pub(crate) struct ThreadClock {
    current: Option<Arc<VectorClock>>,
    /// `current` was handed out: the next stamp moves this thread's epoch on first.
    released: bool,
    /// Clocks acquired and not merged yet.
    pending: Vec<Arc<VectorClock>>,
}

impl ThreadClock {
    pub(crate) const fn new() -> ThreadClock {
        ThreadClock {
            current: None,
            released: false,
            pending: Vec::new(),
        }
    }

    /// Makes `next` the thread's clock (and the trace's, when one is recorded).
    fn set(&mut self, next: VectorClock) {
        #[cfg(not(loom))]
        if crate::trace::record::on() {
            crate::trace::record::clock(&next);
        }
        self.current = Some(Arc::new(next));
    }

    /// Merges what is pending and moves on past a release; the clock as it is now.
    fn settle(&mut self, me: ThreadKey) -> &Arc<VectorClock> {
        let fresh = self.current.is_none();
        if fresh || self.released || !self.pending.is_empty() {
            let mut next = self.current.as_deref().cloned().unwrap_or_default();
            for clock in self.pending.drain(..) {
                next.merge_except(&clock, None);
            }
            next.tick(me);
            self.set(next);
            self.released = false;
        }
        self.current.as_ref().expect("settled")
    }

    /// The thread's stamp now, for a lock-order witness or a thread's end.
    pub(crate) fn stamp(&mut self, me: ThreadKey) -> Stamp {
        Stamp {
            thread: me,
            clock: Arc::clone(self.settle(me)),
        }
    }

    /// A spawn: the clock the child starts from; this thread's own epoch moves on.
    pub(crate) fn fork(&mut self, me: ThreadKey) -> Arc<VectorClock> {
        let parent = Arc::clone(self.settle(me));
        let mut next = (*parent).clone();
        next.tick(me);
        self.set(next);
        parent
    }

    /// Takes in `clock` but `except`'s own entry (a joined thread, whose end is recorded apart:
    /// `predict::Absorbed`) and moves on; returns this thread's new epoch.
    pub(crate) fn merge_except(
        &mut self,
        me: ThreadKey,
        clock: &VectorClock,
        except: Option<ThreadKey>,
    ) -> u64 {
        let mut next = (**self.settle(me)).clone();
        next.merge_except(clock, except);
        next.tick(me);
        let epoch = next.get(me);
        self.set(next);
        epoch
    }

    /// Hands the clock out to travel with a message, a task or a once-cell; `None` if this
    /// thread has no place in happens-before yet (nothing it did is in any witness).
    pub(crate) fn release(&mut self, me: ThreadKey) -> Option<Arc<VectorClock>> {
        if self.current.is_none() && self.pending.is_empty() {
            return None;
        }
        if !self.pending.is_empty() {
            self.settle(me);
        }
        self.released = true;
        self.current.clone()
    }

    /// Takes in a clock that travelled here.
    pub(crate) fn acquire(&mut self, me: ThreadKey, clock: &Arc<VectorClock>) {
        let known = self.pending.last().or(self.current.as_ref());
        if known.is_some_and(|known| Arc::ptr_eq(known, clock)) {
            return;
        }
        self.pending.push(Arc::clone(clock));
        if self.pending.len() >= PENDING {
            self.settle(me);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::Absorbed;

    #[test]
    fn a_release_and_an_acquire_order_what_came_before_and_only_that() {
        let (sender, receiver) = (ThreadKey::fresh(), ThreadKey::fresh());
        let (mut s, mut r) = (ThreadClock::new(), ThreadClock::new());
        let before_send = s.stamp(sender);
        let carried = s.release(sender).expect("a clock to carry");
        let after_send = s.stamp(sender);
        let before_receive = r.stamp(receiver);
        r.acquire(receiver, &carried);
        let after_receive = r.stamp(receiver);
        let none = Absorbed::default();
        assert!(before_send.happened_before(&after_receive, &none));
        assert!(
            !after_send.happened_before(&after_receive, &none),
            "sent later: concurrent"
        );
        assert!(after_send.concurrent_with(&after_receive, &none));
        assert!(before_receive.concurrent_with(&before_send, &none));
    }

    #[test]
    fn a_thread_without_a_clock_carries_nothing_and_many_acquires_merge_in_batches() {
        let (a, b) = (ThreadKey::fresh(), ThreadKey::fresh());
        let mut idle = ThreadClock::new();
        assert!(idle.release(a).is_none());
        let mut busy = ThreadClock::new();
        let _ = busy.stamp(b);
        for _ in 0..100 {
            let carried = busy.release(b).expect("a clock");
            idle.acquire(a, &carried);
            let _ = busy.stamp(b); // a new epoch, a new clock, each time
        }
        assert!(idle.pending.len() < PENDING, "merged as they piled up");
    }
}
