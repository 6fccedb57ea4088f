//! The closed-world rule next to the threads of a real service: threads that existed before a
//! test and serve it (a server `std::thread`, a process-wide pool, a server started lazily by
//! the first test that needs it) can wake the test's waits, so impasse must never call those
//! waits a deadlock; and with such neighbours still around, a real deadlock is still found once
//! they cannot act (a neighbour blocked forever does not keep a verdict away).
//!
//! The tests run side by side as `cargo test` runs them; `every_neighbour_scenario_passes_at_*`
//! also re-runs them in a child at 1, 2 and 4 test threads.

#![cfg(feature = "detect")]

mod common;

use common::{child, watchdog, DEADLOCK};
use impasse::pool::ThreadPool;
use impasse::{mpsc, OnceLock};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

/// A request to a server: reply on this channel.
type Request = mpsc::Sender<u64>;

/// Serves requests on a `std::thread` that impasse does not know: each one is answered after
/// `delay`, with the number of requests answered before it.
fn serve(requests: std_mpsc::Receiver<Request>, delay: Duration) {
    for (served, reply) in requests.into_iter().enumerate() {
        std::thread::sleep(delay);
        let _ = reply.send(served as u64);
    }
}

/// A server started on first use, by a test before its world opens, as a service's threads
/// are started before the code under test runs.
fn early_server() -> &'static std::sync::Mutex<std_mpsc::Sender<Request>> {
    static SERVER: std::sync::OnceLock<std::sync::Mutex<std_mpsc::Sender<Request>>> =
        std::sync::OnceLock::new();
    SERVER.get_or_init(|| {
        let (tx, rx) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("early-server".into())
            .spawn(move || serve(rx, Duration::from_millis(100)))
            .expect("the server thread");
        std::sync::Mutex::new(tx)
    })
}

fn ask(server: &std::sync::Mutex<std_mpsc::Sender<Request>>) -> u64 {
    let (reply, answer) = mpsc::channel_named("reply");
    server
        .lock()
        .unwrap()
        .send(reply)
        .expect("the server is up");
    answer.recv().expect("the server answers")
}

#[test]
fn server_started_before_the_test_answers_it() {
    let _watchdog = watchdog("server_started_before_the_test_answers_it");
    let server = early_server(); // started before the world opens, as a service's would be
    impasse::testing::run(
        "neighbours::server_started_before_the_test_answers_it",
        impasse::testing::Options::new().timeout(Duration::from_secs(20)),
        || {
            // The only thread of the world waits 100 ms for a thread it does not know.
            let _ = ask(server);
        },
    );
}

/// A server started lazily, inside the world of the first test that asks (as a `static` a
/// service starts on first use); the next tests find it running.
fn lazy_server() -> &'static std::sync::Mutex<std_mpsc::Sender<Request>> {
    static SERVER: std::sync::OnceLock<std::sync::Mutex<std_mpsc::Sender<Request>>> =
        std::sync::OnceLock::new();
    SERVER.get_or_init(|| {
        let (tx, rx) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("lazy-server".into())
            .spawn(move || serve(rx, Duration::from_millis(50)))
            .expect("the server thread");
        std::sync::Mutex::new(tx)
    })
}

#[impasse::test(timeout = "20s")]
fn lazily_started_server_serves_the_first_test() {
    let _ = ask(lazy_server());
}

#[impasse::test(timeout = "20s")]
fn lazily_started_server_serves_the_second_test() {
    let _ = ask(lazy_server());
}

#[impasse::test(timeout = "20s")]
fn lazily_started_server_serves_the_third_test() {
    let _ = ask(lazy_server());
}

/// A process-wide pool of impasse's, whose one worker is busy for a while with each task.
fn global_pool() -> &'static ThreadPool {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| common::pool(1, "global"))
}

/// Submits a task that keeps the worker busy, then answers on a channel; waits for the answer
/// on the channel (a wait anyone may end), not on the task.
fn ask_the_pool() {
    let (tx, rx) = mpsc::channel_named("pool-answer");
    let task = global_pool().submit(move || {
        std::thread::sleep(Duration::from_millis(30));
        tx.send(42).expect("the asker waits");
    });
    assert_eq!(rx.recv(), Ok(42));
    task.result().expect("the task ran");
}

#[impasse::test(timeout = "20s")]
fn shared_pool_first() {
    ask_the_pool();
}

#[impasse::test(timeout = "20s")]
fn shared_pool_second() {
    ask_the_pool();
}

#[impasse::test(timeout = "20s")]
fn shared_pool_third() {
    ask_the_pool();
}

#[impasse::test(timeout = "20s")]
fn shared_pool_fourth() {
    ask_the_pool();
}

/// With a neighbour blocked forever outside impasse (a thread left behind on a std barrier)
/// and the servers above idle, a real deadlock is still found: a thread that waits to receive
/// from a channel whose only sender it holds.
#[test]
fn a_deadlock_is_found_next_to_a_neighbour_blocked_forever() {
    let _watchdog = watchdog("a_deadlock_is_found_next_to_a_neighbour_blocked_forever");
    // Left blocked forever: a barrier for two that only one thread ever reaches.
    let stuck = std::sync::Arc::new(std::sync::Barrier::new(2));
    std::thread::spawn(move || {
        stuck.wait();
    });
    let outcome = std::panic::catch_unwind(|| {
        impasse::testing::run(
            "neighbours::a_deadlock_is_found_next_to_a_neighbour_blocked_forever",
            impasse::testing::Options::new().timeout(Duration::from_secs(20)),
            || {
                let (tx, rx) = mpsc::channel_named::<u32>("to-myself");
                let _ = rx.recv();
                drop(tx);
            },
        )
    });
    let text = common::panic_text(&*outcome.expect_err("the deadlock is reported"));
    assert!(text.starts_with(DEADLOCK), "{text}");
    assert!(text.contains("channel \"to-myself\""), "{text}");
}

#[test]
fn every_neighbour_scenario_passes_at_1_2_and_4_test_threads() {
    const ME: &str = "every_neighbour_scenario_passes_at_1_2_and_4_test_threads";
    if child::is(ME) {
        return;
    }
    let _watchdog = common::Watchdog::new(ME, Duration::from_secs(120));
    for threads in ["1", "2", "4"] {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--test-threads", threads, "--skip", ME])
            .env("RUST_BACKTRACE", "0")
            .env_remove("IMPASSE_ON_DEADLOCK")
            .output()
            .expect("run the scenarios");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stdout.contains("test result: ok. 9 passed"),
            "--test-threads {threads}: {}\n{stdout}\n{stderr}",
            output.status
        );
    }
}
