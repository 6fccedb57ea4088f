//! The closed-world rule: blocked threads that no thread of the process can ever wake are
//! deadlocked (Go's "all goroutines are asleep", with the whole process as the world and the
//! report scoped to one test's threads).
//!
//! The rule judges waits whose wakers are not known holders: a condition variable, a channel,
//! a barrier or a semaphore may be granted by *any* thread that can still run, so a verdict
//! needs every thread of the process accounted for. The threads that may still run are the
//! least fixed point of:
//!
//! - a blocked thread whose wait is timed or already granted may run;
//! - a thread waiting for holders may run once every blocking holder may run (a lock wait
//!   with no blocking holder in the graph is stale, or waits for a thread that is not blocked);
//! - a thread joining a thread may run once that thread may run;
//! - a thread whose wait anyone may grant may run once any other thread may run;
//! - a thread that is not blocked in impasse (impasse does not know it, or it is outside any
//!   wait of impasse's) may run, unless the operating system shows it blocked forever: in an
//!   untimed wait on a process-private futex, unchanged across two looks between which
//!   nothing else moved (`os.rs`). Such a thread waits for anyone, as above. Threads impasse
//!   knows to be inert (its watchdogs, libtest's runner) never act.
//!
//! A verdict is certain only when the caller is left outside that set. It is reached in two
//! steps, because looking at other threads through the operating system is slow, and must not
//! be done while the caller holds the lock of the primitive it waits in (a thread queued for
//! that lock would look blocked forever):
//!
//! 1. [`judge`], when a thread blocks (and whenever it is nudged): from the graph alone,
//!    counting every thread that is not blocked in impasse as stuck and then as free. Stuck
//!    either way: a deadlock. Free either way: nothing to report. Otherwise the verdict
//!    depends on threads impasse cannot see into: it is *pending*, and one blocked thread of
//!    the world becomes its **poller**.
//! 2. [`poll`], by the poller, asleep (without the primitive's lock): the operating system's
//!    look at the other threads, twice, with the detector's lock released in between. Every one
//!    of them blocked forever, and nothing changed in between: a deadlock. Otherwise it looks
//!    again later (backing off), and whenever a known thread blocks, leaves a wait unsatisfied
//!    or exits (`nudge_pollers`).
//!
//! No false report: every "may not run" rests on exact edges (published holds, registrations
//! without grant, `src/detect/README.md`) and on every other thread being blocked forever at
//! one instant, which the double look establishes (a thread that was woken in between either
//! ran, which its context-switch count shows, or is runnable, which its state shows, and a
//! thread waiting for the detector's lock would have taken it, which its counter shows).

use super::detector::{self, Detector};
use super::os::{self, Doing};
use super::registry::ThreadKey;
use super::threads::WorldId;
use super::wait_for::Wakers;
use crate::report::{Bystander, Report};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::time::Duration;

/// What a judgement says of the thread that asked.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// A deadlock the thread is part of.
    Deadlock(Report),
    /// The thread may be woken only by threads impasse cannot see into (or by ones that are
    /// running): look again as said.
    Pending(Again),
    /// The thread will run by itself (its wait is timed or granted), or is not blocked:
    /// nothing to look at.
    Quiet,
}

/// When a pending verdict is worth looking at again, besides whenever the poller is nudged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Again {
    /// Now, through the operating system (only threads impasse does not know are left).
    Now,
    /// After a while (backing off): a thread runs, or will, and may yet wake it.
    Later,
}

/// How long a poller waits between looks that found a thread able to act: from the first
/// interval, doubling up to the last.
pub(crate) const POLL_FIRST: Duration = Duration::from_millis(25);
pub(crate) const POLL_LAST: Duration = Duration::from_secs(1);
/// How long the double look waits between its two looks.
pub(crate) const BETWEEN_LOOKS: Duration = Duration::from_millis(2);

/// Step 1 (module docs): the verdict on `me`, blocked, from the graph alone.
/// `queued_writers_block` applies the queued-writer rule to `me`'s own request.
pub(crate) fn judge(detector: &Detector, me: ThreadKey, queued_writers_block: bool) -> Verdict {
    let graph = &detector.graph;
    if let Some(report) = graph.deadlock_through(me, queued_writers_block) {
        return Verdict::Deadlock(report);
    }
    let Some(mine) = graph.blocked(me) else {
        return Verdict::Quiet;
    };
    if mine.may_run_alone() {
        return Verdict::Quiet;
    }
    // Cheap first: a blocked thread that will run by itself may wake anyone; a known thread
    // that is not blocked in impasse may be running.
    if mine.wait.wakers == Wakers::Anyone && graph.runnable() > 0 {
        return Verdict::Pending(Again::Later);
    }
    if detector.threads.len() > graph.len() {
        return Verdict::Pending(Again::Later);
    }
    match depends(detector, me, queued_writers_block) {
        // It may run, for now (a thread runs that could wake it, or holds the lock it waits
        // for): look again later all the same.
        Depends::MayRun => Verdict::Pending(Again::Later),
        Depends::Deadlocked(stuck) => {
            Verdict::Deadlock(report(detector, me, &stuck, queued_writers_block))
        }
        // Every known thread is blocked in impasse: only unknown ones are left to look at.
        Depends::Outside(stuck) => match detector.threads.unknown_tids() {
            Some(unknown) if unknown.is_empty() => {
                Verdict::Deadlock(report(detector, me, &stuck, queued_writers_block))
            }
            Some(_) => Verdict::Pending(Again::Now),
            None => Verdict::Pending(Again::Later), // no operating system to ask
        },
    }
}

