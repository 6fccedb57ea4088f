//! The blocking protocol, in one function: [`wait`].
//!
//! A primitive calls it once its own spinning has failed and it is about to block. Under the
//! graph lock the thread tries once more, then publishes its holds and its request, then (for
//! an untimed request) searches for a cycle through itself. A cycle is reported while the
//! graph is consistent, the thread leaves the graph, and the policy runs (by default: panic,
//! which unwinds the thread's guards). Otherwise the thread blocks on the primitive and
//! leaves the graph once it holds what it asked for.

use super::registry::ThreadKey;
use super::this_thread::{self, ResourceRef};
use super::wait_for::{WaitFor, WaitRequest};
use super::Acquire;
use crate::facade::sync::Mutex;
use crate::report::Access;
use std::panic::Location;
use std::time::{Duration, Instant};

crate::facade::global! {
    static WAIT_FOR: Mutex<WaitFor> = Mutex::new(WaitFor::default());
}

/// How often a reader held up by a queued writer looks for a cycle again. Its own request is
/// the only one the queued-writer rule may be applied to (other registrations may be stale),
/// so a cycle closed by another thread is found by the reader itself, within this period.
const QUEUED_WRITER_RECHECK: Duration = Duration::from_millis(20);

/// Acquires through `lock`, reporting a deadlock if this wait closes one. Returns what
/// `lock.block` returned: `false` only when a `deadline` passed.
#[cold]
#[track_caller]
pub(crate) fn wait(
    resource: ResourceRef,
    access: Access,
    at: &'static Location<'static>,
    deadline: Option<Instant>,
    lock: &impl Acquire,
) -> bool {
    let Some((me, holds)) = this_thread::with(|t| (t.key(), t.holds())) else {
        return lock.block(deadline);
    };
    let request = WaitRequest {
        resource,
        access,
        at,
        timed: deadline.is_some(),
    };
    let name = crate::facade::thread::current().name().map(str::to_owned);
    let registration = {
        let mut graph = WAIT_FOR.lock();
        if lock.attempt() {
            return true;
        }
        graph.register(me, name, request, holds);
        let registration = Registration(me);
        if deadline.is_none() {
            check(graph, me, lock);
        }
        registration
    };
    let acquired = if deadline.is_none() && reader_may_queue(access) {
        block_rechecking(me, lock)
    } else {
        lock.block(deadline)
    };
    drop(registration);
    acquired
}

/// Looks for a cycle through `me` and applies the policy to it. The graph lock is released
/// before the policy runs: a panic then unwinds through `Registration`, which takes it again.
#[track_caller]
fn check(
    graph: crate::facade::sync::MutexGuard<'_, WaitFor>,
    me: ThreadKey,
    lock: &impl Acquire,
) -> bool {
    let report = graph.deadlock_through(me, lock.writer_queued());
    drop(graph);
    match report {
        Some(report) => {
            crate::policy::deadlock_found(&report);
            true
        }
        None => false,
    }
}

fn reader_may_queue(access: Access) -> bool {
    matches!(access, Access::Shared | Access::Upgradable)
}

#[track_caller]
fn block_rechecking(me: ThreadKey, lock: &impl Acquire) -> bool {
    let mut reported = false;
    loop {
        if lock.block(Some(Instant::now() + QUEUED_WRITER_RECHECK)) {
            return true;
        }
        if reported {
            continue;
        }
        let graph = WAIT_FOR.lock();
        if lock.attempt() {
            return true;
        }
        reported = check(graph, me, lock);
    }
}

/// A thread's presence in the wait-for graph; leaving it on drop, unwinding included.
struct Registration(ThreadKey);

impl Drop for Registration {
    fn drop(&mut self) {
        WAIT_FOR.lock().deregister(self.0);
    }
}
