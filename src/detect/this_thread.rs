//! The detector's per-thread state: the thread's key, its block of resource ids, and its
//! held stack (what it holds, how, and where it acquired it).
//!
//! The uncontended path touches only this state and the lock's own words: no global lock,
//! counter or shared cache line. The held stack is the one source of truth for what a thread
//! holds; it is published into the wait-for graph only when the thread is about to block
//! (`detect::wait`), and a blocked thread cannot release anything, so the published copy stays
//! exact for as long as it is in the graph.

use super::detector;
use super::registry::{IdBlock, ResourceId, ThreadKey};
use super::threads::WorldId;
use crate::report::{Access, ResourceKind};
use std::cell::{Cell, RefCell};
use std::panic::Location;

/// One entry of the held stack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    pub(crate) resource: ResourceRef,
    pub(crate) access: Access,
    pub(crate) at: &'static Location<'static>,
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
    held: RefCell<Vec<Held>>,
}

crate::facade::per_thread! {
    static STATE: ThreadState = const {
        ThreadState {
            key: Cell::new(None),
            world: Cell::new(WorldId::PROGRAM),
            ids: Cell::new(IdBlock::empty()),
            held: RefCell::new(Vec::new()),
        }
    };
}

impl Drop for ThreadState {
    fn drop(&mut self) {
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

    #[inline]
    pub(crate) fn push(&self, held: Held) {
        self.held.borrow_mut().push(held);
    }

    /// Forgets the most recent hold of `id` with `access`; nothing if there is none (a lock
    /// released by a thread that did not acquire it, through the unsafe raw API).
    #[inline]
    pub(crate) fn remove(&self, id: ResourceId, access: Access) {
        let mut held = self.held.borrow_mut();
        if let Some(last) = held.last() {
            if last.resource.id == id && last.access == access {
                held.pop();
                return;
            }
        }
        if let Some(index) = held
            .iter()
            .rposition(|h| h.resource.id == id && h.access == access)
        {
            held.remove(index);
        }
    }

    /// Changes the access of the most recent hold of `id` from `from` to `to` (downgrade,
    /// upgrade), keeping its place and site.
    pub(crate) fn change(&self, id: ResourceId, from: Access, to: Access) {
        let mut held = self.held.borrow_mut();
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
        self.held.borrow().clone()
    }
}
