//! `impasse`, the command line: offline analysis of recorded event traces.
//!
//! This first version only describes itself; recording, `analyze` and `test` arrive with the
//! trace work (DESIGN.md §2, `analyzer/`).

use clap::Parser;

/// impasse: find deadlocks before they find you.
///
/// Offline analysis of the event traces that impasse records (IMPASSE_TRACE=DIR) is being
/// built; today the runtime detector in the `impasse` library reports deadlocks as they form.
#[derive(Debug, Parser)]
#[command(name = "impasse", version, about, long_about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    println!(
        "impasse {}: the runtime detector lives in the `impasse` library; run `impasse --help` for more",
        env!("CARGO_PKG_VERSION")
    );
}
