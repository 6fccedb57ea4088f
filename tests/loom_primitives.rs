//! The primitives' internals under loom: no lost wake-up, no lost or duplicated value, and
//! the detector's cooperative-wait protocol (registration, grants) in the same schedules.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_primitives`.

#![cfg(loom)]

use impasse::{mpsc, Barrier, Condvar, Mutex, Semaphore};
use loom::sync::Arc;
use loom::thread;

#[test]
fn a_channel_delivers_every_value_once_and_disconnects() {
    loom::model(|| {
        let (tx, rx) = mpsc::channel();
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        assert_eq!(rx.recv(), Err(mpsc::RecvError), "the sender is gone");
        sender.join().unwrap();
    });
}

#[test]
fn a_bounded_channel_blocks_the_sender_and_wakes_it() {
    loom::model(|| {
        let (tx, rx) = mpsc::sync_channel(1);
        let sender = thread::spawn(move || {
            for i in 0..2 {
                tx.send(i).unwrap();
            }
        });
        assert_eq!(rx.iter().collect::<Vec<_>>(), vec![0, 1]);
        sender.join().unwrap();
    });
}

#[test]
fn a_rendezvous_send_returns_once_taken() {
    loom::model(|| {
        let (tx, rx) = mpsc::sync_channel(0);
        let sender = thread::spawn(move || tx.send(7).is_ok());
        assert_eq!(rx.recv(), Ok(7));
        assert!(sender.join().unwrap());
    });
}

#[test]
fn a_condvar_notification_is_never_lost() {
    loom::model(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let notifier = {
            let pair = pair.clone();
            thread::spawn(move || {
                *pair.0.lock() = true;
                pair.1.notify_one();
            })
        };
        let mut ready = pair.0.lock();
        while !*ready {
            pair.1.wait(&mut ready);
        }
        drop(ready);
        notifier.join().unwrap();
    });
}

#[test]
fn a_semaphore_hands_its_permit_over() {
    loom::model(|| {
        let permits = Arc::new(Semaphore::new(1));
        let in_use = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let other = {
            let (permits, in_use) = (permits.clone(), in_use.clone());
            thread::spawn(move || {
                let _p = permits.acquire();
                assert_eq!(in_use.fetch_add(1, loom::sync::atomic::Ordering::SeqCst), 0);
                in_use.fetch_sub(1, loom::sync::atomic::Ordering::SeqCst);
            })
        };
        {
            let _p = permits.acquire();
            assert_eq!(in_use.fetch_add(1, loom::sync::atomic::Ordering::SeqCst), 0);
            in_use.fetch_sub(1, loom::sync::atomic::Ordering::SeqCst);
        }
        other.join().unwrap();
        assert_eq!(permits.available_permits(), 1);
    });
}

#[test]
fn a_barrier_releases_every_party() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let other = {
            let barrier = barrier.clone();
            thread::spawn(move || barrier.wait().is_leader())
        };
        let here = barrier.wait().is_leader();
        assert!(here ^ other.join().unwrap(), "exactly one leader");
    });
}
