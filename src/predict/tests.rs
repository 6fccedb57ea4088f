//! The lock-order rules on their own, with sites that are plain numbers (as a trace reader's
//! are): each rule fires, and stays quiet on its near-miss.

use super::*;
use crate::model::{ResourceId, ResourceRef, ThreadKey};
use crate::report::{Access, ResourceKind};
use std::sync::Arc;

/// A site, as a trace names one.
type Site = u32;

fn key(n: u64) -> ThreadKey {
    ThreadKey::from_raw(n).expect("not 0")
}

fn lock(n: u64) -> ResourceRef<Site> {
    ResourceRef {
        id: ResourceId::from_raw(n).expect("not 0"),
        kind: ResourceKind::RwLock,
        created_at: n as Site,
    }
}

/// A thread's clock: it has seen only its own first epoch (so distinct threads are concurrent).
fn stamp(thread: u64) -> Stamp {
    let mut clock = VectorClock::default();
    clock.tick(key(thread));
    Stamp {
        thread: key(thread),
        clock: Arc::new(clock),
    }
}

/// `thread` took `to` with `to_access` while holding `from` with `from_access`, and `gates`.
fn witness(
    thread: u64,
    (from, from_access): (u64, Access),
    (to, to_access): (u64, Access),
    gates: &[(u64, Access)],
) -> Witness<Site> {
    Witness {
        stamp: stamp(thread),
        thread_name: None,
        from: lock(from),
        from_access,
        from_at: 100 + from as Site,
        to: lock(to),
        to_access,
        to_at: 200 + to as Site,
        gates: gates
            .iter()
            .map(|&(g, a)| (Node::Lock(lock(g).id), a))
            .collect(),
        from_address: from as usize,
        to_address: to as usize,
    }
}

const X: Access = Access::Exclusive;
const R: Access = Access::Shared;

#[test]
fn two_threads_in_opposite_orders_are_a_finding_with_both_witnesses() {
    let mut order = LockOrder::default();
    assert!(order
        .record([witness(1, (1, X), (2, X), &[])], false)
        .is_none());
    let found = order
        .record([witness(2, (2, X), (1, X), &[])], false)
        .expect("an inversion");
    let threads: Vec<u64> = found.iter().map(|w| w.stamp.thread.get()).collect();
    assert_eq!(
        threads,
        [2, 1],
        "the closing edge first, then the order before it"
    );
    assert_eq!((found[0].from_at, found[0].to_at), (102, 201));
    // Reported once.
    assert!(order
        .record([witness(3, (2, X), (1, X), &[])], false)
        .is_none());
}

#[test]
fn one_thread_in_both_orders_is_quiet() {
    let mut order = LockOrder::default();
    order.record([witness(1, (1, X), (2, X), &[])], false);
    assert!(order
        .record([witness(1, (2, X), (1, X), &[])], false)
        .is_none());
}

#[test]
fn a_common_gate_is_quiet_unless_it_is_only_read() {
    let mut order = LockOrder::default();
    order.record([witness(1, (1, X), (2, X), &[(9, X)])], false);
    assert!(
        order
            .record([witness(2, (2, X), (1, X), &[(9, X)])], false)
            .is_none(),
        "gate 9, written by both: the edges cannot be taken at once"
    );
    let mut order = LockOrder::default();
    order.record([witness(1, (1, X), (2, X), &[(9, R)])], false);
    assert!(
        order
            .record([witness(2, (2, X), (1, X), &[(9, R)])], false)
            .is_some(),
        "two readers of 9 do not exclude each other"
    );
}

#[test]
fn readers_never_block_each_other() {
    let mut order = LockOrder::default();
    order.record([witness(1, (1, R), (2, X), &[])], false);
    assert!(
        order
            .record([witness(2, (2, X), (1, R), &[])], false)
            .is_none(),
        "1 is read by the holder and read by the waiter"
    );
    assert!(
        order
            .record([witness(3, (2, X), (1, X), &[])], false)
            .is_some(),
        "a writer waiting for 1 is blocked by a reader of it"
    );
}

#[test]
fn threads_ordered_by_a_join_are_quiet() {
    let mut order = LockOrder::default();
    let first = witness(1, (1, X), (2, X), &[]);
    // Thread 2 started after thread 1's clock: it has seen thread 1's epoch.
    let mut later = witness(2, (2, X), (1, X), &[]);
    let mut clock = (*first.stamp.clock).clone();
    clock.tick(key(2));
    later.stamp.clock = Arc::new(clock);
    order.record([first], false);
    assert!(order.record([later], false).is_none());
}

#[test]
fn strict_mode_orders_classes_and_a_forgotten_lock_takes_its_edges() {
    let mut order = LockOrder::default();
    order.record([witness(1, (1, X), (2, X), &[])], false);
    order.forget(lock(1).id);
    assert!(
        order
            .record([witness(2, (2, X), (1, X), &[])], false)
            .is_none(),
        "lock 1 was dropped: its old edge is gone"
    );
    let mut strict = LockOrder::default();
    strict.record([witness(1, (1, X), (2, X), &[])], true);
    assert!(
        strict
            .record([witness(1, (2, X), (1, X), &[])], true)
            .is_some(),
        "strict: any inversion of the class order, even by one thread"
    );
}
