//! What impasse found, as plain data: the [`Report`] type and its renderings.
//!
//! A report is built by the detector while its graph is consistent, then handed to the
//! policy; from then on it is a value that never reaches back into live state. The same type
//! is serialised to JSON lines (`IMPASSE_REPORT=FILE`) and read back by the analyzer, so its
//! fields are public and its text form (`Display`) is the contract of DESIGN.md §4: the first
//! line begins with `impasse: deadlock detected` (or `impasse: potential deadlock`).

pub(crate) mod stderr;
mod text;

#[cfg(feature = "detect")]
mod json;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::panic::Location;

/// One finding: an actual deadlock, with every thread in it, what each waits for and holds.
///
/// Render it with `Display` (the text a person reads) or serialise it with serde.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// What kind of finding this is; decides the first line of the text form.
    pub kind: ReportKind,
    /// The threads involved. For a deadlock, in cycle order: each waits for the next.
    pub threads: Vec<ThreadState>,
    /// The thread whose blocking call found the finding.
    pub detected_by: ThreadRef,
    /// For a finding of the closed-world rule: the world whose every thread is blocked (the
    /// program, or one test). `None` for a cycle of waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<String>,
    /// For a potential deadlock: the lock-order cycle and the order to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inversion: Option<Inversion>,
    /// For a stall: the threads outside the world's waits that could still act, which is why
    /// impasse could not call the stall a deadlock.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bystanders: Vec<Bystander>,
}

/// A thread that could still act when a test stalled: one impasse cannot see into (a
/// `std::thread`, a thread of another library), or one it knows that runs outside its waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Bystander {
    /// The operating system's id of the thread.
    pub os_id: u64,
    /// Its name: the one impasse knows, or the kernel's (at most 15 bytes).
    pub name: Option<String>,
    /// Whether impasse knows the thread (it used one of impasse's primitives).
    pub known_to_impasse: bool,
    /// What the operating system says it is doing.
    pub doing: String,
    /// When it started, relative to the test ("before the test", "0.2 s into the test").
    pub started: String,
}

/// A lock-order inversion: locks taken in orders that form a cycle, by threads that could
/// run at the same time, so that some interleaving of them deadlocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Inversion {
    /// The cycle, one edge per thread: each acquired a lock while holding the previous edge's.
    /// The first edge is the one whose acquisition closed the cycle.
    pub edges: Vec<OrderEdge>,
    /// An order of the locks that breaks the cycle: the one the other edges established.
    pub suggested_order: Vec<Resource>,
    /// Whether the cycle is between lock classes (creation sites, strict mode) rather than
    /// lock instances.
    pub strict: bool,
}

/// One edge of a lock-order cycle: a thread acquired `acquired` while holding `held`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrderEdge {
    /// The thread.
    pub thread: ThreadRef,
    /// The lock it held.
    pub held: Resource,
    /// How it held it.
    pub held_access: Access,
    /// Where it had acquired it.
    pub held_at: Site,
    /// The lock it then acquired.
    pub acquired: Resource,
    /// How it acquired it.
    pub acquired_access: Access,
    /// Where it acquired it.
    pub acquired_at: Site,
}

/// The kinds of findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReportKind {
    /// Threads that can never proceed: a cycle of waits, or a world where every thread waits
    /// for another.
    Deadlock,
    /// Locks taken in orders that form a cycle: no deadlock this time, but one is possible
    /// in another interleaving.
    PotentialDeadlock,
    /// A test made no progress within its time limit; the report shows every thread's wait.
    Stall,
}

impl ReportKind {
    /// The fixed first words of the text form for this kind.
    pub fn headline(self) -> &'static str {
        match self {
            ReportKind::Deadlock => "impasse: deadlock detected",
            ReportKind::PotentialDeadlock => "impasse: potential deadlock",
            ReportKind::Stall => "impasse: stall",
        }
    }
}

/// A thread, as reports name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThreadRef {
    /// impasse's number for the thread, unique in the process, in order of first use.
    pub id: u64,
    /// The thread's name, when it has one (`thread::Builder::name`, test names).
    pub name: Option<String>,
}

impl ThreadRef {
    /// A thread reference from its number and name.
    pub fn new(id: u64, name: Option<String>) -> Self {
        ThreadRef { id, name }
    }
}

/// What one thread was doing when the finding was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThreadState {
    /// The thread.
    pub thread: ThreadRef,
    /// The wait it is blocked in, if any.
    pub waits_for: Option<Wait>,
    /// Everything it holds, in the order it acquired it.
    pub holds: Vec<Hold>,
}

/// A blocked request for a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Wait {
    /// The resource waited for.
    pub resource: Resource,
    /// The access requested.
    pub access: Access,
    /// Where the thread waits (the user's call site).
    pub at: Site,
    /// The threads in the finding that keep this request from being granted, and why.
    pub blocked_by: Vec<Blocker>,
    /// Whether any thread may grant the request (a condition variable, a channel, a barrier, a
    /// semaphore), rather than the holders or one joined thread.
    #[serde(default)]
    pub any_thread_may_wake: bool,
    /// Whether the request has been granted and the thread has not woken up to take it yet
    /// (only a stall report, which shows every thread as it is, can show such a wait).
    #[serde(default)]
    pub granted: bool,
}

