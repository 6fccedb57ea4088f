//! The bytes of a trace (`docs/trace-format.md` is the specification): the header, the chunk
//! frame, and each event's tag and fields, encoded and decoded side by side so the two cannot
//! drift apart. Integers are unsigned LEB128 varints; strings are a varint length and UTF-8.

// The writing half serves the recorder, which is built with `detect` only (and not under loom).
#![cfg_attr(any(not(feature = "detect"), loom), allow(dead_code))]

use crate::report::{Access, ResourceKind};

/// The first bytes of every trace.
pub(crate) const MAGIC: &[u8; 14] = b"impasse-trace\n";
/// The version this build writes and reads.
pub(crate) const VERSION: u32 = 1;
/// The tag of a chunk.
pub(crate) const CHUNK: u8 = b'C';
/// The largest chunk payload a reader accepts (a writer flushes long before).
pub(crate) const MAX_CHUNK: usize = 1 << 20;
/// The longest string a reader accepts.
pub(crate) const MAX_STRING: usize = 1 << 16;
/// The most entries a clock may have.
pub(crate) const MAX_CLOCK: usize = 1 << 20;

/// Event tags.
pub(crate) mod tag {
    pub(crate) const THREAD_START: u8 = 1;
    pub(crate) const THREAD_EXIT: u8 = 2;
    pub(crate) const SITE: u8 = 3;
    pub(crate) const RESOURCE: u8 = 4;
    pub(crate) const REQUEST: u8 = 5;
    pub(crate) const ACQUIRED: u8 = 6;
    pub(crate) const RELEASED: u8 = 7;
    pub(crate) const CLOCK: u8 = 8;
    pub(crate) const ABSORBED: u8 = 9;
    pub(crate) const WAIT_ENDED: u8 = 10;
    pub(crate) const DROPPED: u8 = 11;
}

/// Appends `value` as a varint.
#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends `text` as a length and its bytes.
pub(crate) fn put_str(out: &mut Vec<u8>, text: &str) {
    let text = truncate(text, MAX_STRING);
    put_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// Appends an optional string: `0` for none, else its length plus one, and its bytes.
pub(crate) fn put_opt_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => out.push(0),
        Some(text) => {
            let text = truncate(text, MAX_STRING - 1);
            put_varint(out, text.len() as u64 + 1);
            out.extend_from_slice(text.as_bytes());
        }
    }
}

/// `text` cut to at most `max` bytes at a character boundary (names and paths that long are
/// not worth a reader's refusal).
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What went wrong decoding, without the place (the reader adds it).
pub(crate) type Malformed = &'static str;

/// A cursor over one chunk's payload.
pub(crate) struct Cursor<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Cursor<'b> {
    pub(crate) fn new(bytes: &'b [u8]) -> Self {
        Cursor { bytes, at: 0 }
    }

    /// How far into the payload the cursor is.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.at == self.bytes.len()
    }

    pub(crate) fn byte(&mut self) -> Result<u8, Malformed> {
        let byte = *self
            .bytes
            .get(self.at)
            .ok_or("an event runs past its chunk")?;
        self.at += 1;
        Ok(byte)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err("a number does not fit in 64 bits");
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a number does not fit in 64 bits")
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Malformed> {
        u32::try_from(self.varint()?).map_err(|_| "a number does not fit in 32 bits")
    }

    fn take(&mut self, len: usize) -> Result<&'b [u8], Malformed> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or("a string runs past its chunk")?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    pub(crate) fn string(&mut self) -> Result<String, Malformed> {
        let len = self.varint()?;
        self.string_of(len)
    }

    pub(crate) fn opt_string(&mut self) -> Result<Option<String>, Malformed> {
        match self.varint()? {
            0 => Ok(None),
            len => self.string_of(len - 1).map(Some),
        }
    }

    fn string_of(&mut self, len: u64) -> Result<String, Malformed> {
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= MAX_STRING)
            .ok_or("a string is longer than 64 KiB")?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a string is not UTF-8")
    }
}

/// A resource kind's code.
pub(crate) fn kind_code(kind: ResourceKind) -> u8 {
    match kind {
        ResourceKind::Mutex => 0,
        ResourceKind::ReentrantMutex => 1,
        ResourceKind::RwLock => 2,
        ResourceKind::Condvar => 3,
        ResourceKind::Semaphore => 4,
        ResourceKind::Barrier => 5,
        ResourceKind::Channel => 6,
        ResourceKind::Thread => 7,
        ResourceKind::Once => 8,
        ResourceKind::Task => 9,
        ResourceKind::Pool => 10,
    }
}

/// The resource kind of `code`.
pub(crate) fn kind_of(code: u8) -> Result<ResourceKind, Malformed> {
    Ok(match code {
        0 => ResourceKind::Mutex,
        1 => ResourceKind::ReentrantMutex,
        2 => ResourceKind::RwLock,
        3 => ResourceKind::Condvar,
        4 => ResourceKind::Semaphore,
        5 => ResourceKind::Barrier,
        6 => ResourceKind::Channel,
        7 => ResourceKind::Thread,
        8 => ResourceKind::Once,
        9 => ResourceKind::Task,
        10 => ResourceKind::Pool,
        _ => return Err("an unknown resource kind"),
    })
}

/// An access's code.
pub(crate) fn access_code(access: Access) -> u8 {
    match access {
        Access::Exclusive => 0,
        Access::Shared => 1,
        Access::SharedRecursive => 2,
        Access::Upgradable => 3,
        Access::Upgrade => 4,
        Access::Notification => 5,
        Access::Receive => 6,
        Access::Send => 7,
        Access::Arrival => 8,
        Access::Permit => 9,
        Access::Join => 10,
        Access::Completion => 11,
        Access::TaskResult => 12,
        Access::Work => 13,
    }
}

/// The access of `code`.
pub(crate) fn access_of(code: u8) -> Result<Access, Malformed> {
    Ok(match code {
        0 => Access::Exclusive,
        1 => Access::Shared,
        2 => Access::SharedRecursive,
        3 => Access::Upgradable,
        4 => Access::Upgrade,
        5 => Access::Notification,
        6 => Access::Receive,
        7 => Access::Send,
        8 => Access::Arrival,
        9 => Access::Permit,
        10 => Access::Join,
        11 => Access::Completion,
        12 => Access::TaskResult,
        13 => Access::Work,
        _ => return Err("an unknown access"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_overlong_ones_are_refused() {
        for value in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            let mut cursor = Cursor::new(&out);
            assert_eq!(cursor.varint(), Ok(value));
            assert!(cursor.is_empty());
        }
        let eleven = [0xff; 11];
        assert!(Cursor::new(&eleven).varint().is_err());
        let too_big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(Cursor::new(&too_big).varint().is_err());
    }

    #[test]
    fn codes_round_trip() {
        for code in 0..=255u8 {
            if let Ok(kind) = kind_of(code) {
                assert_eq!(kind_code(kind), code);
            }
            if let Ok(access) = access_of(code) {
                assert_eq!(access_code(access), code);
            }
        }
        assert_eq!(access_of(13), Ok(Access::Work));
        assert!(access_of(14).is_err());
        assert_eq!(kind_of(10), Ok(ResourceKind::Pool));
        assert!(kind_of(11).is_err());
    }

    #[test]
    fn long_strings_are_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_STRING);
        let mut out = Vec::new();
        put_str(&mut out, &long);
        let read = Cursor::new(&out).string().expect("a string");
        assert!(read.len() <= MAX_STRING && long.starts_with(&read));
    }
}
