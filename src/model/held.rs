//! What a thread holds, and how a resource is named without touching it.

use super::ids::ResourceId;
use crate::report::{Access, ResourceKind};
use std::fmt::Debug;
use std::hash::Hash;
use std::panic::Location;

/// What the model knows of a source site: something to compare, order and hash. The runtime's
/// sites are `&'static Location<'static>`; a trace reader's are the numbers of the sites in
/// its trace (each site is written once and referred to by number).
pub trait SiteKey: Copy + Eq + Ord + Hash + Debug {}

impl<S: Copy + Eq + Ord + Hash + Debug> SiteKey for S {}

/// A resource, as a judgement names it: its id, its kind and where it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceRef<S = &'static Location<'static>> {
    /// The resource's id.
    pub id: ResourceId,
    /// What sort of primitive it is.
    pub kind: ResourceKind,
    /// Where it was created: its class, in lockdep's terms.
    pub created_at: S,
}

/// One hold of a resource by a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held<S = &'static Location<'static>> {
    /// What is held.
    pub resource: ResourceRef<S>,
    /// How it is held.
    pub access: Access,
    /// Where it was acquired.
    pub at: S,
    /// Where the resource was in memory when it was taken. The lock-order graph places a lock
    /// new to it by this, so locks of an array taken by index agree with the order at once
    /// (a matter of speed only: no judgement depends on it).
    pub address: usize,
}
