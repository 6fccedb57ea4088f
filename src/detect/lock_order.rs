//! The process's lock-order graph (`predict::LockOrder`, where the rules and their argument
//! live), behind one global lock, and the reports of the inversions it finds.

use super::registry;
use crate::facade::sync::Mutex;
use crate::model::{ResourceId, ThreadKey};
use crate::predict::{self, LockOrder};
use crate::report::{self, Report};
use std::panic::Location;

/// The runtime's sites.
type Site = &'static Location<'static>;
/// A witness of the runtime's.
pub(crate) type Witness = predict::Witness<Site>;

crate::facade::global! {
    static LOCK_ORDER: Mutex<LockOrder<Site>> = Mutex::new(LockOrder::default());
}

/// Records `witnesses` (all of one acquisition, one per held lock) and returns the report of
/// the first cycle they close that can deadlock and was not reported before.
pub(crate) fn record(witnesses: Vec<Witness>, strict: bool) -> Option<Report> {
    let reporter = witnesses
        .first()
        .map(|w| (w.stamp.thread, w.thread_name.clone()))?;
    let chosen = LOCK_ORDER.lock().record(witnesses, strict)?;
    Some(predict::inversion_report(
        &chosen,
        strict,
        predict::thread_ref(reporter.0, reporter.1.as_deref()),
        report::Site::from,
        registry::name_of,
    ))
}

/// Records that `thread`, whose stamps some witness may hold, was joined by `joiner`, whose
/// epoch just after the join is `epoch`.
pub(crate) fn absorbed(thread: ThreadKey, joiner: ThreadKey, epoch: u64) {
    LOCK_ORDER.lock().absorbed(thread, joiner, epoch);
}

/// Removes a dropped lock and its edges.
pub(crate) fn forget(id: ResourceId) {
    LOCK_ORDER.lock().forget(id);
}
