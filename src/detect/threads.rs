//! The threads impasse knows, the worlds they belong to, and the threads it knows to be inert.
//!
//! A thread becomes known on its first use of the detector and stops being known when it
//! exits. Each known thread belongs to one **world**: the program's (the default), or the
//! world of one `#[impasse::test]`, which the test's thread opens and the threads it spawns
//! through `impasse::thread` inherit. A world says whose finding a report is (a test fails
//! with the reports made in its world), who is ended when a test stalls, and which threads a
//! closed-world report lists. Whether a world's blocked threads can still be woken is a
//! question about the whole process (`closed_world.rs`), asked of every thread: known threads
//! by their registrations, the others through the operating system (`os.rs`).
//!
//! Inert threads are threads impasse does not know but knows to be harmless: its own
//! watchdogs, and libtest's runner (the main thread of a test binary whose tests run on
//! threads named after them), which only waits for tests to end and starts new ones.

use super::os;
use super::registry::ThreadKey;
use crate::report::Report;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// A world's number; `0` is the program's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub(crate) struct WorldId(pub(crate) u64);

impl WorldId {
    pub(crate) const PROGRAM: WorldId = WorldId(0);
}

#[derive(Debug)]
struct Member {
    world: WorldId,
    /// The operating system's id of the thread, where impasse can read it.
    tid: Option<u64>,
    name: Option<String>,
}

impl Member {
    /// The calling thread, as a member of `world`.
    fn current(world: WorldId) -> Member {
        Member {
            world,
            tid: os::current_tid(),
            name: crate::facade::thread::current().name().map(str::to_owned),
        }
    }
}

#[derive(Debug)]
struct World {
    /// What the world is called in reports (the test's name).
    name: String,
    /// The process's threads when the world opened, and when that was (clock ticks since
    /// boot): a stall report says of other threads whether they were there before.
    started_with: BTreeSet<u64>,
    opened_at: Option<u64>,
    /// Reports made by the world's threads, for the test to fail with.
    findings: Vec<Report>,
    /// Set when the test has stalled: the stall report every wait of its threads ends with.
    cancelled: Option<Arc<str>>,
}

/// Known threads and open worlds.
#[derive(Debug, Default)]
pub(crate) struct Threads {
    members: HashMap<ThreadKey, Member>,
    worlds: HashMap<WorldId, World>,
    next_world: u64,
    /// For each world whose blocked threads wait for threads impasse cannot see into, the
    /// one blocked thread that looks again, on a timer and when nudged (`closed_world.rs`).
    pollers: HashMap<WorldId, ThreadKey>,
    /// Operating-system ids of threads impasse does not know but knows to be inert.
    inert: BTreeSet<u64>,
}

impl Threads {
    /// Records a thread's first use of the detector.
    pub(crate) fn enter(&mut self, thread: ThreadKey, world: WorldId) {
        self.members.insert(thread, Member::current(world));
    }

    /// Forgets a thread that exits.
    pub(crate) fn exit(&mut self, thread: ThreadKey) {
        self.members.remove(&thread);
    }

    /// Opens a world named `name` and moves `founder` into it.
    pub(crate) fn open_world(&mut self, name: String, founder: ThreadKey) -> WorldId {
        self.next_world += 1;
        let id = WorldId(self.next_world);
        self.worlds.insert(
            id,
            World {
                name,
                started_with: os::process_tids().unwrap_or_default(),
                opened_at: os::uptime_ticks(),
                findings: Vec::new(),
                cancelled: None,
            },
        );
        self.move_to(founder, id);
        id
    }

    /// Counts the thread `tid` (not known to impasse) as inert.
    pub(crate) fn add_inert(&mut self, tid: u64) {
        self.inert.insert(tid);
    }

    /// Forgets an inert thread that ends.
    pub(crate) fn remove_inert(&mut self, tid: u64) {
        self.inert.remove(&tid);
    }

    /// The operating-system ids of the process's threads that impasse neither knows nor
    /// knows to be inert; `None` where the operating system does not say.
    pub(crate) fn unknown_tids(&self) -> Option<Vec<u64>> {
        let known: BTreeSet<u64> = self.members.values().filter_map(|m| m.tid).collect();
        let tids = os::process_tids()?;
        Some(
            tids.into_iter()
                .filter(|tid| !known.contains(tid) && !self.inert.contains(tid))
                .collect(),
        )
    }

