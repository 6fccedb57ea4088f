//! The one way impasse writes to the process's standard error: straight to file descriptor 2,
//! in one call, without std's lock on `Stderr` and past any output capture.
//!
//! Why not `eprintln!`: it takes std's `Stderr` lock, which a program may hold for as long as
//! it likes (a logger does, with `std::io::stderr().lock()`), and a report must reach the user
//! whatever the program holds; and under libtest it goes into the test's captured output,
//! which is thrown away when the test passes, so a potential deadlock found in a passing test
//! would never be seen. A panic message still goes through the panic hook (captured, and shown
//! with the failing test): that is where a test's own failure belongs.
//!
//! Invariant: nothing here allocates after the text is built, locks, or can panic.

/// Writes `text` and a line break to the process's standard error, ignoring failure (a
/// closed or full descriptor loses the text; nothing else can be done with it).
pub(crate) fn write(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    if !line.ends_with('\n') {
        line.push('\n');
    }
    write_all(line.as_bytes());
}

#[cfg(unix)]
fn write_all(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid, initialised buffer of `bytes.len()` bytes for the whole
        // call; `write` only reads it. Descriptor 2 needs no ownership to be written to: if
        // it is closed, or not ours, the call fails (EBADF) and nothing else happens.
        let written = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(written) {
            Ok(0) => return,
            Ok(n) => bytes = &bytes[n.min(bytes.len())..],
            Err(_) if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {
            }
            Err(_) => return,
        }
    }
}

/// Elsewhere std's `Stderr` is the only portable way; it may wait for a program's lock on it.
#[cfg(not(unix))]
fn write_all(bytes: &[u8]) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(bytes);
}
