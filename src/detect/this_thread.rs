//! The detector's per-thread state: the thread's key, its block of resource ids, and its
//! held stack (what it holds, how, and where it acquired it).
//!
//! The uncontended path touches only this state and the lock's own words: no global lock,
//! counter or shared cache line. The held stack is the one source of truth for what a thread
//! holds; it is published into the wait-for graph only when the thread is about to block
//! (`detect::wait`), and a blocked thread cannot release anything, so the published copy stays
//! exact for as long as it is in the graph.

use super::detector;
use super::edge_cache::EdgeCache;
use super::registry::{IdBlock, ResourceId, ThreadKey};
use super::threads::WorldId;
use super::vector_clock::{Stamp, VectorClock};
use crate::report::{Access, ResourceKind};
use std::cell::{Cell, RefCell, UnsafeCell};
use std::panic::Location;
use std::sync::Arc;

/// One entry of the held stack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    pub(crate) resource: ResourceRef,
    pub(crate) access: Access,
    pub(crate) at: &'static Location<'static>,
    /// The lock became a node of the lock-order graph while held here; its release marks the
    /// lock so that dropping it removes the node.
    pub(crate) ordered: bool,
}

/// What the detector needs to name a resource without touching it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResourceRef {
    pub(crate) id: ResourceId,
    pub(crate) kind: ResourceKind,
    pub(crate) created_at: &'static Location<'static>,
}

pub(crate) struct ThreadState {
    /// Assigned on the thread's first use of the detector, which also makes it known.
    key: Cell<Option<ThreadKey>>,
    /// The world the thread belongs to (see `threads.rs`).
    world: Cell<WorldId>,
    ids: Cell<IdBlock>,
    /// The held stack. Touched on every acquisition and release, so it is an `UnsafeCell`
    /// rather than a `RefCell`: only the methods below reach it, each through
    /// [`ThreadState::stack`] for its own duration, and none of them calls out (no user code,
    /// no detector, no other `ThreadState` method) while it holds the reference.
    held: UnsafeCell<Vec<Held>>,
    /// Lock-order edges this thread has recorded already (same discipline as `held`).
    edges: UnsafeCell<EdgeCache>,
    /// This thread's vector clock (spawns and joins); `None` until first needed.
    clock: RefCell<Option<Arc<VectorClock>>>,
    /// The thread is re-locking a lock a live guard owns (`detect::relocking`).
    relocking: Cell<bool>,
}

crate::facade::per_thread! {
    static STATE: ThreadState = const {
        ThreadState {
            key: Cell::new(None),
            world: Cell::new(WorldId::PROGRAM),
            ids: Cell::new(IdBlock::empty()),
            held: UnsafeCell::new(Vec::new()),
            edges: UnsafeCell::new(EdgeCache::new()),
            clock: RefCell::new(None),
            relocking: Cell::new(false),
        }
    };
}

impl Drop for ThreadState {
    fn drop(&mut self) {
        // Under loom the detector's state lives and dies with each model execution, and the
        // last thread-locals are dropped after it: there is nothing left to leave.
        if cfg!(loom) {
            return;
        }
        if let Some(key) = self.key.get() {
            let mut detector = detector::lock();
            detector.graph.deregister(key);
            detector.threads.exit(key);
        }
    }
}

/// Runs `f` on this thread's state; `None` while the thread is being torn down (a lock used
/// from another thread-local's destructor is then simply not tracked).
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&ThreadState) -> R) -> Option<R> {
    STATE.try_with(f).ok()
}

/// A fresh resource id from this thread's block (a global one during teardown).
pub(crate) fn next_resource_id() -> ResourceId {
    with(ThreadState::next_id).unwrap_or_else(|| IdBlock::empty().take())
}

impl ThreadState {
    #[inline]
    pub(crate) fn key(&self) -> ThreadKey {
        match self.key.get() {
            Some(key) => key,
            None => self.make_known(),
        }
    }

    /// The thread's first use of the detector: it gets a key and becomes a known member of
    /// its world.
    #[cold]
    fn make_known(&self) -> ThreadKey {
        let key = ThreadKey::fresh();
        self.key.set(Some(key));
        detector::lock().threads.enter(key, self.world.get());
        key
    }

    pub(crate) fn set_relocking(&self, relocking: bool) {
        self.relocking.set(relocking);
    }

    pub(crate) fn is_relocking(&self) -> bool {
        self.relocking.get()
    }

    pub(crate) fn world(&self) -> WorldId {
        self.world.get()
    }

    /// Moves this thread into `world` (a spawned thread joining its parent's world, or a test
    /// opening its own).
    pub(crate) fn join_world(&self, world: WorldId) {
        self.world.set(world);
        let key = self.key();
        detector::lock().threads.move_to(key, world);
    }