/// Step 2 (module docs), first half: the verdict on `me`, blocked in a cooperative wait without
/// its primitive's lock, or the first of the operating system's two looks at every thread that
/// is not blocked in impasse, if they were all blocked forever. The caller then lets go of the
/// detector's lock for [`BETWEEN_LOOKS`] (or until it is granted meanwhile), takes it again
/// with `detector::lock_to_look`, and calls [`second_look`].
pub(crate) fn first_look(detector: &Detector, me: ThreadKey) -> Looked {
    let outside = match depends(detector, me, false) {
        Depends::MayRun => return Looked::Verdict(Verdict::Pending(Again::Later)),
        Depends::Deadlocked(stuck) => {
            return Looked::Verdict(Verdict::Deadlock(report(detector, me, &stuck, false)))
        }
        Depends::Outside(_) => outside_tids(detector),
    };
    let Some(outside) = outside else {
        return Looked::Verdict(Verdict::Pending(Again::Later));
    };
    let Ok(looks) = look_at(&outside) else {
        return Looked::Verdict(Verdict::Pending(Again::Later));
    };
    Looked::Once(FirstLook {
        outside,
        looks,
        counted: detector.acquisitions(),
    })
}

/// What [`first_look`] found.
#[derive(Debug)]
pub(crate) enum Looked {
    /// A verdict already.
    Verdict(Verdict),
    /// Every thread outside impasse's waits blocked forever, once: look again.
    Once(FirstLook),
}

/// What the first look saw: every thread outside impasse's waits, blocked forever.
#[derive(Debug)]
pub(crate) struct FirstLook {
    outside: Vec<u64>,
    looks: Vec<os::Look>,
    counted: u64,
}

/// Step 2, second half: nothing moved since the first look when no change was made under the
/// detector's lock, no thread waits for it, and every look is the same; then no thread of the
/// process could run at that moment, and `me`'s deadlock is certain.
pub(crate) fn second_look(detector: &Detector, me: ThreadKey, first: FirstLook) -> Verdict {
    let moved = detector.acquisitions() != first.counted
        || detector::others_waiting()
        || outside_tids(detector).as_ref() != Some(&first.outside)
        || look_at(&first.outside).map_or(true, |second| second != first.looks);
    if moved {
        return Verdict::Pending(Again::Later);
    }
    let stuck = stuck(detector, me, false, false);
    if stuck.contains(&me) {
        Verdict::Deadlock(report(detector, me, &stuck, false))
    } else {
        Verdict::Quiet
    }
}

/// Threads that neither block in impasse nor are inert: the unknown ones, and known ones
/// outside impasse's waits. `None` where the operating system does not say.
fn outside_tids(detector: &Detector) -> Option<Vec<u64>> {
    let mut tids = detector.threads.unknown_tids()?;
    for thread in detector.threads.known() {
        if detector.graph.blocked(thread).is_none() {
            tids.push(detector.threads.tid_of(thread)?);
        }
    }
    tids.sort_unstable();
    Some(tids)
}

/// Every thread of `tids` blocked forever, with what the look saw; or the first that may act.
fn look_at(tids: &[u64]) -> Result<Vec<os::Look>, u64> {
    tids.iter()
        .map(|&tid| match os::look(tid) {
            Some(look) if look.doing == Doing::BlockedForever => Ok(look),
            _ => Err(tid),
        })
        .collect()
}

/// The threads outside impasse's waits that may act, as a stall report of `world` names them
/// (at most `limit` of them; one look each).
pub(crate) fn bystanders(detector: &Detector, world: WorldId, limit: usize) -> Vec<Bystander> {
    let Some(outside) = outside_tids(detector) else {
        return Vec::new();
    };
    outside
        .into_iter()
        .filter_map(|tid| {
            let look = os::look(tid);
            let blocked = look
                .as_ref()
                .is_some_and(|l| l.doing == Doing::BlockedForever);
            (!blocked).then(|| bystander(detector, world, tid, &look))
        })
        .take(limit)
        .collect()
}

