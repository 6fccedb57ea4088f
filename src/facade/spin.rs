//! Bounded spinning before a thread gives up and parks.
//!
//! The schedule mirrors parking_lot_core's `SpinWait` (a few rounds of exponential
//! `spin_loop`, then a few `yield_now`), so a contended acquisition that parking_lot would
//! win by spinning also wins here without touching the detector. Under loom, spinning only
//! multiplies the schedules to explore, so `spin` refuses at once and the caller goes
//! straight to its blocking path.

/// Counts spin rounds; `spin` says whether the caller should try once more.
#[derive(Debug, Default)]
pub(crate) struct SpinWait {
    rounds: u32,
}

impl SpinWait {
    /// A fresh spin budget.
    #[inline]
    pub(crate) const fn new() -> Self {
        SpinWait { rounds: 0 }
    }

    /// Spends one round of the budget; `false` once it is spent.
    #[inline]
    pub(crate) fn spin(&mut self) -> bool {
        if cfg!(loom) || self.rounds >= 10 {
            return false;
        }
        self.rounds += 1;
        if self.rounds <= 3 {
            for _ in 0..(1u32 << self.rounds) {
                super::hint::spin_loop();
            }
        } else {
            super::thread::yield_now();
        }
        true
    }
}
