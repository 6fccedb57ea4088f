//! The runtime detector, as seen by the primitives: a handful of `#[inline]` hooks.
//!
//! A primitive describes itself (its kind, the access it grants or asks for, the caller's
//! site) and the detector does the rest; `detect` knows nothing of concrete primitives. With
//! the `detect` feature off every hook is empty and [`ENABLED`] is `false`, so the primitives
//! compile down to their raw locks. The `cfg` lines live here, inside the hooks, never in
//! `sync/` (parking_lot_core's `deadlock` module is the model).
//!
//! - [`acquired`] / [`released`] / [`changed`]: the uncontended path. Thread-local only.
//! - [`wait`]: the blocking path: publish, search for a cycle, apply the policy, block.
//!
//! Why a report is never made from stale state, and why every deadlock is reported by the
//! thread whose wait closes it, is argued in `src/detect/README.md`.

// Under loom, test worlds and stall reports (`testing.rs`, real threads only) are not built.
#![cfg_attr(loom, allow(dead_code, unused_imports))]

mod resource;
pub(crate) use self::resource::{Holder, Owner, ResourceMeta};

#[cfg(feature = "detect")]
mod order;

mod cooperative;
pub(crate) use self::cooperative::{
    grant, grant_all, name_waker, CoopWait, ThreadToken, WaiterToken, WakeBy,
};
mod worlds;
pub(crate) use self::worlds::{
    acquire, close_world, end_world, finishing, inert, joined, open_world, release, spawning,
    started, still_running, Carried, Ending, Inert, WorldToken,
};

#[cfg(feature = "detect")]
mod closed_world;
#[cfg(feature = "detect")]
mod detector;
#[cfg(feature = "detect")]
mod edge_cache;
#[cfg(feature = "detect")]
mod lock_order;
#[cfg(feature = "detect")]
mod os;
#[cfg(feature = "detect")]
mod parker;
#[cfg(feature = "detect")]
mod registry;
#[cfg(feature = "detect")]
mod relocking;
#[cfg(feature = "detect")]
mod this_thread;
#[cfg(feature = "detect")]
mod thread_clock;
#[cfg(feature = "detect")]
mod threads;
#[cfg(feature = "detect")]
mod wait;
#[cfg(feature = "detect")]
mod wait_for;

use crate::report::Access;
use std::panic::Location;
use std::time::Instant;

/// Whether the primitives are instrumented. A constant, so `if !ENABLED` costs nothing.
pub(crate) const ENABLED: bool = cfg!(feature = "detect");

/// A marker for guards that must stay on the thread that acquired them while the detector
/// runs (what a thread holds is recorded per thread): not `Send` with `detect`, `Send` without.
#[cfg(feature = "detect")]
pub(crate) type GuardMarker = std::marker::PhantomData<*const ()>;
/// A marker for guards that must stay on the thread that acquired them while the detector
/// runs: with `detect` off it restricts nothing.
#[cfg(not(feature = "detect"))]
pub(crate) type GuardMarker = std::marker::PhantomData<()>;

/// The blocking side of one acquisition of a primitive, as the detector drives it.
pub(crate) trait Acquire {
    /// One attempt that never blocks; `true` when it acquired.
    #[cfg_attr(not(feature = "detect"), allow(dead_code))]
    fn attempt(&self) -> bool;

    /// Blocks until acquired, or until `deadline`; `true` when it acquired.
    fn block(&self, deadline: Option<Instant>) -> bool;

    /// For a read request on an RwLock: whether the writer bit is held by a writer that is
    /// queued rather than owning the lock (see `wait_for::BlockedBy`).
    #[cfg_attr(not(feature = "detect"), allow(dead_code))]
    fn writer_queued(&self) -> bool {
        false
    }

    /// Undoes the acquisition that just succeeded, before a potential-deadlock report unwinds
    /// the thread (the guard that would release it does not exist yet).
    ///
    /// # Safety
    ///
    /// Only right after `attempt` or `block` returned `true` on this thread, once.
    #[cfg_attr(not(feature = "detect"), allow(dead_code))]
    unsafe fn release(&self);
}

/// Whether an acquisition can block, and so can be part of a deadlock: only then does it add
/// lock-order edges into the lock it acquires (a `try_lock` or a timed one cannot deadlock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blocking {
    /// `lock`, `read`, `write`, ...: waits as long as it takes.
    Untimed,
    /// `try_lock` or a timed acquisition: gives up by itself.
    GivesUp,
}

