//! Threads the detector knows: `std::thread`'s API, with spawning and joining instrumented.
//!
//! A thread spawned here becomes a member of its parent's world (the program's, or a test's
//! under `#[impasse::test]`), and a join is a wait the detector sees: joining a thread that
//! waits for a lock the joiner holds is reported at once, and a joiner counts as asleep for
//! the closed-world rule. Everything else is `std::thread`'s own, re-exported so that
//! `use impasse::thread;` can replace `use std::thread;`.
//!
//! ```
//! use impasse::thread;
//!
//! let worker = thread::Builder::new()
//!     .name("worker".into())
//!     .spawn(|| 6 * 7)
//!     .unwrap();
//! assert_eq!(worker.join().unwrap(), 42);
//! ```
//!
//! `park`/`unpark` and `sleep` are std's: a thread parked by hand is invisible to the detector
//! (it counts as running).

mod join;
#[cfg(not(loom))]
mod scope;

pub use self::join::JoinHandle;
#[cfg(not(loom))]
pub use self::scope::{scope, Scope, ScopedJoinHandle};
#[cfg(not(loom))]
pub use std::thread::{
    available_parallelism, current, panicking, park, park_timeout, sleep, yield_now, AccessError,
    LocalKey, Result, Thread, ThreadId,
};

use self::join::Packet;
use crate::detect;
use crate::facade;
use std::io;
use std::panic::Location;

/// Spawns a thread that joins the caller's world; panics if the OS cannot create one, as
/// `std::thread::spawn` does.
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).expect("failed to spawn thread")
}

/// A thread factory, as `std::thread::Builder`: a name (shown in reports) and a stack size.
#[derive(Debug)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with no name and the default stack size.
    #[allow(clippy::new_without_default)] // as std's Builder
    pub fn new() -> Builder {
        Builder {
            name: None,
            stack_size: None,
        }
    }

    /// Names the thread (reports, panic messages).
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Sets the thread's stack size in bytes.
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// The platform's builder with this one's name and stack size.
    fn native(self) -> facade::thread::Builder {
        let mut native = facade::thread::Builder::new();
        if let Some(name) = self.name {
            native = native.name(name);
        }
        if let Some(size) = self.stack_size {
            native = native.stack_size(size);
        }
        native
    }

    /// Spawns the thread; it joins the caller's world before `f` runs.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let packet = Packet::new(self.name.clone(), Location::caller());
        let lineage = detect::spawning();
        let child_packet = packet.clone();
        let native = self.native().spawn(move || {
            detect::started(lineage);
            child_packet.run(f);
        })?;
        Ok(JoinHandle::new(native, packet))
    }
}
