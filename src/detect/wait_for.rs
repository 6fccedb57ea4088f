//! The resource-allocation graph of the threads that are blocked right now.
//!
//! Nodes are threads and resources; a `Holds` edge runs from a resource to a thread that
//! holds it, a `Waits` edge from a blocked thread to the resource it waits for. Only blocked
//! threads are in the graph, each with the holds it published when it blocked, so every edge
//! is true for as long as it is here (a blocked thread releases nothing). Resources leave with
//! their last edge. The cycle search walks the derived "is blocked by" relation between
//! threads, which depends on the access each side has, through petgraph's depth-first search
//! on the [`BlockedBy`] view. The correctness argument is in `src/detect/README.md`.
//!
//! Waits whose wakers are not holders are in the graph too: a join waits for one known
//! thread (an edge of the cycle search like a hold), while a condition variable, a channel,
//! a barrier or a semaphore can be woken by any thread ([`Wakers::Anyone`]); those are judged
//! by the closed-world rule (`closed_world.rs`). A waker that makes such a wait satisfiable
//! marks the waiter `granted` before it wakes it, so a stale registration never counts as
//! asleep.

use super::parker::{Parker, Woken};
use super::registry::{self, ResourceId, ThreadKey};
use super::threads::WorldId;
use crate::model::{conflicts, Held, ResourceRef};
use crate::report::{self, Access, BlockReason, Blocker, Report, ReportKind, ThreadRef};
use petgraph::graphmap::DiGraphMap;
use petgraph::visit::{depth_first_search, Control, DfsEvent, GraphBase, IntoNeighbors, Visitable};
use petgraph::Direction::{Incoming, Outgoing};
use std::collections::{HashMap, HashSet};
use std::panic::Location;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Node {
    Thread(ThreadKey),
    Resource(ResourceId),
}

#[derive(Debug, Clone)]
enum Edge {
    /// Resource → thread: the thread holds the resource with each of these accesses.
    Holds(Vec<Access>),
    /// Thread → resource: the thread waits for the resource with this access.
    Waits { access: Access, timed: bool },
}

/// Who can grant a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wakers {
    /// The threads holding the resource in a conflicting way (locks).
    Holders,
    /// One thread, by finishing (a join).
    Thread(ThreadKey),
    /// Any thread that can still run (condition variables, channels, barriers, semaphores).
    Anyone,
}

/// A request a thread is blocked in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WaitRequest {
    pub(crate) resource: ResourceRef,
    pub(crate) access: Access,
    pub(crate) at: &'static Location<'static>,
    pub(crate) wakers: Wakers,
    /// A timed wait gives up by itself, so it is never part of a deadlock.
    pub(crate) timed: bool,
}

/// How a blocked thread sleeps, as the detector can reach it.
#[derive(Debug, Clone)]
pub(crate) enum Sleeper {
    /// On a lock (its raw lock's queue): only the lock's release wakes it.
    Lock,
    /// In a cooperative wait, on its parker: the detector can wake it. `judges`: whether it
    /// looks for deadlocks itself (an idle pool worker does not).
    Cooperative { parker: Arc<Parker>, judges: bool },
}

#[derive(Debug)]
pub(crate) struct Blocked {
    name: Option<String>,
    pub(crate) world: WorldId,
    pub(crate) wait: WaitRequest,
    holds: Vec<Held>,
    /// A waker has made the wait satisfiable; the thread is about to run.
    pub(crate) granted: bool,
    pub(crate) sleeper: Sleeper,
}

impl Blocked {
    /// Whether the thread may run again without anyone's help: granted, or timed.
    pub(crate) fn may_run_alone(&self) -> bool {
        self.granted || self.wait.timed
    }

    /// Whether the thread sleeps where the detector can wake it and judges for itself: the
    /// kind of thread that can look again for its world (a poller, a stalled test's victim).
    pub(crate) fn judges(&self) -> bool {
        matches!(self.sleeper, Sleeper::Cooperative { judges: true, .. })
    }

    fn unpark(&self, why: Woken) {
        if let Sleeper::Cooperative { parker, .. } = &self.sleeper {
            parker.unpark(why);
        }
    }
}

/// The graph, and for each blocked thread the details a report needs.
#[derive(Debug, Default)]
pub(crate) struct WaitFor {
    graph: DiGraphMap<Node, Edge>,
    blocked: HashMap<ThreadKey, Blocked>,
    resources: HashMap<ResourceId, ResourceRef>,
    /// How many registrations may run alone (granted or timed): kept so that "will some
    /// blocked thread run again by itself?" costs nothing.
    runnable: usize,
}

