//! The detector's per-thread state, in two halves:
//!
//! - [`HotState`], what every acquisition and release touches: the held stack (what the thread
//!   holds, how, and where it acquired it), the lock-order edges it has recorded, its block of
//!   resource ids. A thread-local without a destructor, so that reaching it is one offset from
//!   the thread pointer, with no "is its destructor registered yet" test on the fast path.
//! - [`ThreadState`], the rest: the thread's key, world and clock, and the destructor that
//!   takes the thread out of the detector when it exits and frees the held stack's memory.
//!
//! The uncontended path touches only `HotState` and the lock's own words: no global lock,
//! counter or shared cache line, not even the thread's key. The held stack is the one source of
//! truth for what a thread holds; it is published into the wait-for graph only when the thread
//! is about to block (`detect::wait`), and a blocked thread cannot release anything, so the
//! published copy stays exact for as long as it is in the graph.

use super::detector;
use super::edge_cache::EdgeCache;
use super::parker::Parker;
use super::registry::{IdBlock, ResourceId, ThreadKey};
use super::thread_clock::ThreadClock;
use super::threads::WorldId;
pub(crate) use crate::model::{Held, ResourceRef};
use crate::predict::{Stamp, VectorClock};
use crate::report::Access;
use std::cell::{Cell, OnceCell, RefCell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::sync::Arc;

/// One entry of the held stack: a hold, and the detector's note on it. The hold's fields are
/// laid out flat, not as a nested [`Held`], so that the note fits in their padding (48 bytes,
/// as a `Held` alone: every acquisition pushes one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    resource: ResourceRef,
    access: Access,
    at: &'static std::panic::Location<'static>,
    address: usize,
    /// The lock became a node of the lock-order graph while held here; its release marks the
    /// lock so that dropping it removes the node.
    ordered: bool,
}

impl Entry {
    fn new(held: Held) -> Entry {
        Entry {
            resource: held.resource,
            access: held.access,
            at: held.at,
            address: held.address,
            ordered: false,
        }
    }

    fn held(&self) -> Held {
        Held {
            resource: self.resource,
            access: self.access,
            at: self.at,
            address: self.address,
        }
    }
}

/// What every acquisition and release touches (see the module's documentation).
pub(crate) struct HotState {
    /// The held stack. Touched on every acquisition and release, so it is an `UnsafeCell`
    /// rather than a `RefCell`: only the methods below reach it, each through
    /// [`HotState::stack`] for its own duration, and none of them calls out (no user code, no
    /// detector, no other method of this state) while it holds the reference. The one call
    /// out is to the global allocator when the stack grows: an allocator that itself takes
    /// impasse locks is not supported (docs/concepts.md).
    ///
    /// `ManuallyDrop` keeps the thread-local free of drop glue; [`ThreadState`]'s destructor
    /// frees the memory, and [`HotState::push`] registers that destructor before the stack
    /// first allocates.
    held: UnsafeCell<ManuallyDrop<Vec<Entry>>>,
    /// Lock-order edges this thread has recorded already (same discipline as `held`).
    edges: UnsafeCell<EdgeCache>,
    ids: Cell<IdBlock>,
}

/// The rest of a thread's state (see the module's documentation).
pub(crate) struct ThreadState {
    /// Assigned on the thread's first use of the detector beyond plain holding (blocking,
    /// spawning, a lock-order edge, an `RwLock` write), which also makes it known.
    key: Cell<Option<ThreadKey>>,
    /// The world the thread belongs to (see `threads.rs`).
    world: Cell<WorldId>,
    /// This thread's place in happens-before (spawns, joins, and what impasse's primitives
    /// carry: `thread_clock.rs`).
    clock: RefCell<ThreadClock>,
    /// The thread is re-locking a lock a live guard owns (`detect::relocking`).
    relocking: Cell<bool>,
    /// Where the thread sleeps in cooperative waits; made on its first one.
    parker: RefCell<Option<Arc<Parker>>>,
    /// A stamp of this thread is in a lock-order witness: its joiner records where its end
    /// went (`vector_clock::Absorbed`).
    witnessed: Cell<bool>,
    /// The thread's name, read once (a thread cannot be renamed): lock-order witnesses share it.
    name: OnceCell<Option<Arc<str>>>,
}

