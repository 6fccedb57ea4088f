//! When a cycle of lock-order edges can deadlock: one witness per edge such that
//!
//! - every edge comes from a different thread (one thread cannot wait for itself in two
//!   places), and the threads may run at the same time (no spawn/join order between them);
//! - no lock is held across every edge in ways that exclude each other (a common gate lock
//!   serialises the edges; two read holds of it do not);
//! - at each lock of the cycle, the access one thread waits for conflicts with the access the
//!   next thread holds (two readers never block each other).
//!
//! In strict mode (lockdep's discipline: nodes are lock classes) only the last rule applies.

use super::vector_clock::Absorbed;
use super::witness::{Node, Witness};
use crate::model::{conflicts, SiteKey};
use crate::report::Access;

/// One witness per edge such that the cycle can deadlock, if there is such a choice.
pub(crate) fn choose<'w, S: SiteKey>(
    edges: &[&'w [Witness<S>]],
    strict: bool,
    absorbed: &Absorbed,
) -> Option<Vec<&'w Witness<S>>> {
    let mut chosen = Vec::with_capacity(edges.len());
    pick(edges, strict, absorbed, &mut chosen).then_some(chosen)
}

/// Depth-first choice of witnesses, pruning as soon as a rule fails for the prefix.
fn pick<'w, S: SiteKey>(
    edges: &[&'w [Witness<S>]],
    strict: bool,
    absorbed: &Absorbed,
    chosen: &mut Vec<&'w Witness<S>>,
) -> bool {
    let i = chosen.len();
    if i == edges.len() {
        let closes = chosen
            .last()
            .zip(chosen.first())
            .is_some_and(|(last, first)| blocks(last, first));
        return closes && (strict || no_common_gate(chosen));
    }
    for witness in edges[i] {
        if let Some(previous) = chosen.last() {
            if !blocks(previous, witness) {
                continue;
            }
        }
        if !strict
            && chosen
                .iter()
                .any(|other| !other.stamp.concurrent_with(&witness.stamp, absorbed))
        {
            continue;
        }
        chosen.push(witness);
        if pick(edges, strict, absorbed, chosen) {
            return true;
        }
        chosen.pop();
    }
    false
}

/// Whether the acquisition of `first` (waiting for its `to`) can be blocked by `next` holding
/// that same lock as its `from`.
fn blocks<S>(first: &Witness<S>, next: &Witness<S>) -> bool {
    conflicts(first.to_access, next.from_access)
}

/// Whether no lock was held across every chosen edge in ways that exclude each other (a gate:
/// with it, no two of the edges can be taken at once). Read holds of one lock do not exclude
/// each other, so a lock read-held across the edges is no gate.
fn no_common_gate<S: SiteKey>(chosen: &[&Witness<S>]) -> bool {
    let Some((first, _)) = chosen.split_first() else {
        return true;
    };
    !first.gates.iter().any(|&(gate, _)| {
        let holds: Option<Vec<Access>> = chosen
            .iter()
            .map(|w| w.gates.iter().find(|(g, _)| *g == gate).map(|&(_, a)| a))
            .collect();
        holds.is_some_and(|holds| {
            holds.iter().enumerate().all(|(i, &a)| {
                holds[i + 1..]
                    .iter()
                    .all(|&b| conflicts(a, b) || conflicts(b, a))
            })
        })
    })
}

/// The cycle rotated to start at its smallest node, so each cycle has one key.
pub(crate) fn normalised<S: SiteKey>(cycle: &[Node<S>]) -> Vec<Node<S>> {
    let start = cycle
        .iter()
        .enumerate()
        .min_by_key(|(_, node)| **node)
        .map_or(0, |(i, _)| i);
    cycle[start..]
        .iter()
        .chain(&cycle[..start])
        .copied()
        .collect()
}
