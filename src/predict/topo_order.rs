//! A dynamic topological order of a growing graph's strongly connected components
//! (Pearce and Kelly's algorithm, "A dynamic topological sort algorithm for directed acyclic
//! graphs", JEA 2006; tracing-mutex and absl's GraphCycles keep locks in such an order), so that
//! adding an edge answers "does it close a cycle?" in constant time when it agrees with the
//! order, and otherwise by a search of only the part of the graph the order must change.
//!
//! The lock-order graph keeps edges that close cycles: most of them are not reported (one
//! thread in both orders, a common gate lock), and a later witness may make them reportable.
//! So the order is over **components**: nodes known to lie on a common cycle are merged into
//! one, which takes one place in the order. Invariant: for every edge `a → b` of the graph
//! between different components, `place(a) < place(b)`. An edge inside a component may close
//! cycles through it; an edge between components closes one exactly when the search finds a
//! path back, and then every component on such a path is merged.
//!
//! Nodes leave when their lock is dropped; a component that loses members stays merged (at
//! worst an edge inside it is searched for a cycle that is no longer there, which the search
//! then does not find).
//!
//! The algorithm knows nothing of locks: it is given the graph's edges through `successors`
//! and `predecessors` functions.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::hash::Hash;

/// A component's number.
type Component = u64;

/// The order, over nodes of type `N`.
#[derive(Debug)]
pub(crate) struct TopoOrder<N> {
    component: HashMap<N, Component>,
    members: HashMap<Component, Vec<N>>,
    /// Each component's place; places are distinct, and may have gaps. A reordering only
    /// permutes the places of the components it moves, so `taken` changes only as
    /// components come and go.
    place: HashMap<Component, u64>,
    /// The places in use.
    taken: HashSet<u64>,
    next_component: Component,
}

impl<N> Default for TopoOrder<N> {
    fn default() -> Self {
        TopoOrder {
            component: HashMap::default(),
            members: HashMap::default(),
            place: HashMap::default(),
            taken: HashSet::default(),
            next_component: 0,
        }
    }
}

/// What adding an edge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// It agrees with an order of the graph: no cycle goes through it.
    Acyclic,
    /// Its ends are in one component: cycles may go through it.
    InCycle,
}

impl<N: Copy + Eq + Hash> TopoOrder<N> {
    /// Adds `node`, if it is new, at `near` or the first free place after it (a new node has
    /// no edges yet, so any free place keeps the order). The caller's choice is what makes the
    /// common case free: locks placed by address and taken in that order (by index in an
    /// array, say) agree with the order from the start and never move.
    pub(crate) fn add_node(&mut self, node: N, near: u64) {
        if self.component.contains_key(&node) {
            return;
        }
        let mut place = near;
        while !self.taken.insert(place) {
            place = place.wrapping_add(1);
        }
        let component = self.next_component;
        self.next_component += 1;
        self.component.insert(node, component);
        self.members.insert(component, vec![node]);
        self.place.insert(component, place);
    }

    /// Removes `node` (its edges are gone from the graph).
    pub(crate) fn remove_node(&mut self, node: N) {
        let Some(component) = self.component.remove(&node) else {
            return;
        };
        let members = self
            .members
            .get_mut(&component)
            .expect("a node's component has members");
        members.retain(|&member| member != node);
        if members.is_empty() {
            self.members.remove(&component);
            if let Some(place) = self.place.remove(&component) {
                self.taken.remove(&place);
            }
        }
    }

