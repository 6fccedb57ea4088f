//! Reading a trace back: an iterator of [`Record`]s over any reader, chunk by chunk (memory
//! bounded by one chunk and the tables of sites), that never panics on bad input, says where
//! a malformed file goes wrong, and stops at the last whole chunk of a file cut off by a crash.

use super::event::{Event, Header, Record, SiteId};
use super::format::{self, tag, Cursor, Malformed};
use crate::model::{ResourceId, ThreadKey};
use crate::predict::VectorClock;
use crate::report::Site;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// What is wrong with a trace, and where.
#[derive(Debug)]
pub struct TraceError {
    path: Option<PathBuf>,
    offset: u64,
    message: String,
}

impl TraceError {
    /// The file, when the trace was opened from one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The byte offset in the trace at which the problem was found.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(
                f,
                "{}: byte {}: {}",
                path.display(),
                self.offset,
                self.message
            ),
            None => write!(f, "trace: byte {}: {}", self.offset, self.message),
        }
    }
}

impl std::error::Error for TraceError {}

/// Reads the records of one trace, in file order: each thread's events in the order it saw
/// them, threads' chunks interleaved as they were written.
pub struct TraceReader<R> {
    input: R,
    path: Option<PathBuf>,
    header: Header,
    /// Bytes consumed so far.
    offset: u64,
    /// Decoded records of the current chunk not yet returned.
    pending: VecDeque<Record>,
    sites: Vec<Site>,
    site_ids: FxHashMap<(String, u32, u32), SiteId>,
    /// Each thread's own site numbers, as the trace's.
    thread_sites: FxHashMap<(ThreadKey, u32), SiteId>,
    /// Where a chunk that the file cut off began.
    truncated: Option<u64>,
    /// An error or the end was met: nothing more is read.
    done: bool,
}

impl<R> fmt::Debug for TraceReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceReader")
            .field("path", &self.path)
            .field("header", &self.header)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl TraceReader<BufReader<File>> {
    /// Opens the trace at `path` and reads its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TraceError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|error| TraceError {
            path: Some(path.to_owned()),
            offset: 0,
            message: format!("cannot open: {error}"),
        })?;
        TraceReader::start(BufReader::new(file), Some(path.to_owned()))
    }
}

impl<'b> TraceReader<&'b [u8]> {
    /// Reads a trace held in memory.
    pub fn from_bytes(bytes: &'b [u8]) -> Result<Self, TraceError> {
        TraceReader::start(bytes, None)
    }
}

/// The end of the input came in the middle of something.
enum Short {
    Eof,
    Io(io::Error),
}

impl<R: Read> TraceReader<R> {
    fn start(input: R, path: Option<PathBuf>) -> Result<Self, TraceError> {
        let mut reader = TraceReader {
            input,
            path,
            header: Header {
                version: 0,
                pid: 0,
                started_micros: 0,
            },
            offset: 0,
            pending: VecDeque::new(),
            sites: Vec::new(),
            site_ids: FxHashMap::default(),
            thread_sites: FxHashMap::default(),
            truncated: None,
            done: false,
        };
        let mut magic = [0u8; format::MAGIC.len()];
        match reader.fill(&mut magic) {
            Ok(()) if &magic == format::MAGIC => {}
            Ok(()) | Err(Short::Eof) => return Err(reader.error(0, "not an impasse trace")),
            Err(Short::Io(error)) => return Err(reader.io_error(error)),
        }
        let header = (|| -> Result<Header, Short> {
            let version = reader.stream_varint()?;
            let pid = reader.stream_varint()?;
            let started_micros = reader.stream_varint()?;
            Ok(Header {
                version: u32::try_from(version).unwrap_or(u32::MAX),
                pid,
                started_micros,
            })
        })();
        reader.header = match header {
            Ok(header) => header,
            Err(Short::Eof) => return Err(reader.error(0, "the header is cut off")),
            Err(Short::Io(error)) => return Err(reader.io_error(error)),
        };
        if reader.header.version != format::VERSION {
            let message = format!(
                "format version {} (this impasse reads version {})",
                reader.header.version,
                format::VERSION
            );
            return Err(reader.error(0, message));
        }
        Ok(reader)
    }