/// Records that this thread now holds `meta` with `access`, acquired at `at`, and (for an
/// acquisition that could block) the lock-order edges from what it held before, reporting an
/// inversion they close.
#[inline]
#[track_caller]
pub(crate) fn acquired(
    meta: &ResourceMeta,
    access: Access,
    at: &'static Location<'static>,
    blocking: Blocking,
    lock: &impl Acquire,
) {
    #[cfg(feature = "detect")]
    {
        let check_edges = blocking == Blocking::Untimed;
        if this_thread::hot(|h| h.push(held(h, meta, access, at), check_edges)) == Some(true) {
            // Records the acquisition in the trace itself, between its clock and its report.
            order::record_edges(meta, at, lock);
        } else {
            #[cfg(not(loom))]
            if crate::trace::record::on() {
                trace_acquired(meta, access, at, check_edges);
            }
        }
        #[cfg(all(feature = "tracing", not(loom)))]
        emit_acquired(meta, access, at, check_edges);
    }
    #[cfg(not(feature = "detect"))]
    let _ = (meta, access, at, blocking, lock);
}

/// The calling thread, for primitives that keep an [`Owner`] word (kept apart from
/// [`acquired`] so that only they pay for the thread's key).
#[inline]
pub(crate) fn holder() -> Holder {
    #[cfg(feature = "detect")]
    return this_thread::key();
    #[cfg(not(feature = "detect"))]
    resource::NoHolder
}

/// The held-stack entry of a hold of `meta` with `access`, acquired at `at`.
#[cfg(feature = "detect")]
#[inline]
fn held(
    t: &this_thread::HotState,
    meta: &ResourceMeta,
    access: Access,
    at: &'static Location<'static>,
) -> this_thread::Held {
    this_thread::Held {
        resource: this_thread::ResourceRef {
            id: meta.id_or(|| t.next_id()),
            kind: meta.kind(),
            created_at: meta.created_at(),
        },
        access,
        at,
        address: std::ptr::from_ref(meta) as usize,
    }
}

/// Records that this thread now holds `meta` with `access` where no lock-order edge can
/// apply (semaphore permits: taking permits and locks in opposite orders deadlocks only once
/// the permits run out, which the closed-world rule judges when it happens).
#[inline]
pub(crate) fn holding(meta: &ResourceMeta, access: Access, at: &'static Location<'static>) {
    #[cfg(feature = "detect")]
    {
        this_thread::hot(|h| h.push(held(h, meta, access, at), false));
        #[cfg(not(loom))]
        if crate::trace::record::on() {
            trace_acquired(meta, access, at, false);
        }
        #[cfg(all(feature = "tracing", not(loom)))]
        emit_acquired(meta, access, at, false);
    }
    #[cfg(not(feature = "detect"))]
    let _ = (meta, access, at);
}

/// Records an acquisition in the trace, with the lock's count of acquisitions.
#[cfg(all(feature = "detect", not(loom)))]
#[inline]
pub(crate) fn trace_acquired(
    meta: &ResourceMeta,
    access: Access,
    at: &'static Location<'static>,
    blocking: bool,
) {
    if let Some(id) = meta.id() {
        crate::trace::record::acquired(id, access, at, blocking, meta.next_seq(access));
    }
}

/// Emits an acquisition as a `tracing` event.
#[cfg(all(feature = "tracing", not(loom)))]
#[inline]
fn emit_acquired(
    meta: &ResourceMeta,
    access: Access,
    at: &'static Location<'static>,
    blocking: bool,
) {
    if let Some(id) = meta.id() {
        crate::trace::emit::acquired(id.get(), meta.kind(), access, at, blocking);
    }
}

/// This thread's key, making it known; `None` while it is torn down.
#[cfg(feature = "detect")]
pub(crate) fn thread_key() -> Option<registry::ThreadKey> {
    this_thread::key()
}

/// Marks the calling thread as re-locking a lock that a live guard owns until the returned
/// value is dropped (a condvar's mutex after the wait, a `bump`). A report made meanwhile
/// cannot unwind: the guard would then release a lock the thread does not hold. So the policy
/// aborts instead of panicking (see `policy::deadlock_found`).
#[must_use]
pub(crate) fn relocking() -> Relocking {
    #[cfg(feature = "detect")]
    return relocking::relocking();
    #[cfg(not(feature = "detect"))]
    Relocking
}

