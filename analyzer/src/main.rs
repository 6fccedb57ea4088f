//! `impasse`, the command line: offline analysis of the event traces that impasse records
//! (`IMPASSE_TRACE=DIR`).
//!
//! `impasse analyze PATH...` replays every trace through the runtime's own lock-order rules and
//! prints each potential deadlock as the runtime reports it; with `--across`, all the traces as
//! one run, by lock class. Exit status: 0 when nothing was
//! found, 1 when something was, 2 when an input could not be read.

mod analyze;
mod inputs;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// impasse: find deadlocks before they find you.
///
/// Record a run with IMPASSE_TRACE=DIR (one trace per process), then analyse the traces here.
#[derive(Debug, Parser)]
#[command(name = "impasse", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replays recorded traces through the lock-order rules and reports the potential
    /// deadlocks in them (exit status 1 when there are any, 2 when an input is unreadable).
    Analyze {
        /// Trace files, or directories whose `*.trace` files are all read.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Order locks by class (creation site), as lockdep does, instead of by instance.
        #[arg(long)]
        strict: bool,
        /// Judge all the traces as one run, by lock class (implies --strict): two tests (two
        /// processes) that take the same two classes in opposite orders are one finding.
        #[arg(long)]
        across: bool,
        /// How findings are printed.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// How findings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// As the runtime prints its reports.
    Text,
    /// One JSON line per finding: the library's `Report`, as `IMPASSE_REPORT` writes it.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Analyze {
            paths,
            strict,
            across,
            format,
        } => analyze::run(&paths, strict, across, format),
    }
}
