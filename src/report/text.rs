//! The text form of a report: what a person reads in a panic message or on stderr.
//!
//! Short on purpose: the headline, then per thread one line for its wait, one for where it
//! waits, one per blocker, one per held resource; then the cycle in one line.

use super::{
    Access, BlockReason, Inversion, OrderEdge, Report, ReportKind, Resource, ResourceKind,
    ThreadRef, ThreadState, Wait,
};
use std::fmt;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.kind.headline())?;
        if let Some(inversion) = &self.inversion {
            return write_inversion(f, inversion, &self.detected_by);
        }
        match (self.kind, &self.world, self.threads.len()) {
            (ReportKind::Stall, world, _) => writeln!(
                f,
                "the {} made no progress; every thread's state follows",
                world.as_deref().unwrap_or("program")
            )?,
            (_, Some(world), 1) => writeln!(
                f,
                "the only thread of the {world} waits, and no other thread is left to wake it"
            )?,
            (_, Some(world), n) => writeln!(
                f,
                "{n} threads wait, and none can wake another: every thread of the {world} is blocked"
            )?,
            (_, None, 1) if waits_for_itself(&self.threads[0]) => {
                writeln!(f, "a thread waits for itself")?
            }
            (_, None, 1) => writeln!(f, "a thread waits for a resource it holds itself")?,
            (_, None, n) => writeln!(f, "{n} threads wait for each other in a cycle")?,
        }
        for state in &self.threads {
            write_thread(f, state, self.kind == ReportKind::Stall)?;
        }
        match (self.kind, &self.world) {
            (ReportKind::Stall, _) => {
                write_bystanders(f, &self.bystanders)?;
                write!(f, "  reported by {}", self.detected_by)
            }
            (_, Some(_)) => write!(
                f,
                "  detected by {}, one of them: no thread of the process is left that could wake them",
                self.detected_by
            ),
            (_, None) => {
                write_cycle(f, &self.threads)?;
                write!(
                    f,
                    "  detected by {}, whose wait closed the cycle",
                    self.detected_by
                )
            }
        }
    }
}

/// Why a stall could not be called a deadlock: the threads that could still act, and what to
/// do about them.
fn write_bystanders(f: &mut fmt::Formatter<'_>, bystanders: &[super::Bystander]) -> fmt::Result {
    if bystanders.is_empty() {
        return Ok(());
    }
    writeln!(
        f,
        "  not a certain deadlock: {} thread(s) outside impasse's waits could still act:",
        bystanders.len()
    )?;
    for b in bystanders {
        let name = b.name.as_deref().unwrap_or("<unnamed>");
        let who = if b.known_to_impasse {
            "known to impasse"
        } else {
            "not known to impasse"
        };
        writeln!(
            f,
            "    thread {:?} (tid {}, {who}), started {}: {}",
            name, b.os_id, b.started, b.doing
        )?;
    }
    writeln!(
        f,
        "  to let impasse judge such waits, spawn those threads with `impasse::thread` (or keep \
         them out of the test), or run each test in a process of its own (`cargo nextest run`)"
    )
}

/// A join or a once-initialisation that waits for the waiting thread itself.
fn waits_for_itself(state: &ThreadState) -> bool {
    state.waits_for.as_ref().is_some_and(|wait| {
        wait.blocked_by
            .iter()
            .any(|b| b.reason == BlockReason::Joining && b.thread == state.thread)
    })
}

impl fmt::Display for ThreadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "thread \"{name}\" (T{})", self.id),
            None => write!(f, "thread T{}", self.id),
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(
                f,
                "{} \"{name}\" (created at {})",
                self.kind, self.created_at
            ),
            None => write!(f, "{} created at {}", self.kind, self.created_at),
        }
    }
}

fn write_thread(f: &mut fmt::Formatter<'_>, state: &ThreadState, stall: bool) -> fmt::Result {
    write!(f, "  {}", state.thread)?;
    match &state.waits_for {
        Some(wait) => write_wait(f, wait, stall)?,
        None => writeln!(f, " is running")?,
    }
    for hold in &state.holds {
        writeln!(
            f,
            "    holds {}{}, acquired at {}",
            held_access(hold.resource.kind, hold.access),
            hold.resource,
            hold.at
        )?;
    }
    Ok(())
}

