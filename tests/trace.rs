//! Traces: what a run records reads back whole, replays through the lock-order rules to the
//! runtime's verdict, and survives being cut off at any byte.
//!
//! One test: the trace directory is the process's, so the scenarios share one file.

#![cfg(feature = "detect")]

mod common;

use common::{one_after_another, spawn, watchdog};
use impasse::policy::{Action, Settings};
use impasse::trace::{self, Event, TraceReader};
use impasse::Mutex;
use std::path::PathBuf;
use std::sync::Arc;

fn lock_pair(a: &Mutex<u32>, b: &Mutex<u32>) {
    let mut a = a.lock();
    let mut b = b.lock();
    *a += 1;
    *b += 1;
}

fn trace_file(dir: &PathBuf) -> PathBuf {
    let pid = std::process::id();
    std::fs::read_dir(dir)
        .expect("the trace directory")
        .map(|entry| entry.expect("an entry").path())
        .find(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("impasse-{pid}")))
        })
        .expect("this process's trace")
}

#[test]
fn a_recorded_run_replays_to_the_runtimes_verdict_and_survives_any_cut() {
    let _watchdog = watchdog("trace");
    let dir = std::env::temp_dir().join(format!("impasse-trace-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Settings::from_env()
        .unwrap_or_default()
        .on_inversion(Action::Panic)
        .trace_dir(Some(dir.clone()))
        .install();

    // Fires: two threads, opposite orders.
    let (a, b) = (
        Arc::new(Mutex::named("alpha", 0)),
        Arc::new(Mutex::named("beta", 0)),
    );
    let reports = {
        let (a1, b1, a2, b2) = (a.clone(), b.clone(), a.clone(), b.clone());
        one_after_another(
            ("forward", move || lock_pair(&a1, &b1)),
            ("backward", move || lock_pair(&b2, &a2)),
        )
    };
    assert_eq!(
        reports.len(),
        1,
        "the runtime reports the inversion once: {reports:?}"
    );
    let report = &reports[0];

    // Quiet: one thread in both orders; and two threads under a common gate.
    let (c, d) = (Mutex::new(0), Mutex::new(0));
    lock_pair(&c, &d);
    lock_pair(&d, &c);
    let (gate, e, f) = (
        Arc::new(Mutex::new(())),
        Arc::new(Mutex::new(0)),
        Arc::new(Mutex::new(0)),
    );
    let quiet = {
        let (g1, e1, f1) = (gate.clone(), e.clone(), f.clone());
        let (g2, e2, f2) = (gate.clone(), e.clone(), f.clone());
        one_after_another(
            ("gated-forward", move || {
                let _g = g1.lock();
                lock_pair(&e1, &f1);
            }),
            ("gated-backward", move || {
                let _g = g2.lock();
                lock_pair(&f2, &e2);
            }),
        )
    };
    assert!(quiet.is_empty(), "{quiet:?}");

    // A cooperative wait: in a rendezvous, whoever comes first waits for the other.
    let (tx, rx) = impasse::mpsc::sync_channel::<u32>(0);
    let receiver = spawn("receiver", move || rx.recv().expect("a message"));
    tx.send(7).expect("the receiver is there");
    assert_eq!(receiver.join().expect("receives"), 7);
    trace::flush();

    let path = trace_file(&dir);
    let open = || TraceReader::open(&path);
    let replayed = trace::replay::lock_order(open, false).expect("a readable trace");
    let findings = &replayed.findings;
    assert_eq!(
        findings.len(),
        1,
        "the replay finds what the runtime found, once"
    );
    let replayed_text = replayed.report(&findings[0]).to_string();
    let first_line = |text: &str| text.lines().next().map(str::to_owned);
    assert_eq!(
        first_line(&replayed_text),
        first_line(report),
        "{replayed_text}"
    );
    assert!(replayed_text.contains("Mutex \"alpha\""), "{replayed_text}");
    {
        let mut reader = open().expect("a trace");
        let events: Vec<_> = reader.by_ref().collect::<Result<_, _>>().expect("events");
        assert!(reader.truncated().is_none());
        let starts = events
            .iter()
            .filter(|r| matches!(&r.event, Event::ThreadStart { name: Some(n) } if n == "backward"))
            .count();
        assert_eq!(starts, 1, "each thread starts once, with its name");
        assert!(events.iter().any(|r| matches!(
            &r.event,
            Event::Resource { name: Some(n), .. } if n == "alpha"
        )));
        let waits: Vec<_> = events
            .iter()
            .filter(|r| {
                matches!(&r.event, Event::Request { access, .. }
                    if matches!(access, impasse::report::Access::Receive | impasse::report::Access::Send))
            })
            .collect();
        assert!(!waits.is_empty(), "the rendezvous made someone wait");
        for wait in waits {
            let Event::Request { resource, .. } = wait.event else {
                unreachable!()
            };
            assert!(
                events
                    .iter()
                    .any(|r| r.thread == wait.thread && r.event == Event::WaitEnded { resource }),
                "every cooperative wait ends in the trace"
            );
        }
    }
    for witness in &findings[0] {
        let name = witness.thread_name.as_deref().expect("named threads");
        assert!(
            report.contains(&format!("\"{name}\"")),
            "{name} in:\n{report}"
        );
        for at in [witness.from_at, witness.to_at] {
            let site = replayed.site(at).expect("a defined site");
            let text = format!("{}:{}:{}", site.file, site.line, site.column);
            assert!(report.contains(&text), "{text} in:\n{report}");
        }
    }

    // Cut at every byte: never a panic; what is read is a prefix of the whole.
    let bytes = std::fs::read(&path).expect("the trace's bytes");
    let whole: Vec<_> = TraceReader::from_bytes(&bytes)
        .expect("a trace")
        .collect::<Result<_, _>>()
        .expect("events");
    let mut cut_off = 0;
    for cut in 0..bytes.len() {
        let Ok(mut reader) = TraceReader::from_bytes(&bytes[..cut]) else {
            continue; // the header itself is cut
        };
        let read: Vec<_> = reader
            .by_ref()
            .map(|r| r.expect("no error, only an end"))
            .collect();
        assert_eq!(read[..], whole[..read.len()], "cut at {cut}");
        cut_off += usize::from(reader.truncated().is_some());
    }
    assert!(
        cut_off > bytes.len() / 2,
        "most cuts fall inside a chunk and say so"
    );

    // Any byte changed: an error or other events, never a panic.
    for at in 0..bytes.len() {
        let mut broken = bytes.clone();
        broken[at] ^= 0x5a;
        if let Ok(reader) = TraceReader::from_bytes(&broken) {
            for record in reader {
                if let Err(error) = record {
                    assert!(error.offset() <= bytes.len() as u64);
                    break;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
