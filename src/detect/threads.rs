//! The threads impasse knows, and the worlds they belong to.
//!
//! A thread becomes known on its first use of the detector and stops being known when it
//! exits. Each known thread belongs to one **world**: the program's (the default), or the
//! world of one `#[impasse::test]`, which the test's thread opens and the threads it spawns
//! through `impasse::thread` inherit.
//!
//! A world is **closed** when no thread outside it can wake its waiters, as far as impasse
//! can tell from the operating system's list of the process's threads (Linux `/proc`):
//!
//! - the program's world is closed when every thread of the process is a known thread;
//! - a test's world is closed when no thread has started since the world opened that is not
//!   one of its members or a member of another test's world (a `std::thread` the test spawned,
//!   or a plain test running beside it, keeps it open).
//!
//! Elsewhere than on Linux no world is ever closed: the closed-world rule then never fires,
//! and only cycles of known wakers are reported.

use super::registry::ThreadKey;
use crate::report::Report;
use std::collections::{BTreeSet, HashMap};

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
    /// The process's threads when the world opened (test worlds; `None` for the program).
    started_with: Option<BTreeSet<u64>>,
    /// Reports made by the world's threads, for the test to fail with.
    findings: Vec<Report>,
}

/// Known threads and open worlds.
#[derive(Debug, Default)]
pub(crate) struct Threads {
    members: HashMap<ThreadKey, Member>,
    worlds: HashMap<WorldId, World>,
    next_world: u64,
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
        let started_with = os::process_tids().unwrap_or_default();
        self.worlds.insert(
            id,
            World {
                name,
                started_with: Some(started_with),
                findings: Vec::new(),
            },
        );
        self.move_to(founder, id);
        id
    }

    /// Closes a world; its remaining members return to the program's world. Returns the
    /// reports its threads made.
    pub(crate) fn close_world(&mut self, id: WorldId) -> Vec<Report> {
        for member in self.members.values_mut() {
            if member.world == id {
                member.world = WorldId::PROGRAM;
            }
        }
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

    /// Whether no thread outside `world` can wake its waiters (see the module docs).
    pub(crate) fn is_closed(&self, world: WorldId) -> bool {
        if world == WorldId::PROGRAM {
            let known = self.members_of(world).count();
            return os::process_thread_count() == Some(known);
        }
        let Some(started_with) = self
            .worlds
            .get(&world)
            .and_then(|w| w.started_with.as_ref())
        else {
            return false;
        };
        let Some(now) = os::process_tids() else {
            return false;
        };
        // Members of this world, and of other tests' worlds (they cannot be threads this test
        // spawned without impasse: those would be unknown or in the program's world).
        let accounted: BTreeSet<u64> = self
            .members
            .values()
            .filter(|m| m.world == world || self.worlds.contains_key(&m.world))
            .filter_map(|m| m.tid)
            .collect();
        now.iter()
            .all(|tid| started_with.contains(tid) || accounted.contains(tid))
    }
}

/// What the operating system says about the process's threads. Nothing under loom: a model's
/// threads are not the process's, so no world is ever closed there.
#[cfg(loom)]
mod os {
    use std::collections::BTreeSet;

    pub(super) fn current_tid() -> Option<u64> {
        None
    }

    pub(super) fn process_tids() -> Option<BTreeSet<u64>> {
        None
    }

    pub(super) fn process_thread_count() -> Option<usize> {
        None
    }
}

/// What the operating system says about the process's threads.
#[cfg(not(loom))]
mod os {
    use std::collections::BTreeSet;

    /// This thread's id, from `/proc/thread-self` (`<pid>/task/<tid>`).
    pub(super) fn current_tid() -> Option<u64> {
        let link = std::fs::read_link("/proc/thread-self").ok()?;
        link.file_name()?.to_str()?.parse().ok()
    }

    /// The ids of every thread of the process.
    pub(super) fn process_tids() -> Option<BTreeSet<u64>> {
        let entries = std::fs::read_dir("/proc/self/task").ok()?;
        entries
            .map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    }

    /// How many threads the process has (`num_threads` in `/proc/self/stat`).
    pub(super) fn process_thread_count() -> Option<usize> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name (field 2) is in parentheses and may hold anything; field 20,
        // num_threads, is the 18th field after the closing parenthesis.
        let after_name = &stat[stat.rfind(')')? + 1..];
        after_name.split_whitespace().nth(17)?.parse().ok()
    }

    #[cfg(all(test, target_os = "linux"))]
    mod tests {
        #[test]
        fn the_process_threads_are_visible() {
            let tid = super::current_tid().expect("a thread id");
            let tids = super::process_tids().expect("the task list");
            assert!(tids.contains(&tid));
            let count = super::process_thread_count().expect("the thread count");
            assert!(count >= 1);
        }
    }
}
