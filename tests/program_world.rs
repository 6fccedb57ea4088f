//! The closed-world rule in a program of its own (no test harness: `harness = false`, so the
//! main thread is the program's): a service's threads that exist before the code under test
//! runs (a server `std::thread`, a process-wide pool whose worker is busy) can wake its waits,
//! so nothing is reported; a real deadlock among the program's threads still is.
//!
//! Each scenario prints one line; the program fails (exit status 1) if any went wrong, and a
//! watchdog fails it if it hangs.

use impasse::pool::ThreadPool;
use impasse::{mpsc, testing, thread, OnceLock};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

const DEADLOCK: &str = "impasse: deadlock detected";

fn main() {
    let watchdog = std::thread::spawn(|| {
        let _inert = testing::inert_thread();
        std::thread::sleep(Duration::from_secs(60));
        eprintln!("program_world: the scenarios did not finish within 60 s");
        std::process::exit(2);
    });
    drop(watchdog);
    type Scenario = fn() -> Result<(), String>;
    let scenarios: [(&str, Scenario); 3] = [
        (
            "a server started first answers after 100 ms",
            server_started_first,
        ),
        (
            "the busy worker of a process-wide pool answers",
            busy_global_pool,
        ),
        (
            "a channel cycle between the program's threads",
            channel_cycle,
        ),
    ];
    let mut failed = 0;
    for (name, scenario) in scenarios {
        match scenario() {
            Ok(()) => println!("ok: {name}"),
            Err(why) => {
                failed += 1;
                println!("FAILED: {name}: {why}");
            }
        }
    }
    std::process::exit(i32::from(failed > 0));
}

/// Runs `body` as a test world; `Err` with the report if impasse reported anything.
fn quietly(name: &str, body: impl FnOnce()) -> Result<(), String> {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        testing::run(
            name,
            testing::Options::new().timeout(Duration::from_secs(20)),
            body,
        )
    }));
    outcome.map_err(|payload| panic_text(&*payload))
}

fn server_started_first() -> Result<(), String> {
    let (requests, inbox) = std_mpsc::channel::<mpsc::Sender<u32>>();
    std::thread::spawn(move || {
        for reply in inbox {
            std::thread::sleep(Duration::from_millis(100));
            let _ = reply.send(7);
        }
    });
    quietly("program_world::server_started_first", move || {
        let (reply, answer) = mpsc::channel_named("answer");
        requests.send(reply).expect("the server is up");
        assert_eq!(answer.recv(), Ok(7));
    })
}

fn busy_global_pool() -> Result<(), String> {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    let pool = POOL.get_or_init(|| ThreadPool::new(1));
    quietly("program_world::busy_global_pool", || {
        let (tx, rx) = mpsc::channel_named("pool-answer");
        let task = pool.submit(move || {
            std::thread::sleep(Duration::from_millis(100));
            tx.send(42).expect("the program waits");
        });
        assert_eq!(rx.recv(), Ok(42));
        task.result().expect("the task ran");
    })
}

/// Two threads of the program, each waiting to receive what only the other can send: every
/// thread of the process is blocked (the watchdog is inert), so it is a deadlock, whichever
/// of them finds it.
fn channel_cycle() -> Result<(), String> {
    let (to_main, main_inbox) = mpsc::channel_named::<u32>("to-main");
    let (to_peer, peer_inbox) = mpsc::channel_named::<u32>("to-peer");
    let peer = thread::Builder::new()
        .name("peer".into())
        .spawn(move || {
            let _keep = to_main; // only this thread could send to main
            peer_inbox.recv()
        })
        .expect("spawn");
    let mine = panic::catch_unwind(AssertUnwindSafe(|| {
        let _keep = to_peer; // only this thread could send to the peer
        main_inbox.recv()
    }));
    let theirs = peer.join();
    let reports: Vec<String> = [mine.err(), theirs.err()]
        .into_iter()
        .flatten()
        .map(|payload| panic_text(&*payload))
        .collect();
    match reports.as_slice() {
        [report] if report.starts_with(DEADLOCK) && report.contains("channel \"to-main\"") => {
            Ok(())
        }
        other => Err(format!("expected one deadlock report, got {other:#?}")),
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| String::from("<non-text panic>"))
}
