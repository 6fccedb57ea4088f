//! The closed-world rule: when every thread of a closed world is blocked and none of them
//! can be woken by another, they are deadlocked (Go's "all goroutines are asleep", scoped to
//! one world and with the full picture in the report).
//!
//! The rule judges waits whose wakers are not known holders: a condition variable, a channel,
//! a barrier or a semaphore may be granted by *any* thread that can still run. Within a closed
//! world (`threads.rs` says when a world is closed) the threads that may still run are the
//! least fixed point of:
//!
//! - a member that is not blocked, or whose wait is timed or already granted, may run;
//! - a member waiting for holders may run once every blocking holder may run (a lock wait
//!   with no blocking holder in the graph is stale or waits for a running thread);
//! - a member joining a thread may run once that thread may run;
//! - a member whose wait anyone may grant may run once any other member may run.
//!
//! The members left over can never run: that set is the deadlock. Every edge used is exact
//! for the reason given in `src/detect/README.md`, and grants are recorded by the waker under
//! the primitive's lock before the waiter wakes, so no member is counted as asleep once it has
//! been given what it waits for.

use super::detector::Detector;
use super::registry::ThreadKey;
use super::wait_for::Wakers;
use crate::report::Report;
use std::collections::HashSet;

/// The deadlock of `me`'s world under the closed-world rule, if there is one and `me` is in it.
pub(crate) fn deadlock(
    detector: &Detector,
    me: ThreadKey,
    queued_writers_block: bool,
) -> Option<Report> {
    let (graph, threads) = (&detector.graph, &detector.threads);
    let world = graph.blocked(me)?.world;
    let members: Vec<ThreadKey> = threads.members_of(world).collect();
    // Cheap tests first: the rule needs every member blocked, then an operating-system look.
    if members.iter().any(|&m| graph.blocked(m).is_none()) || !threads.is_closed(world) {
        return None;
    }
    let is_member = |t: &ThreadKey| members.contains(t);
    let mut may_run: HashSet<ThreadKey> = members
        .iter()
        .copied()
        .filter(|&m| graph.blocked(m).is_some_and(|b| b.may_run_alone()))
        .collect();
    loop {
        let mut grew = false;
        for &t in &members {
            if may_run.contains(&t) {
                continue;
            }
            let blocked = graph.blocked(t)?;
            let runs = match blocked.wait.wakers {
                Wakers::Holders => graph
                    .blockers(t, queued_writers_block && t == me)
                    .iter()
                    .all(|(by, _)| may_run.contains(by) || !is_member(by)),
                Wakers::Thread(joined) => may_run.contains(&joined) || !is_member(&joined),
                Wakers::Anyone => may_run.iter().any(|&other| other != t),
            };
            if runs {
                may_run.insert(t);
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    if may_run.contains(&me) {
        return None;
    }
    let mut deadlocked: Vec<ThreadKey> = members
        .into_iter()
        .filter(|m| !may_run.contains(m) && *m != me)
        .collect();
    deadlocked.sort();
    deadlocked.insert(0, me);
    Some(graph.report(
        &deadlocked,
        me,
        queued_writers_block,
        Some(threads.world_name(world)),
    ))
}
