//! `impasse analyze`: each trace replayed through the lock-order rules, each finding printed.

use crate::inputs;
use crate::Format;
use impasse::trace::{replay, TraceReader};
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(paths: &[PathBuf], strict: bool, format: Format) -> ExitCode {
    let files = match inputs::trace_files(paths) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("impasse: {message}");
            return ExitCode::from(2);
        }
    };
    let mut found = 0;
    for file in &files {
        let replayed = match replay::lock_order(|| TraceReader::open(file), strict) {
            Ok(replayed) => replayed,
            Err(error) => {
                eprintln!("impasse: {error}");
                return ExitCode::from(2);
            }
        };
        if let Some(offset) = replayed.truncated {
            eprintln!(
                "impasse: {}: the trace is cut off at byte {offset} (the process ended while \
                 recording?): analysed up to there",
                file.display()
            );
        }
        for finding in &replayed.findings {
            let report = replayed.report(finding);
            match format {
                Format::Text => println!("{report}\n  in the trace {}\n", file.display()),
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
        "impasse: {found} {} in {traces} {}",
        plural(found, "potential deadlock", "potential deadlocks"),
        plural(traces, "trace", "traces"),
    );
    if found > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
