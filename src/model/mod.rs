//! The vocabulary of impasse's judgements, with no live state: who (thread keys), what
//! (resources, named by id, kind and creation site), how (accesses, and which of them exclude
//! each other) and where (sites).
//!
//! The runtime detector judges live threads in these terms, and the analyzer judges recorded
//! traces in the same terms, so that both apply one set of rules (the lock-order rules are in
//! [`crate::predict`]). Every type is generic over the site: the runtime's is a
//! `&'static Location<'static>`, a trace reader's is the number of a site in its trace.
//!
//! These types are for tools built on impasse (the `impasse` analyzer is one); a program that
//! only uses the primitives never meets them.

mod access;
mod held;
mod ids;

pub use self::access::conflicts;
pub use self::held::{Held, ResourceRef, SiteKey};
pub use self::ids::{ResourceId, ThreadKey};
