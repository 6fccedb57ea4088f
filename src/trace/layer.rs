//! A `tracing-subscriber` layer that records impasse's traces (the `tracing` feature).

use std::path::PathBuf;
use tracing_subscriber::layer::Layer;

/// Records impasse's traces into a directory, for a program that sets up its diagnostics as a
/// `tracing` subscriber: adding this layer does what `IMPASSE_TRACE=DIR` does.
///
/// The events are recorded where they happen, in the compact trace format (about 6 bytes an
/// event, [`crate::trace`]), not re-encoded from the `tracing` events impasse also emits: those
/// carry a field set each, which is what a subscriber wants and what a trace cannot afford. So the
/// layer's only work is to switch the recorder on; it passes every event through untouched.
///
/// ```no_run
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(impasse::trace::TraceLayer::new("target/traces"));
/// tracing::subscriber::set_global_default(subscriber).expect("the first subscriber");
/// ```
#[derive(Debug, Clone)]
pub struct TraceLayer {
    dir: PathBuf,
}

impl TraceLayer {
    /// A layer recording into `dir` (created if needed); recording starts now.
    pub fn new(dir: impl Into<PathBuf>) -> TraceLayer {
        let dir = dir.into();
        super::record::set_dir(Some(dir.clone()));
        TraceLayer { dir }
    }

    /// The directory the process's trace is written to.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl<S: tracing::Subscriber> Layer<S> for TraceLayer {}