    /// How many threads are known.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// The operating-system id of a known thread, where it is known.
    pub(crate) fn tid_of(&self, thread: ThreadKey) -> Option<u64> {
        self.members.get(&thread).and_then(|m| m.tid)
    }

    /// Every known thread.
    pub(crate) fn known(&self) -> impl Iterator<Item = ThreadKey> + '_ {
        self.members.keys().copied()
    }

    /// Whether thread `tid` was running when `world` opened.
    pub(crate) fn was_there_before(&self, world: WorldId, tid: u64) -> bool {
        self.worlds
            .get(&world)
            .is_some_and(|w| w.started_with.contains(&tid))
    }

    /// When `world` opened, in clock ticks since boot.
    pub(crate) fn opened_at(&self, world: WorldId) -> Option<u64> {
        self.worlds.get(&world).and_then(|w| w.opened_at)
    }

    /// The thread that looks again for `world`, if one does.
    pub(crate) fn poller(&self, world: WorldId) -> Option<ThreadKey> {
        self.pollers.get(&world).copied()
    }

    /// Makes `thread` the one that looks again for `world`, unless another one does; whether
    /// `thread` is it now. (A poller stays one until it leaves its wait: see `clear_poller`.)
    pub(crate) fn claim_poller(&mut self, world: WorldId, thread: ThreadKey) -> bool {
        *self.pollers.entry(world).or_insert(thread) == thread
    }

    /// `thread` no longer looks again for `world` (if it did).
    pub(crate) fn clear_poller(&mut self, world: WorldId, thread: ThreadKey) {
        if self.pollers.get(&world) == Some(&thread) {
            self.pollers.remove(&world);
        }
    }

    /// Every thread that looks again for its world.
    pub(crate) fn pollers(&self) -> impl Iterator<Item = (WorldId, ThreadKey)> + '_ {
        self.pollers.iter().map(|(&world, &thread)| (world, thread))
    }

    /// Ends `world`: from now on every wait of its threads ends with `stall` (a panic).
    pub(crate) fn cancel(&mut self, world: WorldId, stall: Arc<str>) {
        if let Some(world) = self.worlds.get_mut(&world) {
            world.cancelled = Some(stall);
        }
    }

    /// The stall report `world` was ended with, if it was.
    pub(crate) fn cancelled(&self, world: WorldId) -> Option<Arc<str>> {
        self.worlds.get(&world).and_then(|w| w.cancelled.clone())
    }

    /// Closes a world; its remaining members return to the program's world. Returns the
    /// reports its threads made.
    pub(crate) fn close_world(&mut self, id: WorldId) -> Vec<Report> {
        for member in self.members.values_mut() {
            if member.world == id {
                member.world = WorldId::PROGRAM;
            }
        }
        self.pollers.remove(&id);
        self.worlds
            .remove(&id)
            .map(|world| world.findings)
            .unwrap_or_default()
    }

    /// Keeps `report` for the test whose world it was found in (nothing for the program).
    pub(crate) fn note_finding(&mut self, world: WorldId, report: &Report) {
        if let Some(world) = self.worlds.get_mut(&world) {
            world.findings.push(report.clone());
        }
    }

    /// Moves the calling thread, `thread`, into `world`.
    pub(crate) fn move_to(&mut self, thread: ThreadKey, world: WorldId) {
        self.members
            .entry(thread)
            .and_modify(|m| m.world = world)
            .or_insert_with(|| Member::current(world));
    }

    /// The name a member had when it became known.
    pub(crate) fn name_of(&self, thread: ThreadKey) -> Option<String> {
        self.members.get(&thread).and_then(|m| m.name.clone())
    }

    pub(crate) fn world_of(&self, thread: ThreadKey) -> WorldId {
        self.members
            .get(&thread)
            .map_or(WorldId::PROGRAM, |m| m.world)
    }

    /// The known threads of `world`.
    pub(crate) fn members_of(&self, world: WorldId) -> impl Iterator<Item = ThreadKey> + '_ {
        self.members
            .iter()
            .filter(move |(_, m)| m.world == world)
            .map(|(&key, _)| key)
    }

    /// What reports call `world`.
    pub(crate) fn world_name(&self, world: WorldId) -> String {
        match self.worlds.get(&world) {
            Some(w) => format!("test `{}`", w.name),
            None => String::from("program"),
        }
    }
}
