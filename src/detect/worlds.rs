//! Threads' relations, as the rest of the crate sees them: a spawned thread joins its parent's
//! world and starts from its parent's clock, a joiner takes in the joined thread's clock, a
//! message, a task or a once-cell carries its giver's past to its taker (`release`,
//! `acquire`), and a test opens a world of its own and collects what was found in it (see
//! `threads.rs`, `predict/vector_clock.rs` and `thread_clock.rs`).

use crate::report::Report;

pub(crate) use imp::{
    acquire, end_world, finishing, inert, joined, release, spawning, started, still_running,
    Carried, Ending, Inert, WorldToken,
};

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
    use crate::detect::closed_world;
    use crate::detect::detector::{self, Detector};
    use crate::detect::os;
    use crate::detect::registry::ThreadKey;
    use crate::detect::this_thread;
    use crate::detect::threads::WorldId;
    use crate::predict::VectorClock;
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

    /// What a finished thread hands its joiner: itself, its clock, and whether a stamp of it
    /// is in a lock-order witness.
    #[derive(Debug)]
    pub(crate) struct Ending(Option<(ThreadKey, Arc<VectorClock>, bool)>);

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
        Ending(this_thread::with(|t| {
            let stamp = t.stamp();
            (stamp.thread, stamp.clock, t.witnessed())
        }))
    }

    /// What happened before a release, as a message, a task or a once-cell carries it to the
    /// thread that acquires it (`thread_clock.rs`).
    #[derive(Debug, Default)]
    pub(crate) struct Carried(Option<Arc<VectorClock>>);

    impl Carried {
        /// Nothing carried.
        pub(crate) const NONE: Carried = Carried(None);
    }

    /// The calling thread's past, to travel with what it hands over now.
    #[inline]
    pub(crate) fn release() -> Carried {
        Carried(this_thread::with(|t| t.release_clock()).flatten())
    }

    /// Takes in, on the calling thread, the past that `carried` brought.
    #[inline]
    pub(crate) fn acquire(carried: &Carried) {
        if let Some(clock) = &carried.0 {
            this_thread::with(|t| t.acquire_clock(clock));
        }
    }

    /// In the joining thread, once the join has returned: takes in the joined thread's clock,
    /// forgetting the joined thread itself, whose end is recorded instead if a witness needs it.
    pub(crate) fn joined(ending: Ending) {
        let Some((thread, clock, witnessed)) = ending.0 else {
            return;
        };
        let merged = this_thread::with(|t| (t.key(), t.merge_clock_except(&clock, Some(thread))));
        if let (Some((joiner, epoch)), true) = (merged, witnessed) {
            crate::detect::lock_order::absorbed(thread, joiner, epoch);
            #[cfg(not(loom))]
            if crate::trace::record::on() {
                crate::trace::record::absorbed(thread, epoch);
            }
        }
    }

    pub(super) fn open_world(name: &str) -> WorldToken {
        let Some(key) = this_thread::key() else {
            return WorldToken(WorldId::PROGRAM);
        };
        let mut detector = detector::lock();
        if let Some(runner) = libtest_runner(name) {
            detector.threads.add_inert(runner);
        }
        let id = detector.threads.open_world(name.to_owned(), key);
        drop(detector);
        this_thread::with(|t| t.join_world(id));
        WorldToken(id)
    }

    /// libtest (and nextest, which runs libtest binaries) runs each test on a thread of its own,
    /// named after the test, and waits in its main thread for the tests to end (then starts new
    /// ones): that thread never touches a test's primitives. So when a test world opens on a
    /// named thread that is not the main thread, the main thread is taken to be the harness's
    /// runner; its id, to count as inert. (A harness whose main thread does the test's work
    /// runs its tests on the main thread, or on unnamed threads: then nothing is assumed.)
    fn libtest_runner(_name: &str) -> Option<u64> {
        crate::facade::thread::current().name()?;
        let main = os::process_id()?;
        (os::current_tid()? != main).then_some(main)
    }

    pub(super) fn close_world(world: WorldToken) -> Vec<Report> {
        if world.0 == WorldId::PROGRAM {
            return Vec::new();
        }
        let findings = detector::lock().threads.close_world(world.0);
        this_thread::with(|t| t.join_world(WorldId::PROGRAM));
        findings
    }

    /// A thread of impasse's own that never touches the program's primitives (a watchdog),
    /// counted as inert while this lives.
    #[derive(Debug)]
    pub(crate) struct Inert(Option<u64>);

    /// Counts the calling thread, which impasse does not otherwise know, as inert.
    pub(crate) fn inert() -> Inert {
        let tid = os::current_tid();
        if let Some(tid) = tid {
            detector::lock().threads.add_inert(tid);
        }
        Inert(tid)
    }

    impl Drop for Inert {
        fn drop(&mut self) {
            if let Some(tid) = self.0 {
                detector::lock().threads.remove_inert(tid);
            }
        }
    }

    /// How many of a stalled test's bystanders a report names.
    const BYSTANDERS: usize = 8;

    /// Ends the stalled test of `world`: builds its stall report (every member's wait, and the
    /// threads outside impasse's waits that kept it from being called a deadlock), makes it a
    /// finding of the test, and ends every cooperative wait of its threads, now and from now
    /// on, with a panic whose message is the report followed by `why` (`wait::stall`). Returns
    /// that message.
    pub(crate) fn end_world(world: WorldToken, reporter: ThreadRef, why: &str) -> String {
        let mut detector = detector::lock();
        let report = stall_report(&detector, world.0, reporter);
        detector.threads.note_finding(world.0, &report);
        let message = format!("{report}\n{why}");
        detector.threads.cancel(world.0, message.as_str().into());
        let members: Vec<_> = detector
            .graph
            .registrations()
            .filter(|(_, blocked)| blocked.world == world.0)
            .map(|(thread, _)| thread)
            .collect();
        for member in members {
            detector.graph.nudge(member);
        }
        message
    }

    /// The members of `world` that are still running or blocked, and where: what a test that
    /// could not be ended says before the process ends.
    pub(crate) fn still_running(world: WorldToken) -> String {
        let detector = detector::lock();
        let mut lines = Vec::new();
        for member in detector.threads.members_of(world.0) {
            let name = detector.threads.name_of(member);
            let name = name.as_deref().unwrap_or("<unnamed>");
            let doing = match detector.graph.thread_state(member) {
                Some(state) => match state.waits_for {
                    Some(wait) => format!(
                        "in impasse, waiting at {} for {}",
                        wait.at,
                        wait.resource.display_name()
                    ),
                    None => String::from("in impasse"),
                },
                None => detector
                    .threads
                    .tid_of(member)
                    .and_then(os::look)
                    .map_or("outside impasse", |look| look.doing.describe())
                    .to_owned(),
            };
            lines.push(format!("  thread {name:?} (T{}): {doing}", member.get()));
        }
        lines.sort();
        lines.join("\n")
    }

    /// Every member of `world` and what it waits for: the dump a stalled test fails with.
    fn stall_report(detector: &Detector, world: WorldId, reporter: ThreadRef) -> Report {
        let mut members: Vec<_> = detector.threads.members_of(world).collect();
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
            world: Some(detector.threads.world_name(world)),
            inversion: None,
            bystanders: closed_world::bystanders(detector, world, BYSTANDERS),
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

    /// Nothing: with `detect` off no past travels.
    #[derive(Debug, Default)]
    pub(crate) struct Carried;

    impl Carried {
        pub(crate) const NONE: Carried = Carried;
    }

    #[inline(always)]
    pub(crate) fn release() -> Carried {
        Carried
    }

    #[inline(always)]
    pub(crate) fn acquire(_carried: &Carried) {}

    pub(super) fn open_world(_name: &str) -> WorldToken {
        WorldToken
    }

    pub(super) fn close_world(_world: WorldToken) -> Vec<Report> {
        Vec::new()
    }

    /// Nothing: with `detect` off no thread is known, inert or not.
    #[derive(Debug)]
    pub(crate) struct Inert;

    pub(crate) fn inert() -> Inert {
        Inert
    }

    /// With `detect` off nothing is known about the threads, and no wait can be ended: an
    /// empty stall report.
    pub(crate) fn end_world(_world: WorldToken, reporter: ThreadRef, why: &str) -> String {
        let report = Report {
            kind: ReportKind::Stall,
            threads: Vec::new(),
            detected_by: reporter,
            world: None,
            inversion: None,
            bystanders: Vec::new(),
        };
        format!("{report}\n{why}")
    }

    pub(crate) fn still_running(_world: WorldToken) -> String {
        String::from("  (built without the `detect` feature: impasse knows no thread)")
    }
}
