//! What impasse's channels cost next to `std::sync::mpsc`, in one run.
//!
//! - `send_recv`: one thread sends a value and receives it back (nobody ever waits): the
//!   fast path of both ends.
//! - `sync_send_recv`: the same through a bounded channel (capacity 16).
//! - `two_threads`: one thread sends a stream of values, another receives them (an
//!   unbounded channel): the receiver waits whenever it catches up.
//!
//! Times are per value. The contender `impasse-detect` or `impasse-off` follows the `detect`
//! feature.

#[path = "common.rs"]
mod common;

use common::{config, BUILD, IMPASSE};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

/// One channel implementation, as the scenarios drive it.
trait Channel {
    const NAME: &'static str;
    type Tx: Send + 'static;
    type Rx: Send + 'static;

    fn unbounded() -> (Self::Tx, Self::Rx);
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, value: u64);
    fn recv(rx: &Self::Rx) -> u64;
}

/// `std::sync::mpsc`; bounded channels hand out `SyncSender`s, so both are wrapped.
struct Std;

enum StdTx {
    Unbounded(std::sync::mpsc::Sender<u64>),
    Bounded(std::sync::mpsc::SyncSender<u64>),
}

impl Channel for Std {
    const NAME: &'static str = "std";
    type Tx = StdTx;
    type Rx = std::sync::mpsc::Receiver<u64>;

    fn unbounded() -> (StdTx, Self::Rx) {
        let (tx, rx) = std::sync::mpsc::channel();
        (StdTx::Unbounded(tx), rx)
    }

    fn bounded(capacity: usize) -> (StdTx, Self::Rx) {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
        (StdTx::Bounded(tx), rx)
    }

    fn send(tx: &StdTx, value: u64) {
        match tx {
            StdTx::Unbounded(tx) => tx.send(value).expect("receiver alive"),
            StdTx::Bounded(tx) => tx.send(value).expect("receiver alive"),
        }
    }

    fn recv(rx: &Self::Rx) -> u64 {
        rx.recv().expect("sender alive")
    }
}

/// `impasse::mpsc`, wrapped the same way.
struct Impasse;

enum ImpasseTx {
    Unbounded(impasse::mpsc::Sender<u64>),
    Bounded(impasse::mpsc::SyncSender<u64>),
}

impl Channel for Impasse {
    const NAME: &'static str = IMPASSE;
    type Tx = ImpasseTx;
    type Rx = impasse::mpsc::Receiver<u64>;

    fn unbounded() -> (ImpasseTx, Self::Rx) {
        let (tx, rx) = impasse::mpsc::channel();
        (ImpasseTx::Unbounded(tx), rx)
    }

    fn bounded(capacity: usize) -> (ImpasseTx, Self::Rx) {
        let (tx, rx) = impasse::mpsc::sync_channel(capacity);
        (ImpasseTx::Bounded(tx), rx)
    }

    fn send(tx: &ImpasseTx, value: u64) {
        match tx {
            ImpasseTx::Unbounded(tx) => tx.send(value).expect("receiver alive"),
            ImpasseTx::Bounded(tx) => tx.send(value).expect("receiver alive"),
        }
    }

    fn recv(rx: &Self::Rx) -> u64 {
        rx.recv().expect("sender alive")
    }
}

fn send_recv<C: Channel>(c: &mut Criterion) {
    let (tx, rx) = C::unbounded();
    c.benchmark_group("send_recv")
        .bench_function(BenchmarkId::new(C::NAME, BUILD), |b| {
            b.iter(|| {
                C::send(&tx, black_box(1));
                black_box(C::recv(&rx))
            })
        });
}

fn sync_send_recv<C: Channel>(c: &mut Criterion) {
    let (tx, rx) = C::bounded(16);
    c.benchmark_group("sync_send_recv")
        .bench_function(BenchmarkId::new(C::NAME, BUILD), |b| {
            b.iter(|| {
                C::send(&tx, black_box(1));
                black_box(C::recv(&rx))
            })
        });
}

/// A stream of `iters` values from a fresh sender thread to this thread.
fn stream<C: Channel>(iters: u64) -> Duration {
    let (tx, rx) = C::unbounded();
    let start = Instant::now();
    let sender = thread::spawn(move || {
        for i in 0..iters {
            C::send(&tx, i);
        }
    });
    for _ in 0..iters {
        black_box(C::recv(&rx));
    }
    let elapsed = start.elapsed();
    sender.join().expect("the sender panicked");
    elapsed
}

fn two_threads<C: Channel>(c: &mut Criterion) {
    c.benchmark_group("two_threads")
        .bench_function(BenchmarkId::new(C::NAME, BUILD), |b| {
            b.iter_custom(stream::<C>)
        });
}

criterion_group! {
    name = channels;
    config = config();
    targets = send_recv::<Std>, send_recv::<Impasse>,
        sync_send_recv::<Std>, sync_send_recv::<Impasse>,
        two_threads::<Std>, two_threads::<Impasse>,
}
criterion_main!(channels);
