//! [`OnceLock`]: `std::sync::OnceLock`'s API over [`Once`].
//!
//! The invariant: the cell is written only by the thread running the `Once`'s initialisation
//! (which has it to itself until the run ends) or through `&mut self`, and read through `&self`
//! only once the `Once` has completed, whose `Acquire` load pairs with the `Release` store that
//! completed it. So every shared read sees the one value written, and it is never written
//! again while it is shared. The cell holds `Some` exactly when the `Once` has completed.

use super::Once;
use crate::facade::cell::UnsafeCell;
use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};

/// A cell written at most once, a swap-in for `std::sync::OnceLock`.
///
/// A thread that finds another thread initialising the cell waits for that thread, as with
/// [`Once`]: an initialiser that blocks on something the waiter holds, or that initialises
/// its own cell again, is reported at once (std deadlocks there). A panicking initialiser
/// leaves the cell empty, and the next caller tries again.
///
/// ```
/// use impasse::OnceLock;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// assert_eq!(CONFIG.get_or_init(|| "v1".into()), "v1");
/// assert_eq!(CONFIG.set("v2".into()), Err("v2".into()));
/// assert_eq!(CONFIG.get().map(String::as_str), Some("v1"));
/// ```
pub struct OnceLock<T> {
    once: Once,
    value: UnsafeCell<Option<T>>,
}

impl<T> OnceLock<T> {
    crate::facade::const_unless_loom! {
        /// Creates an empty cell; reports name it by the caller's source line.
        #[inline]
        #[track_caller]
        pub fn new() -> OnceLock<T> {
            OnceLock {
                once: Once::new(),
                value: UnsafeCell::new(None),
            }
        }
    }

    /// Creates an empty cell that reports call `name`.
    #[track_caller]
    pub fn named(name: impl Into<std::borrow::Cow<'static, str>>) -> OnceLock<T> {
        OnceLock {
            once: Once::named(name),
            value: UnsafeCell::new(None),
        }
    }

    /// The value, if the cell has been initialised.
    #[inline]
    pub fn get(&self) -> Option<&T> {
        if !self.once.is_completed() {
            return None;
        }
        // SAFETY: the `Once` has completed (an `Acquire` load), so the value was written
        // before it and is never written again while `&self` is shared (module docs).
        self.value.with(|value| unsafe { (*value).as_ref() })
    }

    /// The value, mutably, if the cell has been initialised.
    #[inline]
    pub fn get_mut(&mut self) -> Option<&mut T> {
        // SAFETY: `&mut self` is the only access to the cell.
        self.value.with_mut(|value| unsafe { (*value).as_mut() })
    }

    /// Sets the value if the cell is empty; otherwise hands `value` back. Waits if another
    /// thread is initialising the cell.
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("the initialiser runs once"));
        match value {
            None => Ok(()),
            Some(value) => Err(value),
        }
    }

    /// The value, initialising the cell with `f` if it is empty. Waits if another thread is
    /// initialising it; if `f` panics, the panic propagates and the cell stays empty.
    #[inline]
    #[track_caller]
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(value) = self.get() {
            return value;
        }
        self.initialize(f);
        self.get().expect("the cell is initialised")
    }

    #[cold]
    #[track_caller]
    fn initialize<F: FnOnce() -> T>(&self, f: F) {
        let mut f = Some(f);
        let cell = &self.value;
        self.once.call(true, &mut |_| {
            let value = f.take().expect("the initialiser runs once")();
            // SAFETY: this thread runs the `Once`'s initialisation: nobody else reads or
            // writes the cell until the run completes (module docs).
            cell.with_mut(|cell| unsafe { *cell = Some(value) });
        });
    }

    /// Takes the value out, leaving the cell empty.
    pub fn take(&mut self) -> Option<T> {
        self.once.reset();
        // SAFETY: `&mut self` is the only access to the cell.
        self.value.with_mut(|value| unsafe { (*value).take() })
    }

    /// The value, consuming the cell.
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }
}

impl<T> Default for OnceLock<T> {
    #[track_caller]
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T> From<T> for OnceLock<T> {
    #[track_caller]
    fn from(value: T) -> OnceLock<T> {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        cell
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    #[track_caller]
    fn clone(&self) -> OnceLock<T> {
        let cell = OnceLock::new();
        if let Some(value) = self.get() {
            let _ = cell.set(value.clone());
        }
        cell
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &OnceLock<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(value) => d.field(value),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

// SAFETY: shared access hands out `&T` (so `T: Sync`) and may initialise the value on one
// thread and drop it on another (so `T: Send`); the `Once` orders the one write before every
// shared read (module docs). As std's `OnceLock`.
unsafe impl<T: Sync + Send> Sync for OnceLock<T> {}

impl<T: RefUnwindSafe + UnwindSafe> RefUnwindSafe for OnceLock<T> {}
impl<T: UnwindSafe> UnwindSafe for OnceLock<T> {}
