//! `impasse::mpsc` as a swap-in for `std::sync::mpsc`, and its near misses: channel traffic
//! that looks like a deadlock to a careless detector but is not, and must never be reported.
//!
//! Every scenario runs under `#[impasse::test]`, so the closed-world rule is armed: a false
//! report would panic a thread (the default policy) and fail the test through `run`. Each is
//! bounded by the attribute's timeout, the test's own watchdog (a `common::watchdog` thread
//! started inside the body would be a stranger to the world and disarm the rule).
//!
//! Run side by side, the tests keep each other's worlds open most of the time (a thread
//! another test starts is a stranger to this one's world), which would make "quiet" prove
//! little; so one more test re-runs them all, one at a time, in a child process, where every
//! world is closed and the rule judges every wait.

mod common;

use common::{join_quietly, spawn};
use impasse::mpsc::{
    self, Receiver, RecvError, RecvTimeoutError, SendError, Sender, SyncSender, TryRecvError,
    TrySendError,
};

use std::time::{Duration, Instant};

const CHILD: &str = "IMPASSE_CHANNELS_QUIET_CHILD";

#[test]
fn every_scenario_stays_quiet_alone_in_a_closed_world() {
    const ME: &str = "every_scenario_stays_quiet_alone_in_a_closed_world";
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let _watchdog = common::Watchdog::new(ME, Duration::from_secs(120));
    let output = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--test-threads=1", "--skip", ME])
        .env(CHILD, "1")
        .env_remove("IMPASSE_ON_DEADLOCK")
        .env_remove("IMPASSE_REPORT")
        .output()
        .expect("re-run the scenarios");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("test result: ok."),
        "a scenario failed alone ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_ends_have_std_auto_traits() {
    use std::panic::{RefUnwindSafe, UnwindSafe};
    fn send_sync_clone<T: Send + Sync + Clone + UnwindSafe + RefUnwindSafe>() {}
    fn send_unwind_safe<T: Send + UnwindSafe + RefUnwindSafe>() {}
    fn debug<T: std::fmt::Debug>() {}
    struct NoDebug;
    send_sync_clone::<Sender<NoDebug>>();
    send_sync_clone::<SyncSender<NoDebug>>();
    send_unwind_safe::<Receiver<NoDebug>>();
    debug::<mpsc::Iter<'_, NoDebug>>();
    debug::<mpsc::TryIter<'_, NoDebug>>();
    debug::<mpsc::IntoIter<NoDebug>>();
    // `Send`: it moves to the thread that receives (not `Sync`, not `Clone`: compile_fail
    // examples on `Receiver`).
    let rx = mpsc::channel::<u8>().1;
    std::thread::scope(|s| {
        s.spawn(move || drop(rx));
    });
}

#[impasse::test(timeout = "20s")]
fn disconnection_is_std_s() {
    let (tx, rx) = mpsc::channel::<u32>();
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    drop(tx);
    // Queued values outlive the senders; then the receiver sees the disconnection.
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(rx.recv(), Err(RecvError));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(10)),
        Err(RecvTimeoutError::Disconnected)
    );

    let (tx, rx) = mpsc::channel::<String>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(10)),
        Err(RecvTimeoutError::Timeout)
    );
    drop(rx);
    // The value comes back with the error.
    assert_eq!(tx.send("kept".into()), Err(SendError(String::from("kept"))));
}

#[impasse::test(timeout = "20s")]
fn a_bounded_channel_is_full_at_its_bound() -> Result<(), String> {
    let (tx, rx) = mpsc::sync_channel::<u8>(2);
    tx.try_send(1).map_err(|e| e.to_string())?;
    tx.send(2).map_err(|e| e.to_string())?;
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    assert_eq!(rx.recv(), Ok(1));
    tx.try_send(3).map_err(|e| e.to_string())?;
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [2, 3]);
    drop(rx);
    assert_eq!(tx.try_send(4), Err(TrySendError::Disconnected(4)));
    assert_eq!(tx.send(5), Err(SendError(5)));
    Ok(())
}

