//! Reports as JSON lines, for `IMPASSE_REPORT=FILE` and the analyzer.
//!
//! Written through `serde-json-wasm`, a serializer without a JSON value type: `serde_json`
//! in the library's dependency graph would add `impl PartialEq<Value> for u64` and friends to
//! every user's type inference (DESIGN.md §4).

use super::Report;

impl Report {
    /// The report as one line of JSON (no trailing newline).
    pub fn to_json(&self) -> String {
        // The report holds only strings, integers, options, sequences and unit enums, all of
        // which the serializer accepts, so an error here is a bug in this crate.
        serde_json_wasm::to_string(self).expect("impasse: a report always serialises to JSON")
    }
}