/// One wait; in a stall (`stall`), nothing is said to be certain.
fn write_wait(f: &mut fmt::Formatter<'_>, wait: &Wait, stall: bool) -> fmt::Result {
    writeln!(
        f,
        " {} {}",
        wait_verb(wait.resource.kind, wait.access),
        wait.resource
    )?;
    writeln!(f, "      at {}", wait.at)?;
    for blocker in &wait.blocked_by {
        match &blocker.reason {
            BlockReason::Holds { access, at } => writeln!(
                f,
                "      held{} by {}, acquired at {at}",
                held_by_access(wait.resource.kind, *access),
                blocker.thread
            )?,
            BlockReason::QueuedWriter { at } => writeln!(
                f,
                "      behind the write request of {} at {at} (no new reader passes a waiting writer)",
                blocker.thread
            )?,
            BlockReason::Joining => {
                writeln!(f, "      which has not finished: {} is blocked", blocker.thread)?
            }
        }
    }
    if wait.granted {
        writeln!(f, "      granted: it has not woken up yet to go on")?;
    } else if wait.any_thread_may_wake && stall {
        writeln!(f, "      any other thread could wake it")?;
    } else if wait.any_thread_may_wake {
        writeln!(f, "      any other thread could wake it, but none can run")?;
    }
    Ok(())
}

fn write_cycle(f: &mut fmt::Formatter<'_>, threads: &[ThreadState]) -> fmt::Result {
    let short = |t: &ThreadRef| match &t.name {
        Some(name) => name.clone(),
        None => format!("T{}", t.id),
    };
    write!(f, "  cycle: ")?;
    for state in threads {
        write!(f, "{}", short(&state.thread))?;
        match &state.waits_for {
            // A joined thread is the next thread itself: no resource in between.
            Some(wait) if wait.access == Access::Join => write!(f, " -> (join) -> ")?,
            Some(wait) => write!(f, " -> {} -> ", wait.resource.display_name())?,
            None => {}
        }
    }
    match threads.first() {
        Some(first) => writeln!(f, "{}", short(&first.thread)),
        None => writeln!(f),
    }
}

/// "waits for Mutex", "waits to write RwLock", ...
fn wait_verb(kind: ResourceKind, access: Access) -> &'static str {
    match (kind, access) {
        (ResourceKind::RwLock, Access::Exclusive) => "waits to write",
        (ResourceKind::RwLock, Access::Shared | Access::SharedRecursive) => "waits to read",
        (ResourceKind::RwLock, Access::Upgradable) => "waits for an upgradable read of",
        (ResourceKind::RwLock, Access::Upgrade) => "waits to upgrade its read of",
        (_, Access::Notification) => "waits on",
        (_, Access::Receive) => "waits to receive from",
        (_, Access::Send) => "waits to send on",
        (_, Access::Arrival) => "waits at",
        (_, Access::Permit) => "waits for a permit of",
        (_, Access::Join) => "waits to join",
        (_, Access::Completion) => "waits for the initialisation of",
        (_, Access::TaskResult) => "waits for the result of",
        (_, Access::Work) => "waits for work from",
        _ => "waits for",
    }
}

/// "" for locks with one mode, "the read lock of " etc. for reader-writer locks.
fn held_access(kind: ResourceKind, access: Access) -> &'static str {
    match (kind, access) {
        (ResourceKind::RwLock, Access::Exclusive) => "the write lock of ",
        (ResourceKind::RwLock, Access::Upgradable) => "an upgradable read of ",
        (ResourceKind::RwLock, _) => "a read lock of ",
        (_, Access::Permit) => "a permit of ",
        _ => "",
    }
}

fn held_by_access(kind: ResourceKind, access: Access) -> &'static str {
    match (kind, access) {
        (ResourceKind::RwLock, Access::Exclusive) => " for writing",
        (ResourceKind::RwLock, Access::Upgradable) => " for upgradable reading",
        (ResourceKind::RwLock, _) => " for reading",
        _ => "",
    }
}

