//! The handle a primitive carries so the detector can name it: [`ResourceMeta`], and the
//! owner word of reader-writer locks, [`Owner`].
//!
//! With `detect` off both are zero-sized and every method is empty, so a primitive is its
//! raw lock and nothing more. With it on, a resource is registered lazily: `new` is `const`
//! and stores only the creation site; the id is taken on the first acquisition from the
//! thread's own id block, and only a resource the detector has to remember beyond that (a
//! name) costs a global table entry, removed again on drop.

use crate::report::ResourceKind;
use std::borrow::Cow;
use std::panic::Location;

#[cfg(not(feature = "detect"))]
pub(crate) use self::off::{NoHolder, Owner, ResourceMeta};
#[cfg(feature = "detect")]
pub(crate) use self::on::{Owner, ResourceMeta};

/// What an acquisition hands back: the acquiring thread, for an [`Owner`] word.
#[cfg(feature = "detect")]
pub(crate) type Holder = Option<super::registry::ThreadKey>;
/// What an acquisition hands back; nothing with `detect` off.
#[cfg(not(feature = "detect"))]
pub(crate) type Holder = off::NoHolder;

#[cfg(feature = "detect")]
mod on {
    use super::{Cow, Holder, Location, ResourceKind};
    use crate::detect::registry::{self, ResourceId};
    use crate::detect::this_thread;
    use crate::facade::plain::{AtomicU32, AtomicU64, Ordering};
    use crate::report::Access;

    /// `word` flag: the resource has an entry in the names table.
    const NAMED: u64 = 0b1;
    /// `word` flag: the resource may be a node of the lock-order graph.
    const ORDERED: u64 = 0b10;
    const FLAG_BITS: u32 = 2;
    const FLAGS: u64 = (1 << FLAG_BITS) - 1;

    /// A resource's identity: lazily assigned id, flags, kind, creation site.
    pub(crate) struct ResourceMeta {
        /// `id << FLAG_BITS | flags`; `0` until the first acquisition or `named`.
        word: AtomicU64,
        kind: ResourceKind,
        /// How many times the resource was acquired while a trace was recorded (in the word's
        /// padding: the meta does not grow).
        seq: AtomicU32,
        created_at: &'static Location<'static>,
    }

    impl ResourceMeta {
        pub(crate) const fn new(
            kind: ResourceKind,
            created_at: &'static Location<'static>,
        ) -> Self {
            ResourceMeta {
                word: AtomicU64::new(0),
                kind,
                seq: AtomicU32::new(0),
                created_at,
            }
        }

        pub(crate) fn named(
            kind: ResourceKind,
            created_at: &'static Location<'static>,
            name: Cow<'static, str>,
        ) -> Self {
            let meta = ResourceMeta::new(kind, created_at);
            let id = this_thread::next_resource_id();
            #[cfg(not(loom))]
            if crate::trace::record::on() {
                crate::trace::record::resource(id, kind, created_at, Some(&name));
            }
            registry::remember_name(id, name.into_owned().into_boxed_str());
            meta.word
                .store(id.get() << FLAG_BITS | NAMED, Ordering::Relaxed);
            meta
        }

        pub(crate) fn kind(&self) -> ResourceKind {
            self.kind
        }

        pub(crate) fn created_at(&self) -> &'static Location<'static> {
            self.created_at
        }

        /// The id, if the resource has one yet.
        #[inline]
        pub(crate) fn id(&self) -> Option<ResourceId> {
            ResourceId::from_raw(self.word.load(Ordering::Relaxed) >> FLAG_BITS)
        }

        /// The id, taking one from `fresh` if the resource has none yet.
        #[inline]
        pub(crate) fn id_or(&self, fresh: impl FnOnce() -> ResourceId) -> ResourceId {
            match self.id() {
                Some(id) => id,
                None => self.assign(fresh()),
            }
        }

        /// The number of this acquisition among the resource's acquisitions (a trace orders
        /// each lock's critical sections by it). An exclusive holder is alone: a plain store
        /// suffices; readers may number at once.
        pub(crate) fn next_seq(&self, access: Access) -> u32 {
            match access {
                Access::Exclusive => {
                    let next = self.seq.load(Ordering::Relaxed).wrapping_add(1);
                    self.seq.store(next, Ordering::Relaxed);
                    next
                }
                _ => self.seq.fetch_add(1, Ordering::Relaxed).wrapping_add(1),
            }
        }

