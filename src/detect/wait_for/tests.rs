//! Unit tests of the wait-for graph.