/// The calling thread re-locks while this lives; see [`relocking`].
#[cfg(feature = "detect")]
pub(crate) use relocking::Relocking;
/// Nothing: with `detect` off nothing is reported, so nothing needs to know.
#[cfg(not(feature = "detect"))]
#[derive(Debug)]
pub(crate) struct Relocking;

/// Empty, so that dropping a `Relocking` reads the same with `detect` on and off.
#[cfg(not(feature = "detect"))]
impl Drop for Relocking {
    #[inline(always)]
    fn drop(&mut self) {}
}

#[cfg(feature = "detect")]
pub(crate) use relocking::is_relocking;

/// Records that this thread no longer holds `meta` with `access`.
#[inline]
pub(crate) fn released(meta: &ResourceMeta, access: Access) {
    #[cfg(feature = "detect")]
    if let Some(id) = meta.id() {
        if this_thread::hot(|h| h.pop(id, access)) == Some(Some(true)) {
            meta.mark_ordered();
        }
        #[cfg(not(loom))]
        if crate::trace::record::on() {
            crate::trace::record::released(id, access);
        }
        #[cfg(all(feature = "tracing", not(loom)))]
        crate::trace::emit::released(id.get(), access);
    }
    #[cfg(not(feature = "detect"))]
    let _ = (meta, access);
}

/// Records that this thread's hold of `meta` changed from `from` to `to` (downgrade, upgrade).
#[inline]
pub(crate) fn changed(meta: &ResourceMeta, from: Access, to: Access) {
    #[cfg(feature = "detect")]
    if let Some(id) = meta.id() {
        this_thread::hot(|h| h.change(id, from, to));
    }
    #[cfg(not(feature = "detect"))]
    let _ = (meta, from, to);
}

/// Blocks in `lock` for `access` to `meta`, first reporting a deadlock if this wait closes
/// one (untimed waits only: a wait with a `deadline` gives up by itself). Returns `false`
/// only when the deadline passed. The caller records the acquisition with [`acquired`].
#[cold]
#[track_caller]
pub(crate) fn wait(
    meta: &ResourceMeta,
    access: Access,
    at: &'static Location<'static>,
    deadline: Option<Instant>,
    lock: &impl Acquire,
) -> bool {
    #[cfg(feature = "detect")]
    {
        let Some(id) = this_thread::hot(|h| meta.id_or(|| h.next_id())) else {
            return lock.block(deadline);
        };
        let resource = this_thread::ResourceRef {
            id,
            kind: meta.kind(),
            created_at: meta.created_at(),
        };
        #[cfg(not(loom))]
        if crate::trace::record::on() {
            crate::trace::record::request(id, access, at);
        }
        #[cfg(all(feature = "tracing", not(loom)))]
        crate::trace::emit::request(id.get(), meta.kind(), access, at);
        wait::wait(resource, access, at, deadline, lock)
    }
    #[cfg(not(feature = "detect"))]
    {
        let _ = (meta, access, at);
        lock.block(deadline)
    }
}

#[cfg(all(test, feature = "detect"))]
mod tests {
    use crate::{Mutex, RwLock};

    fn last_held_site() -> (&'static str, u32) {
        let held = super::this_thread::hot(|h| h.holds())
            .expect("thread state")
            .pop()
            .expect("something held");
        (held.at.file(), held.at.line())
    }

    #[test]
    fn the_callers_line_arrives_through_lock_api() {
        let m = Mutex::new(());
        let (guard, line) = (m.lock(), line!());
        assert_eq!(last_held_site(), (file!(), line));
        drop(guard);

        let r = RwLock::new(());
        let (guard, line) = (r.upgradable_read(), line!());
        assert_eq!(last_held_site(), (file!(), line));
        let guard = crate::RwLockUpgradableReadGuard::upgrade(guard);
        // An upgrade keeps the place and site of the hold it converts.
        assert_eq!(last_held_site(), (file!(), line));
        drop(guard);
    }

    #[test]
    fn releases_pop_the_held_stack_in_any_order() {
        let (a, b) = (Mutex::new(()), Mutex::new(()));
        let depth = || super::this_thread::hot(|h| h.holds().len()).unwrap();
        let before = depth();
        let (ga, gb) = (a.lock(), b.lock());
        assert_eq!(depth(), before + 2);
        drop(ga); // not the most recent
        assert_eq!(depth(), before + 1);
        drop(gb);
        assert_eq!(depth(), before);
    }
}