        /// Notes that the lock-order graph may hold a node for this resource, so that
        /// dropping it removes the node.
        pub(crate) fn mark_ordered(&self) {
            if self.word.load(Ordering::Relaxed) & ORDERED == 0 {
                self.word.fetch_or(ORDERED, Ordering::Relaxed);
            }
        }

        #[cold]
        fn assign(&self, id: ResourceId) -> ResourceId {
            // Two readers may race to name a fresh RwLock: the first id wins, and the
            // loser's id is simply never used.
            match self.word.compare_exchange(
                0,
                id.get() << FLAG_BITS,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    #[cfg(not(loom))]
                    if crate::trace::record::on() {
                        crate::trace::record::resource(id, self.kind, self.created_at, None);
                    }
                    id
                }
                Err(word) => ResourceId::from_raw(word >> FLAG_BITS)
                    .expect("impasse: a resource word with flags always has an id"),
            }
        }
    }

    impl Drop for ResourceMeta {
        fn drop(&mut self) {
            let word = *self.word.get_mut();
            #[cfg(not(loom))]
            if word != 0 && crate::trace::record::on() {
                if let Some(id) = ResourceId::from_raw(word >> FLAG_BITS) {
                    crate::trace::record::dropped(id);
                }
            }
            if word & FLAGS == 0 {
                return; // never remembered anywhere: dropping is free
            }
            if let Some(id) = ResourceId::from_raw(word >> FLAG_BITS) {
                if word & NAMED != 0 {
                    registry::forget_name(id);
                }
                if word & ORDERED != 0 {
                    crate::detect::lock_order::forget(id);
                }
            }
        }
    }

    impl std::fmt::Debug for ResourceMeta {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("ResourceMeta")
                .field("kind", &self.kind)
                .field("id", &self.id().map(ResourceId::get))
                .field("created_at", &self.created_at)
                .finish()
        }
    }

    /// The thread holding a reader-writer lock exclusively, `0` when none does.
    ///
    /// Set after the raw lock is taken, cleared before it is released, so a non-zero value
    /// never outlives the hold; a zero may briefly hide a fresh writer, which the detector's
    /// argument allows for (`src/detect/README.md`).
    #[derive(Debug)]
    pub(crate) struct Owner(AtomicU64);

    impl Owner {
        pub(crate) const fn new() -> Self {
            Owner(AtomicU64::new(0))
        }

        #[inline]
        pub(crate) fn set(&self, holder: Holder) {
            if let Some(key) = holder {
                self.0.store(key.get(), Ordering::Relaxed);
            }
        }

        #[inline]
        pub(crate) fn clear(&self) {
            self.0.store(0, Ordering::Relaxed);
        }

        pub(crate) fn is_owned(&self) -> bool {
            self.0.load(Ordering::Relaxed) != 0
        }
    }
}

#[cfg(not(feature = "detect"))]
mod off {
    use super::{Cow, Holder, Location, ResourceKind};

    /// Nothing: with `detect` off no thread is tracked.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct NoHolder;

    /// Nothing: with `detect` off a primitive carries no identity.
    #[derive(Debug)]
    pub(crate) struct ResourceMeta;

    impl ResourceMeta {
        #[inline(always)]
        pub(crate) const fn new(
            _kind: ResourceKind,
            _created_at: &'static Location<'static>,
        ) -> Self {
            ResourceMeta
        }

        #[inline(always)]
        pub(crate) fn named(
            _kind: ResourceKind,
            _created_at: &'static Location<'static>,
            _name: Cow<'static, str>,
        ) -> Self {
            ResourceMeta
        }
    }

    /// Nothing: with `detect` off no owner is tracked.
    #[derive(Debug)]
    pub(crate) struct Owner;

    impl Owner {
        #[inline(always)]
        pub(crate) const fn new() -> Self {
            Owner
        }

        #[inline(always)]
        pub(crate) fn set(&self, _holder: Holder) {}

        #[inline(always)]
        pub(crate) fn clear(&self) {}

        #[inline(always)]
        pub(crate) fn is_owned(&self) -> bool {
            false
        }
    }
}