crate::facade::per_thread! {
    static HOT: HotState = const {
        HotState {
            held: UnsafeCell::new(ManuallyDrop::new(Vec::new())),
            edges: UnsafeCell::new(EdgeCache::new()),
            ids: Cell::new(IdBlock::empty()),
        }
    };
}

crate::facade::per_thread! {
    static STATE: ThreadState = const {
        ThreadState {
            key: Cell::new(None),
            world: Cell::new(WorldId::PROGRAM),
            clock: RefCell::new(ThreadClock::new()),
            relocking: Cell::new(false),
            parker: RefCell::new(None),
            witnessed: Cell::new(false),
            name: OnceCell::new(),
        }
    };
}

impl Drop for ThreadState {
    fn drop(&mut self) {
        hot(HotState::free);
        // Under loom the detector's state lives and dies with each model execution, and the
        // last thread-locals are dropped after it: there is nothing left to leave.
        if cfg!(loom) {
            return;
        }
        if let Some(key) = self.key.get() {
            let mut detector = detector::lock();
            detector.graph.deregister(key);
            let world = detector.threads.world_of(key);
            detector.threads.exit(key);
            // One thread fewer that could act: a world waiting to see looks again.
            detector.changed(key, world);
        }
    }
}

/// Runs `f` on this thread's hot state. Without a destructor it outlives the thread's other
/// thread-locals, so it is there even while the thread is torn down (only loom's thread-locals
/// can be gone, hence the `Option`); [`HotState::push`] keeps such a thread from allocating.
#[inline]
pub(crate) fn hot<R>(f: impl FnOnce(&HotState) -> R) -> Option<R> {
    HOT.try_with(f).ok()
}

/// Runs `f` on the rest of this thread's state; `None` while the thread is being torn down.
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&ThreadState) -> R) -> Option<R> {
    STATE.try_with(f).ok()
}

/// A fresh resource id from this thread's block (a global one during teardown).
pub(crate) fn next_resource_id() -> ResourceId {
    hot(HotState::next_id).unwrap_or_else(|| IdBlock::empty().take())
}

/// This thread's key, making the thread known on first use; `None` during teardown.
pub(crate) fn key() -> Option<ThreadKey> {
    with(ThreadState::key)
}

/// This thread's parker, made on first use; `None` during teardown.
pub(crate) fn parker() -> Option<Arc<Parker>> {
    with(|t| Arc::clone(t.parker.borrow_mut().get_or_insert_with(Arc::default)))
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

    /// This thread's current stamp (a thread's end).
    pub(crate) fn stamp(&self) -> Stamp {
        let key = self.key();
        self.clock.borrow_mut().stamp(key)
    }

    /// The thread's name, read once and shared by every witness this thread leaves.
    pub(crate) fn name(&self) -> Option<Arc<str>> {
        self.name
            .get_or_init(|| crate::facade::thread::current().name().map(Arc::from))
            .clone()
    }

    /// This thread's current stamp, for a lock-order witness: from now on its joiner records
    /// where its end went.
    pub(crate) fn witness_stamp(&self) -> Stamp {
        self.witnessed.set(true);
        self.stamp()
    }

    /// Whether a stamp of this thread is in a lock-order witness.
    pub(crate) fn witnessed(&self) -> bool {
        self.witnessed.get()
    }

    /// A spawn: the clock the child starts from; this thread's own epoch moves on.
    pub(crate) fn fork(&self) -> Arc<VectorClock> {
        let key = self.key();
        self.clock.borrow_mut().fork(key)
    }

    /// Takes in `clock` (a spawned thread's start) and moves on.
    pub(crate) fn merge_clock(&self, clock: &VectorClock) {
        self.merge_clock_except(clock, None);
    }

    /// Takes in `clock` but `except`'s own entry (a joined thread's end, forgotten: see
    /// `predict/vector_clock.rs`) and moves on; returns this thread's new epoch.
    pub(crate) fn merge_clock_except(&self, clock: &VectorClock, except: Option<ThreadKey>) -> u64 {
        let key = self.key();
        self.clock.borrow_mut().merge_except(key, clock, except)
    }

    /// This thread's clock, to travel with a message, a task or a once-cell (`None`: nothing
    /// this thread did is ordered yet). Never makes the thread known.
    pub(crate) fn release_clock(&self) -> Option<Arc<VectorClock>> {
        let key = self.key.get()?;
        self.clock.borrow_mut().release(key)
    }

    /// Takes in a clock that travelled to this thread.
    pub(crate) fn acquire_clock(&self, clock: &Arc<VectorClock>) {
        let key = self.key();
        self.clock.borrow_mut().acquire(key, clock);
    }
}

