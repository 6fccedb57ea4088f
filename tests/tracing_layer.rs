//! The `tracing` feature: a subscriber receives impasse's lock and report events as fields,
//! a subscriber that takes impasse's locks itself does not recurse, and `TraceLayer` records
//! the process's trace.
//!
//! One test: the global subscriber and the trace directory are the process's.

mod common;

use common::{spawn, watchdog};
use impasse::policy::{Action, Settings};
use impasse::trace::{replay, TraceLayer, TraceReader};
use impasse::Mutex;
use std::fmt::Write;
use std::sync::{Arc, Barrier, OnceLock};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Every event seen: target, then `name=value` fields.
fn seen() -> &'static std::sync::Mutex<Vec<String>> {
    static SEEN: OnceLock<std::sync::Mutex<Vec<String>>> = OnceLock::new();
    SEEN.get_or_init(|| std::sync::Mutex::new(Vec::new()))
}

/// An impasse lock the collector takes while it handles each event, as a subscriber that
/// shares state through impasse's locks does: its own events must not come back into it.
fn probe() -> &'static Mutex<u64> {
    static PROBE: OnceLock<Mutex<u64>> = OnceLock::new();
    PROBE.get_or_init(|| Mutex::new(0))
}

struct Collector;

/// Whether the collector collects (off while the test reads the probe it takes).
static COLLECTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl<S: tracing::Subscriber> Layer<S> for Collector {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if !COLLECTING.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let mut fields = Fields(event.metadata().target().to_owned());
        event.record(&mut fields);
        *probe().lock() += 1;
        seen().lock().expect("no panic while held").push(fields.0);
    }
}

#[test]
fn a_subscriber_sees_lock_and_report_events_and_the_layer_records() {
    let _watchdog = watchdog("tracing layer");
    let dir = std::env::temp_dir().join(format!("impasse-layer-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Settings::from_env()
        .unwrap_or_default()
        .on_inversion(Action::Panic)
        .install();
    let subscriber = tracing_subscriber::registry()
        .with(Collector)
        .with(TraceLayer::new(&dir));
    tracing::subscriber::set_global_default(subscriber).expect("the first subscriber");

    let (a, b) = (
        Arc::new(Mutex::named("alpha", 0)),
        Arc::new(Mutex::named("beta", 0)),
    );
    let turn = Arc::new(Barrier::new(2));
    let forward = {
        let (a, b, turn) = (a.clone(), b.clone(), turn.clone());
        spawn("forward", move || {
            drop((a.lock(), b.lock()));
            turn.wait();
        })
    };
    let backward = spawn("backward", move || {
        turn.wait();
        let _b = b.lock();
        let _a = a.lock();
    });
    forward.join().expect("forward runs clean");
    let panic = backward.join().expect_err("backward closes the cycle");
    assert!(common::panic_text(&*panic).starts_with("impasse: potential deadlock"));

    COLLECTING.store(false, std::sync::atomic::Ordering::SeqCst);
    let seen = seen().lock().expect("no panic while held").clone();
    let handled = *probe().lock();
    assert_eq!(
        handled as usize,
        seen.len(),
        "the probe's own events never reached it"
    );
    let acquired = seen
        .iter()
        .filter(|e| e.starts_with("impasse::lock") && e.contains("message=acquired"))
        .filter(|e| e.contains("file=tests/tracing_layer.rs") && e.contains("blocking=true"))
        .count();
    // forward's two, backward's first; backward's second closed the cycle and was undone
    // before its unwinding, so it was never an acquisition.
    assert_eq!(acquired, 3, "the acquisitions, as fields:\n{seen:#?}");
    assert!(
        seen.iter()
            .any(|e| e.starts_with("impasse::lock") && e.contains("message=released")),
        "{seen:#?}"
    );
    let reports: Vec<_> = seen
        .iter()
        .filter(|e| e.starts_with("impasse::report"))
        .collect();
    assert_eq!(reports.len(), 1, "{seen:#?}");
    assert!(
        reports[0].contains("kind=PotentialDeadlock") && reports[0].contains("threads=2"),
        "{}",
        reports[0]
    );

    impasse::trace::flush();
    let path = std::fs::read_dir(&dir)
        .expect("the layer's directory")
        .next()
        .expect("a trace")
        .expect("an entry")
        .path();
    let replayed = replay::lock_order(|| TraceReader::open(&path), false).expect("a trace");
    assert_eq!(replayed.findings.len(), 1, "the layer recorded the run");
    let _ = std::fs::remove_dir_all(&dir);
}