#[impasse::test(timeout = "20s")]
fn a_rendezvous_send_returns_once_the_value_is_taken() {
    let (tx, rx) = mpsc::sync_channel::<u32>(0);
    // No receiver waits: nothing can be handed over without a wait.
    assert_eq!(tx.try_send(7), Err(TrySendError::Full(7)));
    let (returned_tx, returned) = std::sync::mpsc::channel();
    let sender = spawn("rendezvous-sender", move || {
        tx.send(42).unwrap();
        returned_tx.send(Instant::now()).unwrap();
        // A rendezvous send to a receiver that leaves gets its value back.
        tx.send(43)
    });
    // The send cannot complete before a receive (a bounded look: it must not happen).
    assert!(returned.recv_timeout(Duration::from_millis(100)).is_err());
    let taken_at = Instant::now();
    assert_eq!(rx.recv(), Ok(42));
    let sent_at = returned.recv().unwrap();
    assert!(sent_at >= taken_at);
    drop(rx);
    assert_eq!(join_quietly(vec![sender]), [Err(SendError(43))]);
}

#[impasse::test(timeout = "20s")]
fn try_send_on_a_rendezvous_hands_over_to_a_waiting_receiver() {
    let (tx, rx) = mpsc::sync_channel::<u32>(0);
    let receiver = spawn("waiting-receiver", move || rx.recv());
    // Until the receiver waits, try_send finds no one (bounded by the test's timeout).
    let mut value = 5;
    loop {
        match tx.try_send(value) {
            Ok(()) => break,
            Err(TrySendError::Full(back)) => value = back,
            Err(TrySendError::Disconnected(_)) => panic!("the receiver is alive"),
        }
        std::thread::yield_now();
    }
    assert_eq!(join_quietly(vec![receiver]), [Ok(5)]);
}

#[impasse::test(timeout = "20s")]
fn the_iterators_end_as_std_s_do() {
    let (tx, rx) = mpsc::channel();
    for n in 0..5 {
        tx.send(n).unwrap();
    }
    assert_eq!(rx.try_iter().take(2).collect::<Vec<_>>(), [0, 1]);
    let mut by_ref = Vec::new();
    for n in &rx {
        by_ref.push(n);
        if n == 3 {
            break;
        }
    }
    assert_eq!(by_ref, [2, 3]);
    drop(tx);
    assert_eq!(rx.iter().collect::<Vec<_>>(), [4]);
    let (tx, rx) = mpsc::sync_channel(1);
    let feeder = spawn("feeder", move || (0..100).try_for_each(|n| tx.send(n)));
    assert_eq!(rx.into_iter().sum::<u32>(), 4950);
    assert_eq!(join_quietly(vec![feeder]), [Ok(())]);
}

