//! [`JoinHandle`]: a join as a cooperative wait, so the detector sees who waits for whom.
//!
//! The spawned thread records its result in a packet shared with the handle, under the
//! packet's lock, and grants its joiners before waking them; the joiner waits on the packet
//! (not in the OS join, which it calls only once the result is there).

use crate::detect::{self, CoopWait, ResourceMeta, ThreadToken, WakeBy};
use crate::facade::sync::{Arc, Condvar, Mutex};
use crate::facade::thread::{JoinHandle as NativeHandle, Thread};
use crate::report::{Access, ResourceKind};
use std::borrow::Cow;
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};

/// What the spawned thread and its handle share.
pub(super) struct Packet<T> {
    state: Mutex<State<T>>,
    finished: Condvar,
    /// The thread, as a resource to join: named by its name, created at the spawn site.
    meta: ResourceMeta,
}

struct State<T> {
    /// The spawned thread, once it has started.
    child: Option<ThreadToken>,
    /// The result, and the spawned thread's clock at its end, for the joiner to take in.
    result: Option<(std::thread::Result<T>, detect::Ending)>,
}

impl<T> Packet<T> {
    pub(super) fn new(
        name: Option<String>,
        spawned_at: &'static Location<'static>,
    ) -> Arc<Packet<T>> {
        let meta = match name {
            Some(name) => ResourceMeta::named(ResourceKind::Thread, spawned_at, Cow::Owned(name)),
            None => ResourceMeta::new(ResourceKind::Thread, spawned_at),
        };
        Arc::new(Packet {
            state: Mutex::new(State {
                child: None,
                result: None,
            }),
            finished: Condvar::new(),
            meta,
        })
    }

    /// The spawned thread's side: runs `f`, then hands its result (or panic) to the joiner.
    pub(super) fn run(&self, f: impl FnOnce() -> T) {
        self.state.lock().child = Some(ThreadToken::current());
        let result = panic::catch_unwind(AssertUnwindSafe(f));
        let ending = detect::finishing();
        let mut state = self.state.lock();
        state.result = Some((result, ending));
        detect::grant_all(&self.meta);
        self.finished.notify_all();
    }
}

/// An owned permission to join a thread, as `std::thread::JoinHandle`.
pub struct JoinHandle<T> {
    native: NativeHandle<()>,
    packet: Arc<Packet<T>>,
}

impl<T> JoinHandle<T> {
    pub(super) fn new(native: NativeHandle<()>, packet: Arc<Packet<T>>) -> JoinHandle<T> {
        JoinHandle { native, packet }
    }

    /// Waits for the thread to finish; `Err` holds its panic payload, as std's `join`.
    ///
    /// A join that can never end (the thread waits for a lock the joiner holds, or the whole
    /// world is asleep) is reported as a deadlock.
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        let result = self.wait_for_result();
        // The thread has handed over its result and is finishing: the OS join is brief.
        let _ = self.native.join();
        result
    }

    /// Waits for the result; the joiner then takes in the finished thread's clock, so what the
    /// thread did happened before what the joiner does next.
    #[track_caller]
    fn wait_for_result(&self) -> std::thread::Result<T> {
        let (result, ending) = self.wait_for_packet();
        detect::joined(ending);
        result
    }

    #[track_caller]
    fn wait_for_packet(&self) -> (std::thread::Result<T>, detect::Ending) {
        let packet = &*self.packet;
        let mut state = packet.state.lock();
        if let Some(result) = state.result.take() {
            return result;
        }
        let wake_by = match state.child {
            Some(child) => WakeBy::Thread(child),
            None => WakeBy::Anyone, // not started yet: it will run, but is not known yet
        };
        let mut waiting = CoopWait::begin(
            &packet.meta,
            Access::Join,
            wake_by,
            Location::caller(),
            false,
        );
        loop {
            let (next, timed_out) = packet.finished.wait_timeout(state, CoopWait::SLICE);
            state = next;
            if let Some(result) = state.result.take() {
                return result;
            }
            if timed_out {
                waiting.recheck();
            } else {
                waiting.again();
            }
        }
    }

    /// The thread's handle.
    pub fn thread(&self) -> &Thread {
        self.native.thread()
    }

    /// Whether the thread has finished running its closure.
    pub fn is_finished(&self) -> bool {
        self.packet.state.lock().result.is_some()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").finish_non_exhaustive()
    }
}
