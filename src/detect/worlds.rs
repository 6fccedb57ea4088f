//! Worlds, as the rest of the crate sees them: a spawned thread joins its parent's world, and
//! a test opens a world of its own and collects what was found in it (see `threads.rs`).

use crate::report::Report;

pub(crate) use imp::{current_world, join_world, stall_report, WorldToken};

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
    use crate::report::{self, Report, ReportKind, ThreadRef};

    /// A world, as a spawner hands it to the thread it spawns.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct WorldToken(WorldId);

    /// The calling thread's world.
    pub(crate) fn current_world() -> WorldToken {
        WorldToken(this_thread::with(|t| t.world()).unwrap_or(WorldId::PROGRAM))
    }

    /// Makes the calling thread (typically one just spawned) a member of `world`.
    pub(crate) fn join_world(world: WorldToken) {
        this_thread::with(|t| t.join_world(world.0));
    }

    pub(super) fn open_world(name: &str) -> WorldToken {
        let Some(key) = this_thread::with(|t| t.key()) else {
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
        }
    }
}

#[cfg(not(feature = "detect"))]
mod imp {
    use crate::report::{Report, ReportKind, ThreadRef};

    /// Nothing: with `detect` off there are no worlds.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct WorldToken;

    #[inline(always)]
    pub(crate) fn current_world() -> WorldToken {
        WorldToken
    }

    #[inline(always)]
    pub(crate) fn join_world(_world: WorldToken) {}

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
        }
    }
}
