//! Recording: each thread appends its events to a buffer of its own and writes it to the
//! process's trace file as one chunk when it fills, when the thread exits, and on
//! [`super::flush`]. The only shared step is the chunk's write, under the file's lock; with
//! recording off, each hook costs one relaxed load of [`STATE`].
//!
//! A hook that runs while the thread is already inside the recorder (an allocator or a
//! panic hook that takes impasse locks) drops its event rather than recurse.

use super::format::{self, tag};
use crate::facade::plain::{AtomicU8, Ordering};
use crate::facade::sync::Mutex;
use crate::model::{ResourceId, ThreadKey};
use crate::predict::VectorClock;
use crate::report::{Access, ResourceKind};
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::fs::{self, File};
use std::io::Write;
use std::panic::Location;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Whether events are recorded: not known yet (the settings are read on first use), no, yes.
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

/// A thread's buffer is written out once it holds this many bytes.
const FLUSH_AT: usize = 16 * 1024;

/// Whether events are recorded.
#[inline]
pub(crate) fn on() -> bool {
    // Off is the case that must cost nothing: one load, one compare.
    STATE.load(Ordering::Relaxed) != OFF && on_or_unknown()
}

#[cold]
fn on_or_unknown() -> bool {
    STATE.load(Ordering::Relaxed) == ON || from_settings()
}

#[cold]
fn from_settings() -> bool {
    let settings = crate::policy::Settings::current();
    set_dir(settings.trace_directory().map(ToOwned::to_owned))
}

/// Records into `dir` from now on (`None`: stops recording). The first directory used is the
/// process's: its file stays where it was opened. Returns whether recording is on.
pub(crate) fn set_dir(dir: Option<PathBuf>) -> bool {
    let on = dir.is_some();
    let mut writer = WRITER.lock();
    if writer.dir.is_none() {
        writer.dir = dir;
    }
    STATE.store(if on { ON } else { OFF }, Ordering::Relaxed);
    on
}

/// The process's trace file, opened on the first chunk.
struct Writer {
    dir: Option<PathBuf>,
    file: Option<File>,
    started: Option<Instant>,
    /// Opening or writing failed once (and was said): nothing more is written.
    failed: bool,
}

crate::facade::global! {
    static WRITER: Mutex<Writer> = Mutex::new(Writer {
        dir: None,
        file: None,
        started: None,
        failed: false,
    });
}

impl Writer {
    fn write_chunk(&mut self, thread: ThreadKey, payload: &[u8]) {
        if self.failed {
            return;
        }
        if self.file.is_none() {
            match self.open() {
                Ok(file) => self.file = Some(file),
                Err(message) => {
                    self.failed = true;
                    crate::report::stderr::write(&format!(
                        "impasse: cannot record a trace: {message}"
                    ));
                    return;
                }
            }
        }
        let micros = self
            .started
            .map_or(0, |started| started.elapsed().as_micros() as u64);
        let mut frame = Vec::with_capacity(32);
        frame.push(format::CHUNK);
        format::put_varint(&mut frame, thread.get());
        format::put_varint(&mut frame, micros);
        format::put_varint(&mut frame, payload.len() as u64);
        let written = self.file.as_mut().map(|file| {
            file.write_all(&frame)
                .and_then(|()| file.write_all(payload))
        });
        if let Some(Err(error)) = written {
            self.failed = true;
            crate::report::stderr::write(&format!(
                "impasse: cannot write the trace, recording stops: {error}"
            ));
        }
    }

    fn open(&mut self) -> Result<File, String> {
        let dir = self.dir.clone().ok_or("no directory")?;
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let pid = std::process::id();
        for n in 0u32.. {
            let name = if n == 0 {
                format!("impasse-{pid}.trace")
            } else {
                format!("impasse-{pid}-{n}.trace")
            };
            let path = dir.join(name);
            match File::options().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    let started_micros = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_micros() as u64);
                    let mut header = format::MAGIC.to_vec();
                    format::put_varint(&mut header, u64::from(format::VERSION));
                    format::put_varint(&mut header, u64::from(pid));
                    format::put_varint(&mut header, started_micros);
                    file.write_all(&header)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    self.started = Some(Instant::now());
                    return Ok(file);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => {}
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        Err("no free file name".into())
    }
}

/// One thread's recording state.
struct Local {
    key: ThreadKey,
    buf: Vec<u8>,
    /// The thread's numbers for the sites it has defined, by address.
    sites: FxHashMap<usize, u32>,
    /// The last site looked up, and its number: a loop meets the same site again and again.
    last_site: (usize, u32),
}

/// Starts a fixed-size event (a tag, at most three varints and two bytes: 33 bytes) in `buf`,
/// reserving room for all of it at once so that none of its pushes reallocates.
#[inline(always)]
fn start_event(buf: &mut Vec<u8>, tag: u8) -> &mut Vec<u8> {
    buf.reserve(40);
    buf.push(tag);
    buf
}

impl Local {
    #[inline]
    fn site(&mut self, at: &'static Location<'static>) -> u32 {
        let address = std::ptr::from_ref(at) as usize;
        if self.last_site.0 == address {
            return self.last_site.1;
        }
        let id = self.define_site(at);
        self.last_site = (address, id);
        id
    }