impl WaitFor {
    /// Publishes `thread` as blocked in `wait`, holding `holds`, sleeping as `sleeper` says.
    pub(crate) fn register(
        &mut self,
        thread: ThreadKey,
        name: Option<String>,
        world: WorldId,
        wait: WaitRequest,
        holds: Vec<Held>,
        sleeper: Sleeper,
    ) {
        let me = Node::Thread(thread);
        self.graph.add_node(me);
        for held in &holds {
            let resource = self.add_resource(held.resource);
            match self.graph.edge_weight_mut(resource, me) {
                Some(Edge::Holds(accesses)) => accesses.push(held.access),
                _ => {
                    self.graph
                        .add_edge(resource, me, Edge::Holds(vec![held.access]));
                }
            }
        }
        let resource = self.add_resource(wait.resource);
        self.graph.add_edge(
            me,
            resource,
            Edge::Waits {
                access: wait.access,
                timed: wait.timed,
            },
        );
        if let Sleeper::Cooperative { parker, .. } = &sleeper {
            parker.clear(); // wake-ups meant for an earlier wait
        }
        let blocked = Blocked {
            name,
            world,
            wait,
            holds,
            granted: false,
            sleeper,
        };
        self.runnable += usize::from(blocked.may_run_alone());
        if let Some(old) = self.blocked.insert(thread, blocked) {
            self.runnable -= usize::from(old.may_run_alone());
        }
    }