/// A thread that may act, as a stall report names it.
fn bystander(detector: &Detector, world: WorldId, tid: u64, look: &Option<os::Look>) -> Bystander {
    let known = detector
        .threads
        .known()
        .find(|&thread| detector.threads.tid_of(thread) == Some(tid));
    let name = match known {
        Some(thread) => detector.threads.name_of(thread),
        None => look.as_ref().map(|look| look.comm.clone()),
    };
    let started = match (look, detector.threads.opened_at(world)) {
        _ if detector.threads.was_there_before(world, tid) => String::from("before the test"),
        (Some(look), Some(opened)) if look.started >= opened => format!(
            "{:.1} s into the test",
            (look.started - opened) as f64 / os::TICKS_PER_SECOND as f64
        ),
        _ => String::from("during the test"),
    };
    Bystander {
        os_id: tid,
        name,
        known_to_impasse: known.is_some(),
        doing: look
            .as_ref()
            .map_or("gone", |look| look.doing.describe())
            .to_owned(),
        started,
    }
}

/// What `me`'s being stuck depends on.
enum Depends {
    /// `me` may run, whatever the threads outside impasse's waits do.
    MayRun,
    /// `me` cannot run, whatever the threads outside impasse's waits do: these are stuck.
    Deadlocked(HashSet<ThreadKey>),
    /// `me` cannot run if every thread outside impasse's waits is blocked forever (these are
    /// stuck then), and may if one of them acts.
    Outside(HashSet<ThreadKey>),
}

fn depends(detector: &Detector, me: ThreadKey, queued_writers_block: bool) -> Depends {
    let if_outside_is_stuck = stuck(detector, me, queued_writers_block, false);
    if !if_outside_is_stuck.contains(&me) {
        return Depends::MayRun;
    }
    if stuck(detector, me, queued_writers_block, true).contains(&me) {
        Depends::Deadlocked(if_outside_is_stuck)
    } else {
        Depends::Outside(if_outside_is_stuck)
    }
}

/// The least fixed point of the module docs, over every blocked thread, counting every thread
/// that is not blocked in impasse as able to act (`outside_acts`) or as blocked forever: the
/// blocked threads that may not run.
fn stuck(
    detector: &Detector,
    me: ThreadKey,
    queued_writers_block: bool,
    outside_acts: bool,
) -> HashSet<ThreadKey> {
    let graph = &detector.graph;
    let mut ready: Vec<ThreadKey> = Vec::new();
    let mut anyone: Vec<ThreadKey> = Vec::new();
    let mut missing: HashMap<ThreadKey, usize> = HashMap::default();
    let mut dependents: HashMap<ThreadKey, Vec<ThreadKey>> = HashMap::default();
    for (thread, blocked) in graph.registrations() {
        if blocked.may_run_alone() {
            ready.push(thread);
            continue;
        }
        match blocked.wait.wakers {
            Wakers::Anyone => anyone.push(thread),
            Wakers::Thread(joined) if graph.blocked(joined).is_some() => {
                missing.insert(thread, 1);
                dependents.entry(joined).or_default().push(thread);
            }
            Wakers::Thread(_) => {
                if outside_acts {
                    ready.push(thread);
                }
            }
            Wakers::Holders => {
                let mut blockers: Vec<ThreadKey> = graph
                    .blockers(thread, queued_writers_block && thread == me)
                    .into_iter()
                    .map(|(by, _)| by)
                    .collect();
                blockers.sort_unstable();
                blockers.dedup();
                if blockers.is_empty() {
                    ready.push(thread); // stale, or held by a thread not blocked in impasse
                    continue;
                }
                missing.insert(thread, blockers.len());
                for by in blockers {
                    dependents.entry(by).or_default().push(thread);
                }
            }
        }
    }
    let mut may_run: HashSet<ThreadKey> = HashSet::default();
    let mut anyone_free = false;
    if outside_acts {
        anyone_free = true;
        ready.append(&mut anyone);
    }
    while let Some(thread) = ready.pop() {
        if !may_run.insert(thread) {
            continue;
        }
        if !anyone_free {
            // The first thread that may run may wake every other anyone-wait.
            anyone_free = true;
            ready.extend(anyone.iter().copied().filter(|&t| t != thread));
        }
        for &dependent in dependents.get(&thread).into_iter().flatten() {
            if let Some(left) = missing.get_mut(&dependent) {
                *left -= 1;
                if *left == 0 {
                    ready.push(dependent);
                }
            }
        }
    }
    graph
        .registrations()
        .map(|(thread, _)| thread)
        .filter(|thread| !may_run.contains(thread))
        .collect()
}

/// The report of the deadlock of `me`'s world: its stuck threads, `me` first.
fn report(
    detector: &Detector,
    me: ThreadKey,
    stuck: &HashSet<ThreadKey>,
    queued_writers_block: bool,
) -> Report {
    let world = detector
        .graph
        .blocked(me)
        .map_or(WorldId::PROGRAM, |b| b.world);
    let mut deadlocked: Vec<ThreadKey> = detector
        .graph
        .registrations()
        .filter(|&(thread, blocked)| {
            thread != me && blocked.world == world && stuck.contains(&thread)
        })
        .map(|(thread, _)| thread)
        .collect();
    deadlocked.sort();
    deadlocked.insert(0, me);
    detector.graph.report(
        &deadlocked,
        me,
        queued_writers_block,
        Some(detector.threads.world_name(world)),
    )
}