    fn define_site(&mut self, at: &'static Location<'static>) -> u32 {
        let next = self.sites.len() as u32;
        let id = *self
            .sites
            .entry(std::ptr::from_ref(at) as usize)
            .or_insert(next);
        if id == next {
            self.buf.push(tag::SITE);
            format::put_varint(&mut self.buf, u64::from(id));
            format::put_str(&mut self.buf, at.file());
            format::put_varint(&mut self.buf, u64::from(at.line()));
            format::put_varint(&mut self.buf, u64::from(at.column()));
        }
        id
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            WRITER.lock().write_chunk(self.key, &self.buf);
            self.buf.clear();
        }
    }
}

/// The thread's state in a slot that writes its last chunk when the thread exits.
struct Slot(RefCell<Option<Local>>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(local) = self.0.get_mut() {
            local.buf.push(tag::THREAD_EXIT);
            local.flush();
        }
    }
}

crate::facade::per_thread! {
    static LOCAL: Slot = const { Slot(RefCell::new(None)) };
}

/// Appends an event through `write`, starting the thread's recording first if needed.
#[inline(always)]
fn with_local(write: impl FnOnce(&mut Local)) {
    let _ = LOCAL.try_with(|slot| {
        let Ok(mut local) = slot.0.try_borrow_mut() else {
            return; // inside the recorder already
        };
        if local.is_none() {
            *local = start();
        }
        let Some(local) = local.as_mut() else {
            return; // the thread is being torn down
        };
        write(local);
        if local.buf.len() >= FLUSH_AT {
            local.flush();
        }
    });
}

/// The calling thread's recording state, with its first event.
#[cold]
fn start() -> Option<Local> {
    let key = crate::detect::thread_key()?;
    let mut fresh = Local {
        key,
        buf: Vec::with_capacity(FLUSH_AT + 256),
        sites: FxHashMap::default(),
        last_site: (0, 0),
    };
    fresh.buf.push(tag::THREAD_START);
    let name = crate::facade::thread::current().name().map(str::to_owned);
    format::put_opt_str(&mut fresh.buf, name.as_deref());
    Some(fresh)
}

/// Writes the calling thread's buffer out now.
pub(crate) fn flush_this_thread() {
    let _ = LOCAL.try_with(|slot| {
        if let Ok(mut local) = slot.0.try_borrow_mut() {
            if let Some(local) = local.as_mut() {
                local.flush();
            }
        }
    });
    if let Some(file) = WRITER.lock().file.as_mut() {
        let _ = file.flush();
    }
}

/// A resource got its id on this thread.
#[cold]
pub(crate) fn resource(
    id: ResourceId,
    kind: ResourceKind,
    created_at: &'static Location<'static>,
    name: Option<&str>,
) {
    with_local(|l| {
        let site = l.site(created_at);
        l.buf.push(tag::RESOURCE);
        format::put_varint(&mut l.buf, id.get());
        l.buf.push(format::kind_code(kind));
        format::put_varint(&mut l.buf, u64::from(site));
        format::put_opt_str(&mut l.buf, name);
    });
}

/// The thread is about to block for `access` to `id`.
pub(crate) fn request(id: ResourceId, access: Access, at: &'static Location<'static>) {
    with_local(|l| {
        let site = l.site(at);
        let event = start_event(&mut l.buf, tag::REQUEST);
        format::put_varint(event, id.get());
        event.push(format::access_code(access));
        format::put_varint(event, u64::from(site));
    });
}

/// The thread's cooperative wait for `id` (a condition variable, a channel, a join, ...) ended:
/// granted, timed out, or unwound by a report.
#[cold]
pub(crate) fn wait_ended(id: ResourceId) {
    with_local(|l| {
        let event = start_event(&mut l.buf, tag::WAIT_ENDED);
        format::put_varint(event, id.get());
    });
}

/// A resource that has an id was dropped on this thread.
#[cold]
pub(crate) fn dropped(id: ResourceId) {
    with_local(|l| {
        let event = start_event(&mut l.buf, tag::DROPPED);
        format::put_varint(event, id.get());
    });
}

/// The thread acquired `id`; `seq` is the lock's count of acquisitions.
#[inline(never)]
pub(crate) fn acquired(
    id: ResourceId,
    access: Access,
    at: &'static Location<'static>,
    blocking: bool,
    seq: u32,
) {
    with_local(|l| {
        let site = l.site(at);
        let event = start_event(&mut l.buf, tag::ACQUIRED);
        format::put_varint(event, id.get());
        event.push(format::access_code(access));
        format::put_varint(event, u64::from(site));
        event.push(u8::from(blocking));
        format::put_varint(event, u64::from(seq));
    });
}

/// The thread released its most recent hold of `id` with `access`.
#[inline(never)]
pub(crate) fn released(id: ResourceId, access: Access) {
    with_local(|l| {
        let event = start_event(&mut l.buf, tag::RELEASED);
        format::put_varint(event, id.get());
        event.push(format::access_code(access));
    });
}

/// The thread's clock is now `clock`.
#[cold]
pub(crate) fn clock(clock: &VectorClock) {
    with_local(|l| {
        l.buf.push(tag::CLOCK);
        format::put_varint(&mut l.buf, clock.entries().len() as u64);
        for &(thread, epoch) in clock.entries() {
            format::put_varint(&mut l.buf, thread.get());
            format::put_varint(&mut l.buf, epoch);
        }
    });
}

/// The thread joined `thread`, whose end is in its past from `epoch` on.
#[cold]
pub(crate) fn absorbed(thread: ThreadKey, epoch: u64) {
    with_local(|l| {
        l.buf.push(tag::ABSORBED);
        format::put_varint(&mut l.buf, thread.get());
        format::put_varint(&mut l.buf, epoch);
    });
}
