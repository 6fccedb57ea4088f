//! Dining philosophers, broken and fixed.
//!
//! Five philosophers sit around a table with a fork between each pair. To eat, each takes
//! the fork on the left, then the one on the right. If all five take their left fork at the
//! same moment, every one of them waits for a right fork that its neighbour holds: a cycle,
//! and without help the program hangs forever.
//!
//! With impasse's `Mutex`, the philosopher whose wait closes the cycle panics with a report
//! naming every philosopher, every fork and every source line involved; unwinding puts its
//! fork down, so the others can eat and the program ends.
//!
//! The fix is the classic one: a global order. Every philosopher takes the lower-numbered
//! fork first, so no cycle can form.
//!
//! Run it: `cargo run --example dining_philosophers`

use impasse::Mutex;
use std::sync::{Arc, Barrier};
use std::thread;

const PHILOSOPHERS: usize = 5;

fn main() {
    println!("== broken: everyone takes the left fork, then the right ==\n");
    let outcome = dine(|seat| (seat, (seat + 1) % PHILOSOPHERS), LineUp::Yes);
    match outcome.caught_by {
        Some(name) => println!(
            "\n{name} closed the cycle, so impasse stopped it with the report above; \
             its left fork went down as it unwound, and the other {} ate.\n",
            outcome.fed
        ),
        None => println!("\nno deadlock this time (the threads did not line up)\n"),
    }

    println!("== fixed: everyone takes the lower-numbered fork first ==\n");
    let outcome = dine(
        |seat| {
            let (left, right) = (seat, (seat + 1) % PHILOSOPHERS);
            (left.min(right), left.max(right))
        },
        LineUp::No,
    );
    assert!(outcome.caught_by.is_none());
    println!(
        "all {} philosophers ate; no deadlock can form.",
        outcome.fed
    );
}

struct Outcome {
    /// The philosopher whose wait closed a cycle, if any.
    caught_by: Option<String>,
    /// How many philosophers ate.
    fed: usize,
}

/// Whether everyone holds a first fork before anyone reaches for a second.
#[derive(Clone, Copy, PartialEq)]
enum LineUp {
    /// Makes the broken order deadlock every time rather than once in a while.
    Yes,
    /// With the fixed order two philosophers want the same first fork, so one of them would
    /// never reach a line-up: waiting for it would be a deadlock of its own.
    No,
}

/// Seats five philosophers; `forks_for(seat)` says which fork each takes first and second.
fn dine(forks_for: fn(usize) -> (usize, usize), line_up: LineUp) -> Outcome {
    let forks: Arc<Vec<Mutex<()>>> = Arc::new(
        (0..PHILOSOPHERS)
            .map(|i| Mutex::named(format!("fork-{i}"), ()))
            .collect(),
    );
    let all_seated = Arc::new(Barrier::new(PHILOSOPHERS));

    let philosophers: Vec<_> = (0..PHILOSOPHERS)
        .map(|seat| {
            let forks = Arc::clone(&forks);
            let all_seated = Arc::clone(&all_seated);
            thread::Builder::new()
                .name(format!("philosopher-{seat}"))
                .spawn(move || {
                    let (first, second) = forks_for(seat);
                    let _first = forks[first].lock();
                    if line_up == LineUp::Yes {
                        all_seated.wait();
                    }
                    let _second = forks[second].lock();
                    // eat
                })
                .expect("spawn a philosopher")
        })
        .collect();

    let mut outcome = Outcome {
        caught_by: None,
        fed: 0,
    };
    for (seat, philosopher) in philosophers.into_iter().enumerate() {
        match philosopher.join() {
            Ok(()) => outcome.fed += 1,
            Err(_report) => outcome.caught_by = Some(format!("philosopher-{seat}")),
        }
    }
    outcome
}
