//! Event traces: what the detector saw in a run, written to a file that outlives the process
//! (`IMPASSE_TRACE=DIR`, or [`crate::policy::Settings::trace_dir`]), and read back here.
//!
//! Every process writes one file, `DIR/impasse-<pid>.trace`: a versioned header, then chunks,
//! each of one thread's events in the order that thread saw them, flushed from a buffer of the
//! thread's own (no global lock per event; one per chunk). Sites and thread names are written
//! once per thread and referred to by number, resources once per process. A file cut off by a
//! crash reads up to its last whole chunk ([`TraceReader::truncated`] says where it stopped).
//! The format is specified in `docs/trace-format.md`.
//!
//! What is recorded today: each thread's start (its name) and exit; every acquisition of a
//! lock (resource, access, site, whether it could block, and the lock's own sequence number
//! of critical sections), every request that is about to block (for a lock, or in a cooperative
//! wait: a condition variable, a channel, a join, ...) and the end of each cooperative wait,
//! every release; and the
//! thread's vector clock each time it changes (spawn, join, and what messages, tasks and
//! once-cells carry), with the ends of joined threads (see [`crate::predict`]). [`replay`]
//! feeds a trace to the lock-order rules exactly as the runtime does.
//!
//! ```no_run
//! use impasse::trace::TraceReader;
//!
//! let mut reader = TraceReader::open("traces/impasse-4242.trace")?;
//! for record in reader.by_ref() {
//!     let record = record?;
//!     println!("T{} {:?}", record.thread.get(), record.event);
//! }
//! if let Some(offset) = reader.truncated() {
//!     eprintln!("the trace was cut off at byte {offset}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(all(feature = "tracing", not(loom)))]
pub(crate) mod emit;
mod event;
mod format;
#[cfg(all(feature = "tracing", not(loom)))]
mod layer;
mod reader;
#[cfg(all(feature = "detect", not(loom)))]
pub(crate) mod record;
pub mod replay;

pub use self::event::{Event, Header, Record, SiteId};
#[cfg(all(feature = "tracing", not(loom)))]
pub use self::layer::TraceLayer;
pub use self::reader::{TraceError, TraceReader};

/// Writes the calling thread's buffered events to the trace file now (they are written by
/// themselves when the buffer fills and when the thread exits). Call it before reading the
/// trace of a process that is still running. Does nothing when no trace is being recorded.
pub fn flush() {
    #[cfg(all(feature = "detect", not(loom)))]
    record::flush_this_thread();
}