/// Why one thread cannot be granted its request yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Blocker {
    /// The thread in the way.
    pub thread: ThreadRef,
    /// What it does that is in the way.
    pub reason: BlockReason,
}

/// What a blocking thread does that is in the way of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BlockReason {
    /// It holds the resource with an access that conflicts with the request.
    Holds {
        /// The access it holds.
        access: Access,
        /// Where it acquired the resource.
        at: Site,
    },
    /// It waits to write, and parking_lot's RwLock lets no new reader pass a waiting writer.
    QueuedWriter {
        /// Where the writer waits.
        at: Site,
    },
    /// It is the thread being joined, and has not finished.
    Joining,
}

/// A resource held by a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Hold {
    /// The resource.
    pub resource: Resource,
    /// How it is held.
    pub access: Access,
    /// Where it was acquired.
    pub at: Site,
}

/// A lock or other blocking resource, as reports name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Resource {
    /// impasse's number for the resource, unique in the process while it lives.
    pub id: u64,
    /// What sort of primitive it is.
    pub kind: ResourceKind,
    /// The name given with `named`, if any.
    pub name: Option<String>,
    /// Where it was created.
    pub created_at: Site,
}

impl Resource {
    /// The name a report shows: the given name, or else the creation site.
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.created_at.to_string(),
        }
    }
}

/// The sorts of blocking resources impasse knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResourceKind {
    /// `impasse::Mutex` or `impasse::stdsync::Mutex`.
    Mutex,
    /// `impasse::ReentrantMutex`.
    ReentrantMutex,
    /// `impasse::RwLock` or `impasse::stdsync::RwLock`.
    RwLock,
    /// `impasse::Condvar` or `impasse::stdsync::Condvar`.
    Condvar,
    /// `impasse::Semaphore`.
    Semaphore,
    /// `impasse::Barrier`.
    Barrier,
    /// A channel of `impasse::mpsc`.
    Channel,
    /// A thread, as something to join.
    Thread,
    /// `impasse::Once` or `impasse::OnceLock`.
    Once,
    /// A task of an `impasse::pool::ThreadPool`.
    Task,
    /// An `impasse::pool::ThreadPool`, as idle workers wait for its work.
    Pool,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceKind::Mutex => "Mutex",
            ResourceKind::ReentrantMutex => "ReentrantMutex",
            ResourceKind::RwLock => "RwLock",
            ResourceKind::Condvar => "Condvar",
            ResourceKind::Semaphore => "Semaphore",
            ResourceKind::Barrier => "Barrier",
            ResourceKind::Channel => "channel",
            ResourceKind::Thread => "thread",
            ResourceKind::Once => "Once",
            ResourceKind::Task => "task",
            ResourceKind::Pool => "pool",
        })
    }
}

/// How a resource is held or requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Access {
    /// Sole access: a mutex lock or a write lock.
    Exclusive,
    /// Shared access: a read lock.
    Shared,
    /// A recursive read lock (`read_recursive`): passes waiting writers while others read.
    SharedRecursive,
    /// An upgradable read lock.
    Upgradable,
    /// Upgrading an upgradable read lock to a write lock.
    Upgrade,
    /// Waiting for a notification (condition variable).
    Notification,
    /// Receiving from a channel.
    Receive,
    /// Sending on a channel that is full (or a rendezvous channel).
    Send,
    /// Waiting at a barrier for the other parties.
    Arrival,
    /// Holding or waiting for semaphore permits.
    Permit,
    /// Waiting for a thread to finish.
    Join,
    /// Waiting for another thread's one-time initialisation to complete.
    Completion,
    /// Waiting for a pool task's result.
    TaskResult,
    /// An idle pool worker waiting for work.
    Work,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Exclusive => "exclusive",
            Access::Shared => "read",
            Access::SharedRecursive => "recursive read",
            Access::Upgradable => "upgradable read",
            Access::Upgrade => "upgrade to write",
            Access::Notification => "notification",
            Access::Receive => "receive",
            Access::Send => "send",
            Access::Arrival => "arrival",
            Access::Permit => "permit",
            Access::Join => "join",
            Access::Completion => "completion",
            Access::TaskResult => "task result",
            Access::Work => "work",
        })
    }
}

/// A source location: file, line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Site {
    /// The source file, as the compiler names it.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl Site {
    /// A site from its parts.
    pub fn new(file: impl Into<String>, line: u32, column: u32) -> Self {
        Site {
            file: file.into(),
            line,
            column,
        }
    }
}

impl From<&Location<'_>> for Site {
    fn from(location: &Location<'_>) -> Self {
        Site::new(location.file(), location.line(), location.column())
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}
