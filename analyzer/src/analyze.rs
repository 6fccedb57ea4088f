//! `impasse analyze`: traces replayed through the lock-order rules, each finding printed.

use crate::inputs;
use crate::Format;
use impasse::trace::replay::{self, Replayed};
use impasse::trace::{TraceError, TraceReader};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

type Opener<'p> = Box<dyn FnMut() -> Result<TraceReader<BufReader<File>>, TraceError> + 'p>;

fn opener(path: &Path) -> Opener<'_> {
    Box::new(move || TraceReader::open(path))
}

pub fn run(paths: &[PathBuf], strict: bool, across: bool, format: Format) -> ExitCode {
    let files = match inputs::trace_files(paths) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("impasse: {message}");
            return ExitCode::from(2);
        }
    };
    // Each run replayed: the traces it covers, and the replay.
    let mut runs: Vec<(&[PathBuf], Replayed)> = Vec::new();
    let groups: Vec<&[PathBuf]> = if across {
        vec![&files[..]]
    } else {
        files.chunks(1).collect()
    };
    for group in groups {
        let mut opens: Vec<Opener<'_>> = group.iter().map(|f| opener(f)).collect();
        match replay::lock_order_across(&mut opens, strict || across) {
            Ok(replayed) => runs.push((group, replayed)),
            Err(error) => {
                eprintln!("impasse: {error}");
                return ExitCode::from(2);
            }
        }
    }
    let mut found = 0;
    for (group, replayed) in &runs {
        for &(trace, offset) in &replayed.truncated {
            eprintln!(
                "impasse: {}: the trace is cut off at byte {offset} (the process ended while \
                 recording?): analysed up to there",
                group[trace].display()
            );
        }
        for finding in &replayed.findings {
            let report = replayed.report(finding);
            match format {
                Format::Text => {
                    println!("{report}");
                    for witness in finding {
                        let trace = replayed.trace_of(witness.stamp.thread).unwrap_or(0);
                        let thread = witness.thread_name.as_deref().unwrap_or("unnamed");
                        println!(
                            "  thread \"{thread}\": in the trace {}",
                            group[trace].display()
                        );
                    }
                    println!();
                }
                Format::Json => match serde_json::to_string(&report) {
                    Ok(line) => println!("{line}"),
                    Err(error) => {
                        eprintln!("impasse: cannot write a report as JSON: {error}");
                        return ExitCode::from(2);
                    }
                },
            }
            found += 1;
        }
    }
    let traces = files.len();
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            one.to_owned()
        } else {
            many.to_owned()
        }
    };
    eprintln!(
        "impasse: {found} {} in {traces} {}{}",
        plural(found, "potential deadlock", "potential deadlocks"),
        plural(traces, "trace", "traces"),
        if across {
            ", judged as one run by lock class"
        } else {
            ""
        },
    );
    if found > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