    pub(crate) fn next_id(&self) -> ResourceId {
        let mut ids = self.ids.get();
        let id = ids.take();
        self.ids.set(ids);
        id
    }

    /// The held stack and the edge cache, for the calling method's own use.
    ///
    /// # Safety
    ///
    /// The caller must not hold another reference from this function, and must not call out
    /// (anything that could reach this thread's state again) while it uses these.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    unsafe fn stack(&self) -> (&mut Vec<Held>, &mut EdgeCache) {
        // SAFETY: `ThreadState` lives in a thread-local, so only this thread reaches it; the
        // caller's contract rules out a second, overlapping reference on this thread.
        unsafe { (&mut *self.held.get(), &mut *self.edges.get()) }
    }

    /// Pushes `held`; with `check_edges`, first says whether that records a lock-order edge
    /// this thread has not recorded before (one cache probe per held lock: no allocation, no
    /// global lock).
    #[inline]
    pub(crate) fn push(&self, held: Held, check_edges: bool) -> bool {
        // SAFETY: the only reference here, and nothing below calls out.
        let (stack, edges) = unsafe { self.stack() };
        let new_edge = check_edges && !stack.is_empty() && {
            let id = held.resource.id;
            stack
                .iter()
                .any(|h| h.resource.id != id && !edges.contains(h.resource.id, id))
        };
        stack.push(held);
        new_edge
    }

    /// Forgets the most recent hold of `id` with `access`; returns whether that hold had made
    /// the lock a node of the lock-order graph, or `None` if there was no such hold (a lock
    /// released by a thread that did not acquire it, through the unsafe raw API).
    #[inline]
    pub(crate) fn pop(&self, id: ResourceId, access: Access) -> Option<bool> {
        // SAFETY: the only reference here, and nothing below calls out.
        let (held, _) = unsafe { self.stack() };
        match held.last() {
            Some(last) if last.resource.id == id && last.access == access => {
                let ordered = last.ordered;
                held.pop();
                Some(ordered)
            }
            _ => {
                let index = held
                    .iter()
                    .rposition(|h| h.resource.id == id && h.access == access)?;
                Some(held.remove(index).ordered)
            }
        }
    }

    /// Remembers the edges from every held lock to the top of the stack as recorded, and
    /// marks every hold involved as a node of the lock-order graph.
    pub(crate) fn edges_recorded(&self) {
        // SAFETY: the only reference here, and nothing below calls out.
        let (held, edges) = unsafe { self.stack() };
        let Some(top) = held.last().map(|h| h.resource.id) else {
            return;
        };
        for h in held.iter_mut() {
            if h.resource.id != top {
                edges.insert(h.resource.id, top);
            }
            h.ordered = true;
        }
    }

    /// This thread's current stamp, for a lock-order witness.
    pub(crate) fn stamp(&self) -> Stamp {
        let key = self.key();
        let mut clock = self.clock.borrow_mut();
        let clock = clock.get_or_insert_with(|| {
            let mut fresh = VectorClock::default();
            fresh.tick(key);
            Arc::new(fresh)
        });
        Stamp {
            thread: key,
            clock: Arc::clone(clock),
        }
    }

    /// A spawn: the clock the child starts from; this thread's own epoch moves on.
    pub(crate) fn fork(&self) -> Arc<VectorClock> {
        let key = self.key();
        let parent = self.stamp().clock;
        let mut next = (*parent).clone();
        next.tick(key);
        *self.clock.borrow_mut() = Some(Arc::new(next));
        parent
    }

    /// Takes in `clock` (a spawned thread's start, or a joined thread's end) and moves on.
    pub(crate) fn merge_clock(&self, clock: &VectorClock) {
        let key = self.key();
        let mut next = (*self.stamp().clock).clone();
        next.merge(clock);
        next.tick(key);
        *self.clock.borrow_mut() = Some(Arc::new(next));
    }

    /// Changes the access of the most recent hold of `id` from `from` to `to` (downgrade,
    /// upgrade), keeping its place and site.
    pub(crate) fn change(&self, id: ResourceId, from: Access, to: Access) {
        // SAFETY: the only reference here, and nothing below calls out.
        let (held, _) = unsafe { self.stack() };
        if let Some(entry) = held
            .iter_mut()
            .rev()
            .find(|h| h.resource.id == id && h.access == from)
        {
            entry.access = to;
        }
    }

    /// A copy of the held stack, oldest first.
    pub(crate) fn holds(&self) -> Vec<Held> {
        // SAFETY: the only reference here, and nothing below calls out.
        let (held, _) = unsafe { self.stack() };
        held.clone()
    }
}