/// A value that holds a sender of its own channel: dropping it takes the channel's lock, so
/// the channel must never drop values under that lock.
struct Carrier(#[allow(dead_code)] Option<Sender<Carrier>>);

#[impasse::test(timeout = "20s")]
fn values_are_dropped_outside_the_channel_s_lock() {
    let (tx, rx) = mpsc::channel::<Carrier>();
    tx.send(Carrier(Some(tx.clone()))).unwrap();
    tx.send(Carrier(Some(tx.clone()))).unwrap();
    drop(rx); // drops both carriers, and the senders in them
    assert!(tx.send(Carrier(None)).is_err());
}

/// Near miss: three stages, each waiting to receive from the last; the pipeline shuts down by
/// dropping senders, stage after stage. Waits on empty channels are everywhere, but a stage
/// always has a running predecessor.
#[impasse::test(timeout = "20s")]
fn a_pipeline_of_three_stages_shuts_down_by_dropping_senders() {
    const ITEMS: u64 = 2_000;
    let (numbers_tx, numbers) = mpsc::channel_named::<u64>("numbers");
    let (squares_tx, squares) = mpsc::sync_channel_named::<u64>("squares", 8);
    let (evens_tx, evens) = mpsc::channel_named::<u64>("even-squares");
    let stages = vec![
        spawn("square", move || {
            let mut seen = 0;
            for n in numbers {
                squares_tx.send(n * n).unwrap();
                seen += 1;
            }
            seen
        }),
        spawn("filter", move || {
            let mut seen = 0;
            for square in squares {
                if square % 2 == 0 {
                    evens_tx.send(square).unwrap();
                }
                seen += 1;
            }
            seen
        }),
        spawn("sum", move || evens.iter().sum::<u64>()),
    ];
    for n in 0..ITEMS {
        numbers_tx.send(n).unwrap();
    }
    drop(numbers_tx);
    let expected: u64 = (0..ITEMS).filter(|n| n % 2 == 0).map(|n| n * n).sum();
    assert_eq!(join_quietly(stages), [ITEMS, ITEMS, expected]);
}

/// Near miss: a producer blocked on a full channel while the consumer computes, and a
/// consumer blocked on an empty one while the producers compute, thousands of times, with
/// several producers in line for room.
#[impasse::test(timeout = "20s")]
fn bounded_producers_and_a_consumer_over_thousands_of_items() {
    const PRODUCERS: u64 = 3;
    const ITEMS: u64 = 5_000;
    let (tx, rx) = mpsc::sync_channel_named::<(u64, u64)>("work", 4);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            spawn(&format!("producer-{p}"), move || {
                for i in 0..ITEMS {
                    tx.send((p, i)).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = spawn("consumer", move || {
        let mut next = [0u64; PRODUCERS as usize];
        for (p, i) in rx {
            // Each producer's items arrive in its order.
            assert_eq!(next[p as usize], i);
            next[p as usize] += 1;
        }
        next
    });
    join_quietly(producers);
    assert_eq!(join_quietly(vec![consumer]), [[ITEMS; PRODUCERS as usize]]);
}

/// Near miss: the only sender is a `std::thread` that impasse cannot see, computing (here:
/// sleeping) before it sends. The receiver is the only known thread and it waits, but the
/// world is not closed: no report.
#[impasse::test(timeout = "20s")]
fn a_std_thread_computing_before_it_sends_is_not_a_deadlock() {
    let (tx, rx) = mpsc::channel_named::<u32>("result");
    let computer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        tx.send(42).unwrap();
    });
    assert_eq!(rx.recv(), Ok(42));
    computer.join().unwrap();
}

/// Near miss: two threads that would each wait to receive what the other sends after, but
/// one waits with a timeout: it gives up, sends, and both finish.
#[impasse::test(timeout = "20s")]
fn recv_timeout_in_a_would_be_cycle_times_out_quietly() {
    let (to_patient, patient_inbox) = mpsc::channel_named::<&str>("to-patient");
    let (to_impatient, impatient_inbox) = mpsc::channel_named::<&str>("to-impatient");
    let impatient = spawn("impatient", move || {
        let first = impatient_inbox.recv_timeout(Duration::from_millis(200));
        to_patient.send("gave up waiting").unwrap();
        (first, impatient_inbox.recv())
    });
    let patient = spawn("patient", move || {
        let first = patient_inbox.recv();
        to_impatient.send("answer").unwrap();
        first
    });
    assert_eq!(join_quietly(vec![patient]), [Ok("gave up waiting")]);
    assert_eq!(
        join_quietly(vec![impatient]),
        [(Err(RecvTimeoutError::Timeout), Ok("answer"))]
    );
}

/// Near miss: many senders and one receiver, which waits whenever it is ahead of them all.
#[impasse::test(timeout = "20s")]
fn many_senders_one_receiver() {
    const SENDERS: usize = 8;
    const EACH: usize = 1_000;
    let (tx, rx) = mpsc::channel_named::<usize>("fan-in");
    let (sync_tx, sync_rx) = mpsc::sync_channel_named::<usize>("bounded-fan-in", 1);
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (tx, sync_tx) = (tx.clone(), sync_tx.clone());
            spawn(&format!("sender-{s}"), move || {
                for i in 0..EACH {
                    tx.send(s * EACH + i).unwrap();
                    sync_tx.send(1).unwrap();
                }
            })
        })
        .collect();
    drop((tx, sync_tx));
    let bounded = spawn("bounded-receiver", move || sync_rx.iter().count());
    let mut all: Vec<usize> = rx.iter().collect();
    all.sort_unstable();
    assert!(all.iter().copied().eq(0..SENDERS * EACH));
    join_quietly(senders);
    assert_eq!(join_quietly(vec![bounded]), [SENDERS * EACH]);
}

/// Near miss: rendezvous ping-pong: every exchange blocks one side until the other takes.
#[impasse::test(timeout = "20s")]
fn rendezvous_ping_pong() {
    const ROUNDS: u32 = 1_000;
    let (ping_tx, ping_rx) = mpsc::sync_channel_named::<u32>("ping", 0);
    let (pong_tx, pong_rx) = mpsc::sync_channel_named::<u32>("pong", 0);
    let ponger = spawn("ponger", move || {
        for n in ping_rx {
            pong_tx.send(n + 1).unwrap();
        }
    });
    let mut n = 0;
    for _ in 0..ROUNDS {
        ping_tx.send(n).unwrap();
        n = pong_rx.recv().unwrap();
    }
    drop(ping_tx);
    join_quietly(vec![ponger]);
    assert_eq!(n, ROUNDS);
}
