//! What the bench targets share: the build label and criterion's settings.

use criterion::Criterion;
use std::time::Duration;

/// The build being measured: which of the package's features are on. Benchmark ids end in it,
/// so that `benches/run.sh`'s two builds keep their results apart.
pub const BUILD: &str = match (
    cfg!(feature = "detect"),
    cfg!(feature = "deloxide-lock-order"),
) {
    (true, false) => "detect",
    (true, true) => "detect-deloxide-lock-order",
    (false, false) => "off",
    (false, true) => "off-deloxide-lock-order",
};

/// impasse's name in benchmark ids: instrumented or not.
pub const IMPASSE: &str = if cfg!(feature = "detect") {
    "impasse-detect"
} else {
    "impasse-off"
};

/// Short runs, repeated by `benches/run.sh`, on a small machine. Criterion's run time is set by
/// these durations, not by iteration counts, so a slow contender runs fewer iterations rather
/// than longer.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30)
}