    /// The trace's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The site numbered `id`.
    pub fn site(&self, id: SiteId) -> Option<&Site> {
        self.sites.get(id.0 as usize)
    }

    /// Every site read so far, numbered by place.
    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// Where the trace was cut off, once the reader has reached its end: the offset of a
    /// chunk that the file ends in the middle of (its events are not read). `None` for a
    /// trace that ends after a whole chunk.
    pub fn truncated(&self) -> Option<u64> {
        self.truncated
    }

    fn error(&self, offset: u64, message: impl Into<String>) -> TraceError {
        TraceError {
            path: self.path.clone(),
            offset,
            message: message.into(),
        }
    }

    fn io_error(&self, error: io::Error) -> TraceError {
        self.error(self.offset, format!("cannot read: {error}"))
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Short> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.input.read(&mut buf[filled..]) {
                Ok(0) => return Err(Short::Eof),
                Ok(n) => {
                    filled += n;
                    self.offset += n as u64;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(Short::Io(error)),
            }
        }
        Ok(())
    }

    fn stream_byte(&mut self) -> Result<u8, Short> {
        let mut byte = [0u8];
        self.fill(&mut byte)?;
        Ok(byte[0])
    }

    fn stream_varint(&mut self) -> Result<u64, Short> {
        let mut bytes = Vec::with_capacity(10);
        loop {
            let byte = self.stream_byte()?;
            bytes.push(byte);
            if byte & 0x80 == 0 || bytes.len() == 10 {
                break;
            }
        }
        // An overlong number is decoded (and refused) by the cursor, as one in a chunk is.
        Cursor::new(&bytes)
            .varint()
            .map_err(|m| Short::Io(io::Error::new(io::ErrorKind::InvalidData, m)))
    }

