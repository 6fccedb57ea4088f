//! Which accesses exclude each other: the one rule both the wait-for graph (who is blocked by
//! whom) and the lock-order rules (which orders can deadlock) apply.

use crate::report::Access;

/// Whether a request with access `request` must wait for a hold with access `held`
/// (parking_lot's rules).
///
/// A write waits for every hold; a read for a write; an upgradable read for a write or another
/// upgradable read; an upgrade for every read, the upgrading thread's own plain reads included,
/// but not for its own upgradable read, which it is converting (no other thread can hold one at
/// the same time). Waits that are not for locks (a notification, a message, a permit) are never
/// granted by a holder's release, so they conflict with no hold.
///
/// ```
/// use impasse::model::conflicts;
/// use impasse::report::Access;
///
/// assert!(conflicts(Access::Exclusive, Access::Shared));
/// assert!(!conflicts(Access::Shared, Access::Shared));
/// assert!(!conflicts(Access::Upgrade, Access::Upgradable));
/// ```
pub fn conflicts(request: Access, held: Access) -> bool {
    match request {
        Access::Exclusive => true,
        Access::Shared | Access::SharedRecursive => held == Access::Exclusive,
        Access::Upgradable => matches!(held, Access::Exclusive | Access::Upgradable),
        Access::Upgrade => matches!(
            held,
            Access::Exclusive | Access::Shared | Access::SharedRecursive
        ),
        _ => false,
    }
}