/// A lock-order inversion: each edge, the cycle, a possible interleaving, the order to keep.
fn write_inversion(
    f: &mut fmt::Formatter<'_>,
    inversion: &Inversion,
    by: &ThreadRef,
) -> fmt::Result {
    let edges = &inversion.edges;
    writeln!(
        f,
        "{} threads take {} locks in orders that form a cycle{}",
        edges.len(),
        edges.len(),
        if inversion.strict {
            " (strict mode: locks created on the same line count as one)"
        } else {
            ""
        }
    )?;
    for edge in edges {
        writeln!(
            f,
            "  {} acquired {}{} at {}",
            edge.thread,
            held_access(edge.acquired.kind, edge.acquired_access),
            edge.acquired,
            edge.acquired_at
        )?;
        writeln!(
            f,
            "      while holding {}{}, acquired at {}",
            held_access(edge.held.kind, edge.held_access),
            edge.held,
            edge.held_at
        )?;
    }
    write!(f, "  cycle: ")?;
    for edge in edges {
        write!(f, "{} -> ", edge.held.display_name())?;
    }
    if let Some(first) = edges.first() {
        writeln!(f, "{}", first.held.display_name())?;
    }
    write_interleaving(f, edges)?;
    let order: Vec<String> = inversion
        .suggested_order
        .iter()
        .map(Resource::display_name)
        .collect();
    writeln!(
        f,
        "  suggested order: {} (take them in this order everywhere)",
        order.join(", then ")
    )?;
    write!(f, "  detected by {by}, whose acquisition closed the cycle")
}

/// lockdep's "possible unsafe locking scenario": one column per thread; each takes its first
/// lock, then each asks for its second and waits for the next thread.
fn write_interleaving(f: &mut fmt::Formatter<'_>, edges: &[OrderEdge]) -> fmt::Result {
    let names: Vec<String> = edges.iter().map(|e| short_name(&e.thread)).collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (i, edge) in edges.iter().enumerate() {
        let mut row = vec![String::new(); edges.len()];
        row[i] = format!(
            "{} {}",
            verb(edge.held.kind, edge.held_access),
            edge.held.display_name()
        );
        rows.push(row);
    }
    for (i, edge) in edges.iter().enumerate() {
        let mut row = vec![String::new(); edges.len()];
        let next = &names[(i + 1) % names.len()];
        row[i] = format!(
            "{} {}: waits for {next}",
            verb(edge.acquired.kind, edge.acquired_access),
            edge.acquired.display_name()
        );
        rows.push(row);
    }
    let width = rows
        .iter()
        .flatten()
        .chain(&names)
        .map(String::len)
        .max()
        .unwrap_or(0)
        + 2;
    writeln!(f, "  possible interleaving:")?;
    let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
        let mut text = String::from("   ");
        for cell in cells {
            text.push_str(&format!(" {cell:<width$}"));
        }
        writeln!(f, "{}", text.trim_end())
    };
    line(f, &names)?;
    let rule: Vec<String> = names.iter().map(|n| "-".repeat(n.len())).collect();
    line(f, &rule)?;
    for row in &rows {
        line(f, row)?;
    }
    Ok(())
}

fn short_name(thread: &ThreadRef) -> String {
    match &thread.name {
        Some(name) => name.clone(),
        None => format!("T{}", thread.id),
    }
}

/// "lock", "read", "write", "upgradable-read" for the interleaving table.
fn verb(kind: ResourceKind, access: Access) -> &'static str {
    match (kind, access) {
        (ResourceKind::RwLock, Access::Exclusive) => "write",
        (ResourceKind::RwLock, Access::Upgradable) => "upgradable-read",
        (ResourceKind::RwLock, _) => "read",
        _ => "lock",
    }
}

#[cfg(test)]
mod tests {
    use crate::report::*;

    fn stall_with(granted: bool) -> String {
        let thread = ThreadRef::new(2, Some("consumer".into()));
        Report {
            kind: ReportKind::Stall,
            threads: vec![ThreadState {
                thread: thread.clone(),
                waits_for: Some(Wait {
                    resource: Resource {
                        id: 1,
                        kind: ResourceKind::Condvar,
                        name: None,
                        created_at: Site::new("src/lib.rs", 1, 5),
                    },
                    access: Access::Exclusive,
                    at: Site::new("src/lib.rs", 2, 5),
                    blocked_by: Vec::new(),
                    any_thread_may_wake: true,
                    granted,
                }),
                holds: Vec::new(),
            }],
            detected_by: thread,
            world: Some("test `x`".into()),
            inversion: None,
            bystanders: Vec::new(),
        }
        .to_string()
    }

    #[test]
    fn a_stall_says_when_a_wait_was_granted_but_its_thread_has_not_woken() {
        let granted = stall_with(true);
        assert!(
            granted.contains("granted: it has not woken up yet"),
            "{granted}"
        );
        assert!(!granted.contains("could wake it"), "{granted}");
        let waiting = stall_with(false);
        assert!(!waiting.contains("granted"), "{waiting}");
        assert!(
            waiting.contains("any other thread could wake it"),
            "{waiting}"
        );
    }
}