    /// Every blocked thread.
    pub(crate) fn registrations(&self) -> impl Iterator<Item = (ThreadKey, &Blocked)> + '_ {
        self.blocked
            .iter()
            .map(|(&thread, blocked)| (thread, blocked))
    }

    /// How many threads are blocked.
    pub(crate) fn len(&self) -> usize {
        self.blocked.len()
    }

    /// How many blocked threads may run again by themselves (granted, or timed).
    pub(crate) fn runnable(&self) -> usize {
        self.runnable
    }

    /// Wakes `thread` where it sleeps, if the detector can, to look again (see `parker.rs`).
    pub(crate) fn nudge(&self, thread: ThreadKey) {
        if let Some(blocked) = self.blocked.get(&thread) {
            blocked.unpark(Woken::NUDGED);
        }
    }

    /// The registration of `thread`, if it is blocked.
    pub(crate) fn blocked(&self, thread: ThreadKey) -> Option<&Blocked> {
        self.blocked.get(&thread)
    }

    /// Marks `thread`'s wait satisfiable: it will run without anyone else's help. A thread in
    /// a cooperative wait is woken.
    pub(crate) fn grant(&mut self, thread: ThreadKey) {
        if let Some(blocked) = self.blocked.get_mut(&thread) {
            Self::grant_one(&mut self.runnable, blocked);
        }
    }

    /// Marks every wait for `resource` satisfiable, and wakes the cooperative ones.
    pub(crate) fn grant_all(&mut self, resource: ResourceId) {
        for blocked in self.blocked.values_mut() {
            if blocked.wait.resource.id == resource {
                Self::grant_one(&mut self.runnable, blocked);
            }
        }
    }

    fn grant_one(runnable: &mut usize, blocked: &mut Blocked) {
        if !blocked.may_run_alone() {
            *runnable += 1;
        }
        blocked.granted = true;
        blocked.unpark(Woken::GRANTED);
    }

    /// Every wait for `resource` that anyone could end is now ended by `thread` alone (a join
    /// of a thread that has started, a wait for a task that a thread has begun to run): it is
    /// named in place, without waking the waiter.
    pub(crate) fn name_waker(&mut self, resource: ResourceId, thread: ThreadKey) {
        for blocked in self.blocked.values_mut() {
            if blocked.wait.resource.id == resource && blocked.wait.wakers == Wakers::Anyone {
                blocked.wait.wakers = Wakers::Thread(thread);
            }
        }
    }

    /// A granted waiter found its wait unsatisfiable after all (another thread was first):
    /// it is blocked again.
    pub(crate) fn rearm(&mut self, thread: ThreadKey) {
        if let Some(blocked) = self.blocked.get_mut(&thread) {
            if blocked.granted && !blocked.wait.timed {
                self.runnable -= 1;
            }
            blocked.granted = false;
        }
    }

    /// Removes `thread` and every edge it published; resources left without edges go too.
    /// Returns the registration, if there was one.
    pub(crate) fn deregister(&mut self, thread: ThreadKey) -> Option<Blocked> {
        let blocked = self.blocked.remove(&thread)?;
        self.runnable -= usize::from(blocked.may_run_alone());
        self.graph.remove_node(Node::Thread(thread));
        let touched = blocked
            .holds
            .iter()
            .map(|h| h.resource.id)
            .chain([blocked.wait.resource.id]);
        for id in touched.collect::<Vec<_>>() {
            let node = Node::Resource(id);
            if self.graph.contains_node(node)
                && self
                    .graph
                    .neighbors_directed(node, Outgoing)
                    .next()
                    .is_none()
                && self
                    .graph
                    .neighbors_directed(node, Incoming)
                    .next()
                    .is_none()
            {
                self.graph.remove_node(node);
                self.resources.remove(&id);
            }
        }
        Some(blocked)
    }

    fn add_resource(&mut self, resource: ResourceRef) -> Node {
        self.resources.entry(resource.id).or_insert(resource);
        self.graph.add_node(Node::Resource(resource.id))
    }

    /// Searches for a cycle of "is blocked by" through `thread` and, when there is one,
    /// reports it. `queued_writers_block` says whether `thread`'s own read request is held
    /// up by a waiting writer (see [`BlockedBy`]); other threads' requests never use that
    /// rule, because their registration may be stale.
    pub(crate) fn deadlock_through(
        &self,
        thread: ThreadKey,
        queued_writers_block: bool,
    ) -> Option<Report> {
        let view = BlockedBy {
            graph: self,
            checker: thread,
            queued_writers_block,
        };
        let mut parent = HashMap::new();
        let closing = depth_first_search(&view, Some(thread), |event| match event {
            DfsEvent::TreeEdge(from, to) => {
                parent.insert(to, from);
                Control::Continue
            }
            DfsEvent::BackEdge(from, to) if to == thread => Control::Break(from),
            _ => Control::Continue,
        })
        .break_value()?;
        let mut cycle = vec![closing];
        while let Some(&previous) = parent.get(cycle.last().expect("cycle is never empty")) {
            cycle.push(previous);
        }
        cycle.reverse(); // thread, ..., closing
        Some(self.report(&cycle, thread, queued_writers_block, None))
    }

    /// The blocked threads that keep `thread`'s request from being granted, and why. Empty
    /// for a wait that any thread may grant ([`Wakers::Anyone`]): that is the closed-world
    /// rule's to judge.
    pub(crate) fn blockers(
        &self,
        thread: ThreadKey,
        queued_writers_block: bool,
    ) -> Vec<(ThreadKey, Reason)> {
        let Some(blocked) = self.blocked.get(&thread) else {
            return Vec::new();
        };
        let wait = blocked.wait;
        if blocked.may_run_alone() {
            return Vec::new();
        }
        match wait.wakers {
            Wakers::Holders => {}
            Wakers::Thread(joined) if self.blocked.contains_key(&joined) => {
                return vec![(joined, Reason::Joining)];
            }
            Wakers::Thread(_) | Wakers::Anyone => return Vec::new(),
        }
        let resource = Node::Resource(wait.resource.id);
        let mut found = Vec::new();
        for (_, holder, edge) in self.graph.edges_directed(resource, Outgoing) {
            let Node::Thread(holder) = holder else {
                continue;
            };
            let Edge::Holds(accesses) = edge else {
                continue;
            };
            if let Some(&held) = accesses.iter().find(|&&held| conflicts(wait.access, held)) {
                found.push((holder, Reason::Holds(held)));
            }
        }
        if queued_writers_block && matches!(wait.access, Access::Shared | Access::Upgradable) {
            // Timed writers never hold the writer bit while they wait (`sync/raw_rwlock.rs`):
            // the writer that holds it is one of the untimed ones.
            for (waiter, _, edge) in self.graph.edges_directed(resource, Incoming) {
                let Node::Thread(waiter) = waiter else {
                    continue;
                };
                if let Edge::Waits {
                    access: Access::Exclusive | Access::Upgrade,
                    timed: false,
                } = edge
                {
                    if waiter != thread {
                        found.push((waiter, Reason::QueuedWriter));
                    }
                }
            }
        }
        found
    }

    /// A deadlock report on `threads`. For a cycle (`world` is `None`) each thread is shown
    /// blocked by the next; for the closed-world rule (`world` names it) by every blocker
    /// among `threads`.
    pub(crate) fn report(
        &self,
        threads: &[ThreadKey],
        detected_by: ThreadKey,
        queued_writers_block: bool,
        world: Option<String>,
    ) -> Report {
        let states = threads
            .iter()
            .enumerate()
            .map(|(i, &thread)| {
                let next = threads[(i + 1) % threads.len()];
                let blocked = &self.blocked[&thread];
                let rule = queued_writers_block && thread == detected_by;
                let blocked_by = self
                    .blockers(thread, rule)
                    .into_iter()
                    .filter(|(by, _)| match world {
                        None => *by == next,
                        Some(_) => threads.contains(by),
                    })
                    .map(|(by, reason)| self.blocker(by, reason, blocked.wait.resource.id))
                    .collect();
                self.state_of(blocked, thread, blocked_by)
            })
            .collect();
        Report {
            kind: ReportKind::Deadlock,
            threads: states,
            detected_by: self.thread_ref(detected_by),
            world,
            inversion: None,
            bystanders: Vec::new(),
        }
    }

    /// What a blocked thread is doing, as a report shows it.
    fn state_of(
        &self,
        blocked: &Blocked,
        thread: ThreadKey,
        blocked_by: Vec<Blocker>,
    ) -> report::ThreadState {
        report::ThreadState {
            thread: self.thread_ref(thread),
            waits_for: Some(report::Wait {
                resource: resource(blocked.wait.resource),
                access: blocked.wait.access,
                at: blocked.wait.at.into(),
                blocked_by,
                any_thread_may_wake: blocked.wait.wakers == Wakers::Anyone,
                granted: blocked.granted,
            }),
            holds: blocked
                .holds
                .iter()
                .map(|h| report::Hold {
                    resource: resource(h.resource),
                    access: h.access,
                    at: h.at.into(),
                })
                .collect(),
        }
    }

    /// What `thread` is blocked in and by whom, if it is blocked (for a stall report).
    pub(crate) fn thread_state(&self, thread: ThreadKey) -> Option<report::ThreadState> {
        let blocked = self.blocked.get(&thread)?;
        let blocked_by = self
            .blockers(thread, false)
            .into_iter()
            .map(|(by, reason)| self.blocker(by, reason, blocked.wait.resource.id))
            .collect();
        Some(self.state_of(blocked, thread, blocked_by))
    }

    fn blocker(&self, by: ThreadKey, reason: Reason, id: ResourceId) -> Blocker {
        let blocked = &self.blocked[&by];
        let reason = match reason {
            Reason::Holds(access) => BlockReason::Holds {
                access,
                at: blocked
                    .holds
                    .iter()
                    .rev()
                    .find(|h| h.resource.id == id && h.access == access)
                    .map_or_else(|| blocked.wait.at.into(), |h| h.at.into()),
            },
            Reason::QueuedWriter => BlockReason::QueuedWriter {
                at: blocked.wait.at.into(),
            },
            Reason::Joining => BlockReason::Joining,
        };
        Blocker {
            thread: self.thread_ref(by),
            reason,
        }
    }

    pub(crate) fn thread_ref(&self, thread: ThreadKey) -> ThreadRef {
        let name = self.blocked.get(&thread).and_then(|b| b.name.clone());
        ThreadRef::new(thread.get(), name)
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.graph.node_count() == 0 && self.blocked.is_empty() && self.resources.is_empty()
    }
}