impl HotState {
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
    unsafe fn stack(&self) -> (&mut Vec<Entry>, &mut EdgeCache) {
        // SAFETY: `HotState` lives in a thread-local, so only this thread reaches it; the
        // caller's contract rules out a second, overlapping reference on this thread.
        unsafe { (&mut *self.held.get(), &mut *self.edges.get()) }
    }

    /// Whether the held stack may allocate: only once `ThreadState`'s destructor, which frees
    /// it, is registered (it is not while the thread is being torn down).
    #[cold]
    fn may_allocate() -> bool {
        with(|_| ()).is_some()
    }

    /// Frees the held stack's memory and the edge cache's (the thread is exiting: see
    /// [`HotState::held`]).
    fn free(&self) {
        // SAFETY: the only reference here; dropping `Held`s and edge pairs runs no code.
        let (held, edges) = unsafe { self.stack() };
        drop(std::mem::take(held));
        edges.free();
    }

    /// Pushes `held`; with `check_edges`, first says whether that records a lock-order edge
    /// this thread has not recorded before (one cache probe per held lock: no allocation, no
    /// global lock). During teardown a hold that would need memory is not recorded.
    #[inline]
    pub(crate) fn push(&self, held: Held, check_edges: bool) -> bool {
        // SAFETY: the only reference here, and nothing below calls out but `may_allocate`,
        // which reaches `ThreadState` only.
        let (stack, edges) = unsafe { self.stack() };
        if stack.len() == stack.capacity() && !Self::may_allocate() {
            return false; // the thread is being torn down: the hold goes untracked
        }
        let new_edge = check_edges && !stack.is_empty() && {
            let id = held.resource.id;
            stack
                .iter()
                .any(|e| e.resource.id != id && !edges.contains(e.resource.id, id))
        };
        stack.push(Entry::new(held));
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
            _ => pop_out_of_order(held, id, access),
        }
    }

    /// Remembers the edges from every held lock to the top of the stack as recorded (unless
    /// the thread is being torn down: the cache may allocate), and marks every hold involved as
    /// a node of the lock-order graph.
    pub(crate) fn edges_recorded(&self) {
        let remember = Self::may_allocate();
        // SAFETY: the only reference here, and nothing below calls out but the allocator.
        let (held, edges) = unsafe { self.stack() };
        let Some(top) = held.last().map(|e| e.resource.id) else {
            return;
        };
        for e in held.iter_mut() {
            if e.resource.id != top && remember {
                edges.insert(e.resource.id, top);
            }
            e.ordered = true;
        }
    }

    /// Changes the access of the most recent hold of `id` from `from` to `to` (downgrade,
    /// upgrade), keeping its place and site.
    pub(crate) fn change(&self, id: ResourceId, from: Access, to: Access) {
        // SAFETY: the only reference here, and nothing below calls out.
        let (held, _) = unsafe { self.stack() };
        if let Some(entry) = held
            .iter_mut()
            .rev()
            .find(|e| e.resource.id == id && e.access == from)
        {
            entry.access = to;
        }
    }

    /// A copy of the held stack, oldest first.
    pub(crate) fn holds(&self) -> Vec<Held> {
        // SAFETY: the only reference here, and nothing below calls out but the allocator.
        let (held, _) = unsafe { self.stack() };
        held.iter().map(Entry::held).collect()
    }
}

/// [`HotState::pop`] of a hold that is not the most recent one (releases out of order).
#[cold]
fn pop_out_of_order(held: &mut Vec<Entry>, id: ResourceId, access: Access) -> Option<bool> {
    let index = held
        .iter()
        .rposition(|e| e.resource.id == id && e.access == access)?;
    Some(held.remove(index).ordered)
}