    /// Whether `a` and `b` are in one component (known to lie on a common cycle).
    pub(crate) fn same_component(&self, a: N, b: N) -> bool {
        match (self.component.get(&a), self.component.get(&b)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    /// Keeps the order after the graph gained the edge `from → to` (both ends added). With
    /// `successors` and `predecessors` listing a node's neighbours in the graph, new edge
    /// included.
    pub(crate) fn add_edge<S, P>(&mut self, from: N, to: N, successors: S, predecessors: P) -> Added
    where
        S: Fn(N) -> Vec<N>,
        P: Fn(N) -> Vec<N>,
    {
        let (x, y) = (self.component[&from], self.component[&to]);
        if x == y {
            return Added::InCycle;
        }
        let (upper, lower) = (self.place[&x], self.place[&y]);
        if lower > upper {
            return Added::Acyclic;
        }
        // The affected region: components placed between `y` and `x`. Forward from `y`
        // within it, looking for `x`.
        let forward = self.reach(y, |c| c <= upper, &successors);
        let backward = self.reach(x, |c| c >= lower, &predecessors);
        if forward.contains(&x) {
            // Every component both reachable from `y` and reaching `x` lies on a cycle with the
            // new edge: one component now.
            let cycle: Vec<Component> = forward.intersection(&backward).copied().collect();
            let merged = self.merge(&cycle);
            self.reorder(&backward, &forward, Some(merged));
            Added::InCycle
        } else {
            self.reorder(&backward, &forward, None);
            Added::Acyclic
        }
    }

    /// The components reachable from `start` through `next`, placed where `within` allows.
    fn reach(
        &self,
        start: Component,
        within: impl Fn(u64) -> bool,
        next: &impl Fn(N) -> Vec<N>,
    ) -> HashSet<Component> {
        let mut seen = HashSet::default();
        seen.insert(start);
        let mut stack = vec![start];
        while let Some(component) = stack.pop() {
            for &member in &self.members[&component] {
                for neighbour in next(member) {
                    let Some(&other) = self.component.get(&neighbour) else {
                        continue;
                    };
                    if !seen.contains(&other) && within(self.place[&other]) {
                        seen.insert(other);
                        stack.push(other);
                    }
                }
            }
        }
        seen
    }

    /// Merges `components` into one (the first); returns it.
    fn merge(&mut self, components: &[Component]) -> Component {
        let (&into, rest) = components
            .split_first()
            .expect("a cycle has at least the new edge's two ends");
        for &from in rest {
            let moved = self.members.remove(&from).unwrap_or_default();
            if let Some(place) = self.place.remove(&from) {
                self.taken.remove(&place);
            }
            for &node in &moved {
                self.component.insert(node, into);
            }
            self.members
                .get_mut(&into)
                .expect("the merged component is live")
                .extend(moved);
        }
        into
    }

    /// Pearce–Kelly's reordering of the affected region: the places `backward` and `forward`
    /// held go, in order, to `backward` (minus a merged component), the merged component, then
    /// `forward` (minus it), each keeping its relative order.
    fn reorder(
        &mut self,
        backward: &HashSet<Component>,
        forward: &HashSet<Component>,
        merged: Option<Component>,
    ) {
        let by_place = |set: &HashSet<Component>, place: &HashMap<Component, u64>| {
            let mut sorted: Vec<Component> = set
                .iter()
                .copied()
                .filter(|c| place.contains_key(c) && Some(*c) != merged)
                .collect();
            sorted.sort_by_key(|c| place[c]);
            sorted
        };
        let before = by_place(backward, &self.place);
        let after = by_place(forward, &self.place);
        let mut places: Vec<u64> = backward
            .union(forward)
            .filter_map(|c| self.place.get(c).copied())
            .collect();
        places.sort_unstable();
        let order = before.into_iter().chain(merged).chain(after);
        for (component, place) in order.zip(places) {
            self.place.insert(component, place);
        }
    }

    /// Whether the order holds for every edge: for tests.
    #[cfg(test)]
    fn holds(&self, edges: &[(N, N)]) -> bool {
        let distinct: HashSet<u64> = self.place.values().copied().collect();
        distinct.len() == self.place.len()
            && distinct == self.taken
            && edges.iter().all(|&(a, b)| {
                let (ca, cb) = (self.component[&a], self.component[&b]);
                ca == cb || self.place[&ca] < self.place[&cb]
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph of `u32` nodes, its order kept alongside; node `n` is placed at `places[n]`,
    /// or at `n` past the end of `places`.
    #[derive(Default)]
    struct Graph {
        edges: Vec<(u32, u32)>,
        order: TopoOrder<u32>,
        places: Vec<u64>,
    }

    impl Graph {
        fn place(&self, n: u32) -> u64 {
            self.places.get(n as usize).copied().unwrap_or(u64::from(n))
        }

        /// Whether the edges lead from `a` to `b`.
        fn path(&self, a: u32, b: u32) -> bool {
            let mut seen = vec![a];
            let mut stack = vec![a];
            while let Some(n) = stack.pop() {
                for &(x, y) in &self.edges {
                    if x == n && !seen.contains(&y) {
                        seen.push(y);
                        stack.push(y);
                    }
                }
            }
            seen.contains(&b)
        }

        fn add(&mut self, a: u32, b: u32) -> Added {
            let (place_a, place_b) = (self.place(a), self.place(b));
            self.order.add_node(a, place_a);
            self.order.add_node(b, place_b);
            self.edges.push((a, b));
            let edges = self.edges.clone();
            let succ = |n: u32| edges.iter().filter(|e| e.0 == n).map(|e| e.1).collect();
            let pred = |n: u32| edges.iter().filter(|e| e.1 == n).map(|e| e.0).collect();
            let added = self.order.add_edge(a, b, succ, pred);
            assert!(self.order.holds(&self.edges), "{:?}", self.edges);
            added
        }
    }

    #[test]
    fn edges_against_the_order_reorder_it_and_cycles_merge() {
        let mut g = Graph::default();
        assert_eq!(g.add(3, 4), Added::Acyclic);
        assert_eq!(g.add(1, 2), Added::Acyclic);
        assert_eq!(
            g.add(4, 1),
            Added::Acyclic,
            "against the order of creation: reordered"
        );
        assert_eq!(g.add(2, 5), Added::Acyclic);
        assert_eq!(g.add(5, 3), Added::InCycle, "3 → 4 → 1 → 2 → 5 → 3");
        assert!(g.order.same_component(1, 5) && g.order.same_component(3, 4));
        assert_eq!(g.add(4, 2), Added::InCycle, "inside the component");
        assert_eq!(g.add(5, 6), Added::Acyclic);
        assert!(!g.order.same_component(5, 6));
    }

    #[test]
    fn locks_taken_in_index_order_never_search_once_ordered() {
        let mut g = Graph::default();
        for hi in 0..30 {
            for lo in 0..hi {
                assert_eq!(g.add(lo, hi), Added::Acyclic);
            }
        }
        assert_eq!(g.add(29, 0), Added::InCycle);
    }

    #[test]
    fn nodes_placed_against_the_order_they_are_taken_in_are_reordered() {
        let mut g = Graph {
            places: (0..30).rev().collect(),
            ..Graph::default()
        };
        for hi in 0..30 {
            for lo in 0..hi {
                assert_eq!(g.add(lo, hi), Added::Acyclic);
            }
        }
        assert_eq!(g.add(29, 0), Added::InCycle);
    }

    #[test]
    fn an_edge_is_in_a_cycle_exactly_when_the_graph_leads_back() {
        let mut x = 0x2545_F491_4F6C_DD1D_u64;
        let mut next = |below: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % below
        };
        for round in 0..400 {
            // Places in a random order: distinct, or (every other round) many the same.
            let mut places: Vec<u64> = (0..10).map(|n| n * 3).collect();
            for i in (1..places.len()).rev() {
                places.swap(i, next(i as u64 + 1) as usize);
            }
            if round % 2 == 1 {
                places.iter_mut().for_each(|p| *p %= 4);
            }
            let mut g = Graph {
                places,
                ..Graph::default()
            };
            for _ in 0..25 {
                let (a, b) = (next(10) as u32, next(10) as u32);
                if a == b || g.edges.contains(&(a, b)) {
                    continue;
                }
                let closes = g.path(b, a);
                assert_eq!(
                    g.add(a, b) == Added::InCycle,
                    closes,
                    "{a} → {b} after {:?}",
                    g.edges
                );
            }
        }
    }

    #[test]
    fn removed_nodes_leave_their_component() {
        let mut g = Graph::default();
        g.add(1, 2);
        g.add(2, 1);
        assert!(g.order.same_component(1, 2));
        g.order.remove_node(1);
        g.order.remove_node(2);
        assert!(g.order.component.is_empty() && g.order.members.is_empty());
        assert!(g.order.place.is_empty() && g.order.taken.is_empty());
    }
}
