//! impasse's events and reports as `tracing` events (the `tracing` feature), for the
//! subscribers a program already runs: targets `impasse::lock` (acquired, released),
//! `impasse::wait` (a request about to block) and `impasse::report` (every finding), with
//! fields, not formatted strings.
//!
//! With no subscriber interested, each hook costs `tracing`'s own level check: one relaxed
//! load. A subscriber that takes impasse's locks while it handles an impasse event would be
//! called again from inside itself: events raised on a thread that is already emitting one
//! are dropped. (A subscriber that takes an impasse lock while it handles some *other* event
//! receives that lock's event in the middle, as it would any event emitted from inside it; if
//! it then takes the same lock again, that is a relock, and impasse reports it as one.)

use crate::report::{Access, Report, ResourceKind};
use std::cell::Cell;
use std::panic::Location;

crate::facade::per_thread! {
    static EMITTING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `emit` unless this thread is emitting already.
fn guarded(emit: impl FnOnce()) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = EMITTING.try_with(|e| e.set(false));
        }
    }
    if EMITTING.try_with(|e| e.replace(true)) != Ok(false) {
        return;
    }
    let _reset = Reset;
    emit();
}

/// A thread acquired a resource.
#[inline]
pub(crate) fn acquired(
    id: u64,
    kind: ResourceKind,
    access: Access,
    at: &'static Location<'static>,
    blocking: bool,
) {
    if tracing::enabled!(target: "impasse::lock", tracing::Level::TRACE) {
        guarded(|| {
            tracing::event!(
                target: "impasse::lock",
                tracing::Level::TRACE,
                resource = id,
                kind = %kind,
                access = %access,
                file = at.file(),
                line = at.line(),
                column = at.column(),
                blocking,
                "acquired"
            )
        });
    }
}

/// A thread released a resource.
#[inline]
pub(crate) fn released(id: u64, access: Access) {
    if tracing::enabled!(target: "impasse::lock", tracing::Level::TRACE) {
        guarded(|| {
            tracing::event!(
                target: "impasse::lock",
                tracing::Level::TRACE,
                resource = id,
                access = %access,
                "released"
            )
        });
    }
}

/// A thread is about to block.
#[inline]
pub(crate) fn request(id: u64, kind: ResourceKind, access: Access, at: &'static Location<'static>) {
    if tracing::enabled!(target: "impasse::wait", tracing::Level::TRACE) {
        guarded(|| {
            tracing::event!(
                target: "impasse::wait",
                tracing::Level::TRACE,
                resource = id,
                kind = %kind,
                access = %access,
                file = at.file(),
                line = at.line(),
                column = at.column(),
                "blocks"
            )
        });
    }
}

/// A finding, before its policy acts.
pub(crate) fn report(report: &Report) {
    if tracing::enabled!(target: "impasse::report", tracing::Level::WARN) {
        guarded(|| {
            tracing::event!(
                target: "impasse::report",
                tracing::Level::WARN,
                kind = ?report.kind,
                threads = report
                    .inversion
                    .as_ref()
                    .map_or(report.threads.len(), |i| i.edges.len()),
                detected_by = report.detected_by.id,
                detected_by_name = report.detected_by.name.as_deref(),
                report = %report,
                "impasse finding"
            )
        });
    }
}