    /// Reads the next chunk into `pending`; `Ok(false)` at the end.
    fn next_chunk(&mut self) -> Result<bool, TraceError> {
        let start = self.offset;
        let frame = (|| -> Result<Option<(u64, u64, Vec<u8>)>, Short> {
            let chunk_tag = match self.stream_byte() {
                Ok(byte) => byte,
                Err(Short::Eof) if self.offset == start => return Ok(None),
                Err(other) => return Err(other),
            };
            if chunk_tag != format::CHUNK {
                return Err(Short::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "not the start of a chunk",
                )));
            }
            let thread = self.stream_varint()?;
            let micros = self.stream_varint()?;
            let len = self.stream_varint()?;
            let len = usize::try_from(len)
                .ok()
                .filter(|&len| len <= format::MAX_CHUNK)
                .ok_or_else(|| {
                    Short::Io(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a chunk is longer than 1 MiB",
                    ))
                })?;
            let mut payload = vec![0u8; len];
            self.fill(&mut payload)?;
            Ok(Some((thread, micros, payload)))
        })();
        let (thread, micros, payload) = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(false),
            Err(Short::Eof) => {
                self.truncated = Some(start);
                return Ok(false);
            }
            Err(Short::Io(error)) if error.kind() == io::ErrorKind::InvalidData => {
                return Err(self.error(start, error.to_string()));
            }
            Err(Short::Io(error)) => return Err(self.io_error(error)),
        };
        let Some(thread) = ThreadKey::from_raw(thread) else {
            return Err(self.error(start, "a chunk of thread 0"));
        };
        let payload_start = self.offset - payload.len() as u64;
        let mut cursor = Cursor::new(&payload);
        while !cursor.is_empty() {
            let at = payload_start + cursor.position() as u64;
            match self.decode(thread, &mut cursor) {
                Ok(Some(event)) => self.pending.push_back(Record {
                    thread,
                    micros,
                    event,
                }),
                Ok(None) => {}
                Err(message) => return Err(self.error(at, message)),
            }
        }
        Ok(true)
    }

    fn site_of(&self, thread: ThreadKey, local: u32) -> Result<SiteId, Malformed> {
        self.thread_sites
            .get(&(thread, local))
            .copied()
            .ok_or("a site is used before it is defined")
    }

    fn resource(cursor: &mut Cursor<'_>) -> Result<ResourceId, Malformed> {
        ResourceId::from_raw(cursor.varint()?).ok_or("resource 0")
    }

    /// One event; `None` for a site's definition, which goes into the table.
    fn decode(
        &mut self,
        thread: ThreadKey,
        cursor: &mut Cursor<'_>,
    ) -> Result<Option<Event>, Malformed> {
        let event = match cursor.byte()? {
            tag::THREAD_START => Event::ThreadStart {
                name: cursor.opt_string()?,
            },
            tag::THREAD_EXIT => Event::ThreadExit,
            tag::SITE => {
                let local = cursor.u32()?;
                let file = cursor.string()?;
                let (line, column) = (cursor.u32()?, cursor.u32()?);
                let next = SiteId(u32::try_from(self.sites.len()).map_err(|_| "too many sites")?);
                let id = *self
                    .site_ids
                    .entry((file.clone(), line, column))
                    .or_insert(next);
                if id == next {
                    self.sites.push(Site::new(file, line, column));
                }
                self.thread_sites.insert((thread, local), id);
                return Ok(None);
            }
            tag::RESOURCE => Event::Resource {
                resource: Self::resource(cursor)?,
                kind: format::kind_of(cursor.byte()?)?,
                created_at: self.site_of(thread, cursor.u32()?)?,
                name: cursor.opt_string()?,
            },
            tag::REQUEST => Event::Request {
                resource: Self::resource(cursor)?,
                access: format::access_of(cursor.byte()?)?,
                at: self.site_of(thread, cursor.u32()?)?,
            },
            tag::ACQUIRED => Event::Acquired {
                resource: Self::resource(cursor)?,
                access: format::access_of(cursor.byte()?)?,
                at: self.site_of(thread, cursor.u32()?)?,
                blocking: match cursor.byte()? {
                    0 => false,
                    1 => true,
                    _ => return Err("a flag that is neither 0 nor 1"),
                },
                seq: cursor.u32()?,
            },
            tag::RELEASED => Event::Released {
                resource: Self::resource(cursor)?,
                access: format::access_of(cursor.byte()?)?,
            },
            tag::CLOCK => {
                let len = usize::try_from(cursor.varint()?)
                    .ok()
                    .filter(|&len| len <= format::MAX_CLOCK)
                    .ok_or("a clock with too many entries")?;
                let mut entries = Vec::with_capacity(len.min(1024));
                for _ in 0..len {
                    let key = ThreadKey::from_raw(cursor.varint()?).ok_or("thread 0")?;
                    entries.push((key, cursor.varint()?));
                }
                Event::Clock {
                    clock: VectorClock::from_entries(entries),
                }
            }
            tag::ABSORBED => Event::Absorbed {
                thread: ThreadKey::from_raw(cursor.varint()?).ok_or("thread 0")?,
                epoch: cursor.varint()?,
            },
            tag::DROPPED => Event::Dropped {
                resource: Self::resource(cursor)?,
            },
            tag::WAIT_ENDED => Event::WaitEnded {
                resource: Self::resource(cursor)?,
            },
            _ => return Err("an unknown event tag"),
        };
        Ok(Some(event))
    }
}

impl<R: Read> Iterator for TraceReader<R> {
    type Item = Result<Record, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.pending.pop_front() {
                return Some(Ok(record));
            }
            if self.done {
                return None;
            }
            match self.next_chunk() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(error) => {
                    self.done = true;
                    self.pending.clear();
                    return Some(Err(error));
                }
            }
        }
    }
}
