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

#[cfg(test)]
mod tests {
    use crate::report::*;

    fn site(line: u32) -> Site {
        Site::new("src/lib.rs", line, 5)
    }

    #[test]
    fn a_report_round_trips_through_one_json_line() {
        let resource = Resource {
            id: 7,
            kind: ResourceKind::RwLock,
            name: Some("table \"main\"".into()),
            created_at: site(1),
        };
        let thread = ThreadRef::new(3, Some("worker".into()));
        let report = Report {
            kind: ReportKind::Deadlock,
            threads: vec![ThreadState {
                thread: thread.clone(),
                waits_for: Some(Wait {
                    resource: resource.clone(),
                    access: Access::Exclusive,
                    at: site(2),
                    blocked_by: vec![
                        Blocker {
                            thread: thread.clone(),
                            reason: BlockReason::Holds {
                                access: Access::Shared,
                                at: site(3),
                            },
                        },
                        Blocker {
                            thread: ThreadRef::new(4, None),
                            reason: BlockReason::QueuedWriter { at: site(4) },
                        },
                        Blocker {
                            thread: ThreadRef::new(5, None),
                            reason: BlockReason::Joining,
                        },
                    ],
                    any_thread_may_wake: false,
                    granted: false,
                }),
                holds: vec![Hold {
                    resource,
                    access: Access::Shared,
                    at: site(3),
                }],
            }],
            detected_by: thread,
            world: Some("test `x`".into()),
            inversion: None,
            bystanders: Vec::new(),
        };
        let line = report.to_json();
        assert!(!line.contains('\n'));
        assert!(line.contains("\"kind\":\"deadlock\""), "{line}");
        let back: Report = serde_json_wasm::from_str(&line).expect("parses back");
        assert_eq!(back, report);
    }
}