fn resource(r: ResourceRef) -> report::Resource {
    report::Resource {
        id: r.id.get(),
        kind: r.kind,
        name: registry::name_of(r.id),
        created_at: r.created_at.into(),
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Reason {
    Holds(Access),
    QueuedWriter,
    Joining,
}

/// The "is blocked by" relation between blocked threads, as a graph petgraph can walk.
///
/// `t → u` when `t`'s request conflicts with a hold `u` published; and, for the checking
/// thread only, when `t` reads an RwLock whose writer bit is held by a queued (not owning)
/// writer, `t → w` for each untimed queued writer `w` (every such writer waits for the same
/// readers as the one holding the bit, so a cycle through any of them is a cycle through it).
#[derive(Clone, Copy)]
struct BlockedBy<'g> {
    graph: &'g WaitFor,
    checker: ThreadKey,
    queued_writers_block: bool,
}

impl GraphBase for BlockedBy<'_> {
    type NodeId = ThreadKey;
    type EdgeId = (ThreadKey, ThreadKey);
}

impl Visitable for BlockedBy<'_> {
    type Map = HashSet<ThreadKey>;

    fn visit_map(&self) -> HashSet<ThreadKey> {
        HashSet::with_capacity(self.graph.blocked.len())
    }

    fn reset_map(&self, map: &mut HashSet<ThreadKey>) {
        map.clear();
    }
}

impl IntoNeighbors for &BlockedBy<'_> {
    type Neighbors = std::vec::IntoIter<ThreadKey>;

    fn neighbors(self, thread: ThreadKey) -> Self::Neighbors {
        let rule = self.queued_writers_block && thread == self.checker;
        let mut next: Vec<ThreadKey> = self
            .graph
            .blockers(thread, rule)
            .into_iter()
            .map(|(by, _)| by)
            .collect();
        next.dedup();
        next.into_iter()
    }
}

#[cfg(test)]
mod tests;
