//! Threads' relations, as the rest of the crate sees them: a spawned thread joins its parent's
//! world and starts from its parent's clock, a joiner takes in the joined thread's clock, and a
//! test opens a world of its own and collects what was found in it (see `threads.rs` and
//! `vector_clock.rs`).

use crate::report::Report;

pub(crate) use imp::{finishing, joined, spawning, stall_report, started, Ending, WorldToken};

/// Opens a world named `name` with the calling thread as its first member. Its findings are
/// returned by [`close_world`].
pub(crate) fn open_world(name: &str) -> WorldToken {
    imp::open_world(name)
}

/// Closes `world`: its members return to the program's world. Returns the reports made in it.
pub(crate) fn close_world(world: WorldToken) -> Vec<Report> {
    imp::close_world(world)
}

#[cfg(feature = "detect")]
mod imp {
    use crate::detect::detector;
    use crate::detect::this_thread;
    use crate::detect::threads::WorldId;
    use crate::detect::vector_clock::VectorClock;
    use crate::report::{self, Report, ReportKind, ThreadRef};
    use std::sync::Arc;

    /// A test's world.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct WorldToken(WorldId);

    /// What a spawner hands the thread it spawns: its world and its clock.
    #[derive(Debug)]
    pub(crate) struct Lineage {
        world: WorldId,
        clock: Option<Arc<VectorClock>>,
    }

    /// What a finished thread hands its joiner: its clock.
    #[derive(Debug)]
    pub(crate) struct Ending(Option<Arc<VectorClock>>);

    /// In the spawning thread, just before it spawns.
    pub(crate) fn spawning() -> Lineage {
        this_thread::with(|t| Lineage {
            world: t.world(),
            clock: Some(t.fork()),
        })
        .unwrap_or(Lineage {
            world: WorldId::PROGRAM,
            clock: None,
        })
    }

    /// In the spawned thread, before it runs anything else.
    pub(crate) fn started(lineage: Lineage) {
        this_thread::with(|t| {
            t.join_world(lineage.world);
            if let Some(clock) = &lineage.clock {
                t.merge_clock(clock);
            }
        });
    }

    /// In the spawned thread, once its work is done.
    pub(crate) fn finishing() -> Ending {
        Ending(this_thread::with(|t| t.stamp().clock))
    }

    /// In the joining thread, once the join has returned.
    pub(crate) fn joined(ending: Ending) {
        if let Some(clock) = &ending.0 {
            this_thread::with(|t| t.merge_clock(clock));
        }
    }

    pub(super) fn open_world(name: &str) -> WorldToken {
        let Some(key) = this_thread::key() else {
            return WorldToken(WorldId::PROGRAM);
        };
        let id = detector::lock().threads.open_world(name.to_owned(), key);
        this_thread::with(|t| t.join_world(id));
        WorldToken(id)
    }

    pub(super) fn close_world(world: WorldToken) -> Vec<Report> {
        if world.0 == WorldId::PROGRAM {
            return Vec::new();
        }
        let findings = detector::lock().threads.close_world(world.0);
        this_thread::with(|t| t.join_world(WorldId::PROGRAM));
        findings
    }

    /// Every member of `world` and what it waits for: the dump a stalled test fails with.
    pub(crate) fn stall_report(world: WorldToken, reporter: ThreadRef) -> Report {
        let detector = detector::lock();
        let mut members: Vec<_> = detector.threads.members_of(world.0).collect();
        members.sort();
        let threads = members
            .into_iter()
            .map(|member| {
                detector
                    .graph
                    .thread_state(member)
                    .unwrap_or_else(|| report::ThreadState {
                        thread: ThreadRef::new(member.get(), detector.threads.name_of(member)),
                        waits_for: None,
                        holds: Vec::new(),
                    })
            })
            .collect();
        Report {
            kind: ReportKind::Stall,
            threads,
            detected_by: reporter,
            world: Some(detector.threads.world_name(world.0)),
            inversion: None,
        }
    }
}

#[cfg(not(feature = "detect"))]
mod imp {
    use crate::report::{Report, ReportKind, ThreadRef};

    /// Nothing: with `detect` off there are no worlds.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct WorldToken;

    /// Nothing: with `detect` off threads have no lineage.
    #[derive(Debug)]
    pub(crate) struct Lineage;

    /// Nothing: with `detect` off threads have no clock.
    #[derive(Debug)]
    pub(crate) struct Ending;

    #[inline(always)]
    pub(crate) fn spawning() -> Lineage {
        Lineage
    }

    #[inline(always)]
    pub(crate) fn started(_lineage: Lineage) {}

    #[inline(always)]
    pub(crate) fn finishing() -> Ending {
        Ending
    }

    #[inline(always)]
    pub(crate) fn joined(_ending: Ending) {}

    pub(super) fn open_world(_name: &str) -> WorldToken {
        WorldToken
    }

    pub(super) fn close_world(_world: WorldToken) -> Vec<Report> {
        Vec::new()
    }

    /// With `detect` off nothing is known about the threads: an empty stall report.
    pub(crate) fn stall_report(_world: WorldToken, reporter: ThreadRef) -> Report {
        Report {
            kind: ReportKind::Stall,
            threads: Vec::new(),
            detected_by: reporter,
            world: None,
            inversion: None,
        }
    }
}
