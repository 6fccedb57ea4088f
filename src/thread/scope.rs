//! [`scope`]: `std::thread::scope` with threads the detector knows.
//!
//! A scoped thread joins its spawner's world, as [`Builder::spawn`] does, and its join is a
//! cooperative wait, as [`JoinHandle::join`](super::JoinHandle::join) is. So is the scope's
//! end: before `std::thread::scope` joins what is left, the scope's owner waits, with the
//! detector, for every thread the closure did not join. A scope whose end waits for a thread
//! that waits for a lock the owner holds is therefore reported, not a silent hang.
//!
//! Invariant: from its spawn until the scope's end, every thread spawned in a scope is in the
//! scope's registry (the untyped half of its packet, `join.rs`), so the end can wait for it by
//! name. std's `Scope` has no room for the registry: it is found by the scope's address in
//! [`RUNNING`], entered before the closure runs and left after the end's wait.

use super::join::{Finish, Packet};
use super::{Builder, Thread};
use crate::detect;
use crate::facade::sync::{Arc, Mutex};
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe, Location};

/// Creates a scope for spawning threads that may borrow from the caller, as
/// `std::thread::scope`: every thread spawned in it has finished when `scope` returns.
///
/// The implicit join at the scope's end is a wait the detector sees. If a thread that was not
/// joined panicked, `scope` panics with that thread's payload once all have finished (std
/// panics with a message of its own); a panic of `f` itself takes precedence.
///
/// ```
/// use impasse::thread;
///
/// let mut counts = [0u32; 2];
/// let text = "a scoped thread may borrow";
/// thread::scope(|s| {
///     let (left, right) = counts.split_at_mut(1);
///     s.spawn(|| left[0] = text.split(' ').count() as u32);
///     thread::Builder::new()
///         .name("right".into())
///         .spawn_scoped(s, || right[0] = text.len() as u32)
///         .unwrap();
/// });
/// assert_eq!(counts, [5, 26]);
/// ```
///
/// A deadlock found at the scope's end makes its owner the victim; the owner then unwinds
/// through `std::thread::scope`, which still waits for every thread. When the cycle runs
/// through a lock the owner took before calling `scope`, no unwinding can release it before
/// that wait, and the process hangs after the report (`testing::run`'s watchdog ends a test).
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let end = Location::caller();
    std::thread::scope(|native| {
        let running = Running::enter(native);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| f(Scope::wrap(native))));
        // A report here unwinds from the owner: `outcome` drops on the way, so whatever the
        // closure returned (guards included) is released before std's join.
        let unjoined_panic = running.registry.join_all(end);
        match (outcome, unjoined_panic) {
            (Err(payload), _) | (Ok(_), Some(payload)) => panic::resume_unwind(payload),
            (Ok(value), None) => value,
        }
    })
}

/// A scope to spawn threads in, as `std::thread::Scope`. See [`scope`].
#[repr(transparent)]
pub struct Scope<'scope, 'env> {
    native: std::thread::Scope<'scope, 'env>,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    fn wrap(native: &'scope std::thread::Scope<'scope, 'env>) -> &'scope Scope<'scope, 'env> {
        let native: *const std::thread::Scope<'scope, 'env> = native;
        // SAFETY: `Scope` is `repr(transparent)` over std's `Scope`, its only field: the two
        // have one layout, so the pointer is valid for `Scope` too; it comes from a reference
        // that lives for `'scope`, and the result borrows it for exactly as long, shared.
        unsafe { &*native.cast::<Scope<'scope, 'env>>() }
    }

    /// Spawns a scoped thread that joins the caller's world; panics if the OS cannot create
    /// one, as std's `Scope::spawn` does.
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Builder::new()
            .spawn_scoped(self, f)
            .expect("failed to spawn thread")
    }

    /// Adds a thread to the scope's registry, for its end to wait for.
    fn register(&self, finish: Arc<Finish>) {
        let registry = RUNNING.lock().get(&self.key()).cloned();
        if let Some(registry) = registry {
            registry.threads.lock().push(finish);
        }
    }

    /// The scope's key in [`RUNNING`]: the address of std's scope, unique while it runs.
    fn key(&self) -> usize {
        &self.native as *const std::thread::Scope<'scope, 'env> as usize
    }
}

impl Builder {
    /// Spawns a thread in `scope`, as `std::thread::Builder::spawn_scoped`; it joins the
    /// caller's world before `f` runs.
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let packet = Packet::new(self.name.clone(), Location::caller());
        let lineage = detect::spawning();
        let child_packet = packet.clone();
        let native = self.native().spawn_scoped(&scope.native, move || {
            detect::started(lineage);
            child_packet.run(f);
        })?;
        scope.register(packet.finish.clone());
        Ok(ScopedJoinHandle { native, packet })
    }
}

/// An owned permission to join a scoped thread, as `std::thread::ScopedJoinHandle`.
pub struct ScopedJoinHandle<'scope, T> {
    native: std::thread::ScopedJoinHandle<'scope, ()>,
    packet: Arc<Packet<T>>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the thread to finish; `Err` holds its panic payload, as std's `join`.
    ///
    /// A join that can never end (the thread waits for a lock the joiner holds, or the whole
    /// world is asleep) is reported as a deadlock.
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        self.packet
            .join(Location::caller(), || drop(self.native.join()))
    }

    /// The thread's handle.
    pub fn thread(&self) -> &Thread {
        self.native.thread()
    }

    /// Whether the thread has finished running its closure.
    pub fn is_finished(&self) -> bool {
        self.packet.finish.is_finished()
    }
}

/// The threads spawned in one running scope, in spawn order.
#[derive(Default)]
struct Registry {
    threads: Mutex<Vec<Arc<Finish>>>,
}

impl Registry {
    /// The scope's end: waits (at `end`, with the detector) until every thread spawned in the
    /// scope has finished, threads spawned meanwhile included; then takes in the clocks of
    /// those nobody joined, and returns the first panic nobody took.
    fn join_all(&self, end: &'static Location<'static>) -> Option<Box<dyn Any + Send>> {
        let mut next = 0;
        loop {
            let thread = self.threads.lock().get(next).cloned();
            let Some(thread) = thread else {
                break;
            };
            drop(thread.wait(end));
            next += 1;
        }
        // Every thread has finished, and with them every handle that could still join one
        // (a handle cannot leave the scope): what they left is the scope's.
        let threads = std::mem::take(&mut *self.threads.lock());
        let mut first_panic = None;
        for thread in threads {
            let (panic, ending) = thread.wait(end).leftovers();
            if let Some(ending) = ending {
                detect::joined(ending);
            }
            if first_panic.is_none() {
                first_panic = panic;
            }
        }
        first_panic
    }
}

crate::facade::global! {
    /// The registries of the scopes that are running, by [`Scope::key`].
    static RUNNING: Mutex<HashMap<usize, Arc<Registry>>> = Mutex::new(HashMap::new());
}

/// A scope's entry in [`RUNNING`], left on drop (unwinding included).
struct Running {
    key: usize,
    registry: Arc<Registry>,
}

impl Running {
    fn enter(native: &std::thread::Scope<'_, '_>) -> Running {
        let running = Running {
            key: native as *const std::thread::Scope<'_, '_> as usize,
            registry: Arc::default(),
        };
        RUNNING
            .lock()
            .insert(running.key, Arc::clone(&running.registry));
        running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.lock().remove(&self.key);
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle").finish_non_exhaustive()
    }
}
