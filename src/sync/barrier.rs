//! [`Barrier`]: `std::sync::Barrier`'s API, as a cooperative wait the detector sees.
//!
//! The reference shape of a cooperative primitive (`detect/cooperative.rs`): state under a
//! facade mutex, a facade condition variable, `CoopWait::begin` before the state says this
//! thread waits, `CoopWait::sleep` then `again` until its generation is complete, and the
//! releasing party grants every waiter before it wakes them.

use crate::detect::{self, CoopWait, ResourceMeta, WakeBy};
use crate::facade::sync::{Condvar, Mutex};
use crate::report::{Access, ResourceKind};
use std::borrow::Cow;
use std::fmt;
use std::panic::Location;

/// A barrier: `n` threads wait until all `n` have arrived, then all go on. A swap-in for
/// `std::sync::Barrier`.
///
/// A party that can never arrive (it is blocked on something a waiting party holds, or it
/// does not exist) leaves the others waiting forever; in a closed world (`#[impasse::test]`,
/// or a program whose every thread impasse knows) that is reported as a deadlock.
///
/// ```
/// use impasse::Barrier;
/// use std::sync::Arc;
///
/// let barrier = Arc::new(Barrier::new(2));
/// let other = {
///     let barrier = Arc::clone(&barrier);
///     std::thread::spawn(move || barrier.wait().is_leader())
/// };
/// let here = barrier.wait().is_leader();
/// assert!(here ^ other.join().unwrap()); // exactly one leader
/// ```
pub struct Barrier {
    parties: usize,
    state: Mutex<State>,
    all_arrived: Condvar,
    meta: ResourceMeta,
}

struct State {
    /// Parties arrived in the current generation.
    arrived: usize,
    /// Counts completed generations, so a woken waiter knows its own has completed.
    generation: u64,
}

/// What [`Barrier::wait`] returns: one of the parties of each generation is the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this party is the generation's leader (the last to arrive).
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `parties` threads (`0` and `1` never block).
    #[track_caller]
    pub fn new(parties: usize) -> Barrier {
        Barrier::from_meta(
            parties,
            ResourceMeta::new(ResourceKind::Barrier, Location::caller()),
        )
    }

    /// A barrier that reports call `name`.
    #[track_caller]
    pub fn named(name: impl Into<Cow<'static, str>>, parties: usize) -> Barrier {
        Barrier::from_meta(
            parties,
            ResourceMeta::named(ResourceKind::Barrier, Location::caller(), name.into()),
        )
    }

    fn from_meta(parties: usize, meta: ResourceMeta) -> Barrier {
        Barrier {
            parties,
            state: Mutex::new(State {
                arrived: 0,
                generation: 0,
            }),
            all_arrived: Condvar::new(),
            meta,
        }
    }

    /// Waits until all parties have arrived.
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        let mut state = self.state.lock();
        if state.arrived + 1 >= self.parties {
            state.arrived = 0;
            state.generation = state.generation.wrapping_add(1);
            detect::grant_all(&self.meta);
            self.all_arrived.notify_all();
            return BarrierWaitResult(true);
        }
        // Registered before this party counts as arrived: if the detector's policy panics
        // here, the barrier is left as if this thread had never come.
        let mut waiting = CoopWait::begin(
            &self.meta,
            Access::Arrival,
            WakeBy::Anyone,
            Location::caller(),
            false,
        );
        state.arrived += 1;
        let mut arrival = Arrival {
            generation: state.generation,
            state: Some(state),
        };
        loop {
            let state = arrival
                .state
                .take()
                .expect("the arrival holds the state lock");
            let state = waiting.sleep(&self.state, state, &self.all_arrived, None);
            let done = state.generation != arrival.generation;
            arrival.state = Some(state);
            if done {
                arrival.state = None; // unlocked, and nothing to undo
                return BarrierWaitResult(false);
            }
            waiting.again();
        }
    }
}

/// A party counted as arrived, holding the barrier's state lock while it is not waiting. If
/// the party unwinds (a deadlock report) before its generation completes, it is uncounted.
struct Arrival<'a> {
    generation: u64,
    state: Option<crate::facade::sync::MutexGuard<'a, State>>,
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        if let Some(state) = &mut self.state {
            if state.generation == self.generation {
                state.arrived -= 1;
            }
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .finish_non_exhaustive()
    }
}
