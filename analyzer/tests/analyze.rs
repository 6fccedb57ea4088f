//! `impasse analyze` on traces recorded here: it reports an inversion the run recorded, stays
//! quiet on a clean trace, and refuses bad input with exit status 2 and the place.
//!
//! One test: a process records into one trace directory.

use impasse::policy::{Action, Settings};
use impasse::Mutex;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Barrier};

fn analyze(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_impasse"))
        .arg("analyze")
        .args(args)
        .output()
        .expect("the impasse binary runs")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Two threads, `forward` and `backward`, take `alpha` and `beta` in opposite orders, one
/// after the other (no deadlock in this run).
fn opposite_orders() {
    let (a, b) = (
        Arc::new(Mutex::named("alpha", 0)),
        Arc::new(Mutex::named("beta", 0)),
    );
    let turn = Arc::new(Barrier::new(2));
    let forward = {
        let (a, b, turn) = (a.clone(), b.clone(), turn.clone());
        impasse::thread::Builder::new()
            .name("forward".into())
            .spawn(move || {
                let _a = a.lock();
                let _b = b.lock();
                drop((_b, _a));
                turn.wait();
            })
            .expect("spawn")
    };
    let backward = impasse::thread::Builder::new()
        .name("backward".into())
        .spawn(move || {
            turn.wait();
            let _b = b.lock();
            let _a = a.lock();
        })
        .expect("spawn");
    forward.join().expect("forward");
    backward.join().expect("backward");
}

#[test]
fn reports_a_recorded_inversion_and_refuses_bad_input() {
    let root = std::env::temp_dir().join(format!("impasse-analyze-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let traces = root.join("traces");
    Settings::from_env()
        .unwrap_or_default()
        .on_inversion(Action::Ignore)
        .trace_dir(Some(traces.clone()))
        .install();
    opposite_orders();
    impasse::trace::flush();

    let found = analyze(&[&traces]);
    let (out, err) = text(&found);
    assert_eq!(found.status.code(), Some(1), "{out}\n{err}");
    assert!(
        out.starts_with("impasse: potential deadlock: 2 threads"),
        "{out}"
    );
    for part in [
        "\"forward\"",
        "\"backward\"",
        "Mutex \"alpha\"",
        "analyzer/tests/analyze.rs:",
    ] {
        assert!(out.contains(part), "{part} in:\n{out}");
    }
    assert!(err.contains("1 potential deadlock in 1 trace"), "{err}");

    // The same trace, cut in the middle of its last chunk: analysed up to there, and said.
    let file: PathBuf = std::fs::read_dir(&traces)
        .expect("traces")
        .next()
        .expect("one trace")
        .expect("an entry")
        .path();
    let bytes = std::fs::read(&file).expect("the trace");
    let cut = root.join("cut.trace");
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).expect("write");
    let (_, err) = text(&analyze(&[&cut]));
    assert!(err.contains("cut off at byte"), "{err}");

    // A clean trace: a header and nothing else.
    let header_len = bytes
        .iter()
        .position(|&b| b == b'C')
        .expect("a first chunk");
    let clean = root.join("clean.trace");
    std::fs::write(&clean, &bytes[..header_len]).expect("write");
    let quiet = analyze(&[&clean]);
    assert_eq!(quiet.status.code(), Some(0), "{:?}", text(&quiet));

    // Bad input: named, with exit status 2.
    let foreign = root.join("foreign.trace");
    std::fs::write(&foreign, b"not a trace at all").expect("write");
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let missing = root.join("missing.trace");
    for (input, says) in [
        (&foreign, "byte 0: not an impasse trace"),
        (&empty, "no *.trace files"),
        (&missing, "no such file"),
    ] {
        let refused = analyze(&[input]);
        let (_, err) = text(&refused);
        assert_eq!(refused.status.code(), Some(2), "{err}");
        assert!(
            err.contains(says) && err.contains(&*input.to_string_lossy()),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// Which half a child process runs, in `two_tests_in_opposite_orders_are_one_finding_across`.
const HALF: &str = "IMPASSE_ANALYZE_TEST_HALF";
const ACROSS: &str = "two_tests_in_opposite_orders_are_one_finding_across";

/// Two locks of two classes, created at the same sites in every process.
fn two_classes() -> (Mutex<u32>, Mutex<u32>) {
    (Mutex::new(0), Mutex::new(0))
}

#[test]
fn two_tests_in_opposite_orders_are_one_finding_across() {
    if let Ok(half) = std::env::var(HALF) {
        // A child: one order, in a process of its own; harmless alone.
        let (first, second) = two_classes();
        if half == "forward" {
            drop((first.lock(), second.lock()));
        } else {
            let _second = second.lock();
            let _first = first.lock();
        }
        return;
    }
    let dir = std::env::temp_dir().join(format!("impasse-across-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for half in ["forward", "backward"] {
        let mut child = Command::new(std::env::current_exe().expect("this test binary"));
        child
            .args([ACROSS, "--exact", "--test-threads=1"])
            .env(HALF, half)
            .env("IMPASSE_TRACE", &dir)
            .env("RUST_BACKTRACE", "0");
        let status = child.status().expect("the child runs");
        assert!(status.success(), "the {half} half alone is clean");
    }
    let alone = analyze(&[&dir]);
    assert_eq!(alone.status.code(), Some(0), "{:?}", text(&alone));

    let across = Command::new(env!("CARGO_BIN_EXE_impasse"))
        .args(["analyze", "--across"])
        .arg(&dir)
        .output()
        .expect("the impasse binary runs");
    let (out, err) = text(&across);
    assert_eq!(across.status.code(), Some(1), "{out}\n{err}");
    assert_eq!(
        out.matches("impasse: potential deadlock").count(),
        1,
        "{out}"
    );
    assert!(
        out.contains("lock classes") || out.contains("strict"),
        "{out}"
    );
    let traces: std::collections::BTreeSet<&str> = out
        .lines()
        .filter_map(|line| line.split("in the trace ").nth(1))
        .collect();
    assert_eq!(traces.len(), 2, "each order's trace is named:\n{out}");
    assert!(err.contains("judged as one run by lock class"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
