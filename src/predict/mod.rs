//! Potential deadlocks: lock-order inversions that did not deadlock in this run but can in
//! another interleaving (lockdep / GoodLock style), with no live state.
//!
//! The runtime detector keeps one [`LockOrder`] for the process and feeds it the
//! [`Witness`]es of each new acquisition while others are held; the analyzer keeps one per
//! trace and feeds it recorded events. Both get the same answers because they run the same
//! rules: an edge's witnesses say which thread (and when, as a vector-clock [`Stamp`]), at
//! which sites, with which accesses and gate locks, and a cycle is a finding only if one
//! witness per edge can be chosen that could really deadlock (distinct threads that may run at
//! the same time, no common gate, accesses that conflict at every lock of the cycle).
//!
//! Like [`crate::model`], this is for tools built on impasse.

mod lock_order;
mod order_graph;
mod report;
mod rules;
mod topo_order;
mod vector_clock;
mod witness;

#[cfg(test)]
mod tests;

pub use self::lock_order::{LockOrder, SEARCH_STEPS, WITNESSES_PER_EDGE};
pub use self::report::{inversion_report, thread_ref};
pub use self::vector_clock::{Absorbed, Stamp, VectorClock};
pub use self::witness::{witnesses_of, Node, Witness};
