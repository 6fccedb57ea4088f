//! `impasse::stdsync::{Mutex, RwLock}` side by side with `std::sync::{Mutex, RwLock}`: every
//! scenario is written once in `std_usage!`, compiled against both (only the `use` line
//! differs), and returns a transcript of what it observed. The tests assert the transcripts
//! are equal, and that std's is what std documents, so the swap is observably one line.
//!
//! Threads that panic on purpose print their panic message; that is expected output.

mod common;

/// The same user code, for one lock module (`std::sync` or `impasse::stdsync`).
macro_rules! std_usage {
    ($flavour:ident, $($module:ident)::+) => {
        mod $flavour {
            // The one line a user changes.
            use $($module)::+::{LockResult, Mutex, PoisonError, RwLock, TryLockError, TryLockResult};

            use crate::common::spawn;
            use std::sync::{Arc, Barrier};

            /// The kind of a `try_*` result.
            fn kind<G>(result: TryLockResult<G>) -> &'static str {
                match result {
                    Ok(_) => "Ok",
                    Err(TryLockError::WouldBlock) => "WouldBlock",
                    Err(TryLockError::Poisoned(_)) => "Poisoned",
                }
            }

            /// The kind of a `LockResult`.
            fn lock_kind<G>(result: &LockResult<G>) -> &'static str {
                match result {
                    Ok(_) => "Ok",
                    Err(_) => "Poisoned",
                }
            }

            static GLOBAL: Mutex<u32> = Mutex::new(0);
            static GLOBAL_RW: RwLock<u32> = RwLock::new(0);

            /// `lock`/`try_lock` on free and held locks, from this and another thread;
            /// `static` locks from a const `new`; `Default`, `From`, `Debug`.
            pub(super) fn locking() -> Vec<String> {
                let mut seen = Vec::new();
                let m = Arc::new(Mutex::new(1u32));
                seen.push(format!("{m:?}"));
                {
                    let mut g = m.lock().unwrap();
                    *g += 1;
                    seen.push(kind(m.try_lock()).to_owned()); // held by this thread
                    // std's text for a locked Mutex changed over releases (1.95 quotes it:
                    // `data: "<locked>"`, its RwLock does not); compare the rest.
                    seen.push(format!("{m:?}").replace("\"<locked>\"", "<locked>"));
                    let m2 = m.clone();
                    let other = spawn("try-locker", move || kind(m2.try_lock()));
                    seen.push(other.join().unwrap().to_owned());
                }
                seen.push(kind(m.try_lock()).to_owned());
                seen.push(format!("{}", *m.lock().unwrap()));
                *GLOBAL.lock().unwrap() += 1;
                *GLOBAL_RW.write().unwrap() += 1;
                seen.push(format!("{} {}", *GLOBAL.lock().unwrap(), *GLOBAL_RW.read().unwrap()));
                seen.push(format!("{:?}", *Mutex::<Vec<u8>>::default().lock().unwrap()));
                seen.push(format!("{}", Mutex::from(3u8).into_inner().unwrap()));

                let rw = RwLock::new(5u32);
                seen.push(format!("{rw:?}"));
                {
                    let r1 = rw.read().unwrap();
                    let r2 = rw.try_read();
                    seen.push(kind(r2).to_owned());
                    seen.push(kind(rw.try_write()).to_owned());
                    seen.push(format!("{}", *r1));
                }
                {
                    let mut w = rw.write().unwrap();
                    *w += 1;
                    seen.push(kind(rw.try_read()).to_owned());
                    seen.push(kind(rw.try_write()).to_owned());
                    seen.push(format!("{rw:?}"));
                }
                seen.push(format!("{}", *RwLock::<u8>::default().read().unwrap()));
                seen.push(format!("{}", RwLock::from(7u8).into_inner().unwrap()));
                let mut rw = rw;
                *rw.get_mut().unwrap() += 1;
                seen.push(format!("{}", rw.into_inner().unwrap()));
                seen
            }

            /// A thread panics while it holds the mutex: the join fails, the mutex is
            /// poisoned, every access reports it and still gives the data, until
            /// `clear_poison`.
            pub(super) fn mutex_poisoning() -> Vec<String> {
                let mut seen = Vec::new();
                let m = Arc::new(Mutex::new(vec![1u32]));
                let poisoner = {
                    let m = m.clone();
                    spawn("mutex-poisoner", move || {
                        let mut g = m.lock().unwrap();
                        g.push(2); // the write before the panic survives it
                        panic!("deliberate panic while holding the mutex");
                    })
                };
                seen.push(format!("join ok: {}", poisoner.join().is_ok()));
                seen.push(format!("poisoned: {}", m.is_poisoned()));
                seen.push(format!("{m:?}"));
                let result = m.lock();
                seen.push(lock_kind(&result).to_owned());
                let mut guard = result.unwrap_err().into_inner();
                seen.push(format!("{:?}", *guard));
                guard.push(3);
                seen.push(kind(m.try_lock()).to_owned()); // held: WouldBlock beats Poisoned
                drop(guard);
                match m.try_lock() {
                    Err(TryLockError::Poisoned(error)) => {
                        let error: PoisonError<_> = error;
                        seen.push(format!("try_lock poisoned, data {:?}", *error.get_ref()));
                    }
                    other => seen.push(format!("try_lock {}", kind(other))),
                }
                m.clear_poison();
                seen.push(format!("after clear: {} {}", m.is_poisoned(), lock_kind(&m.lock())));

                // Poison again, then `get_mut` and `into_inner` give `Err` with the data.
                let m2 = m.clone();
                let again = spawn("mutex-poisoner-2", move || {
                    let _g = m2.lock().unwrap();
                    panic!("deliberate panic, again");
                });
                seen.push(format!("join ok: {}", again.join().is_ok()));
                let mut m = Arc::try_unwrap(m).expect("the threads are gone");
                match m.get_mut() {
                    Ok(_) => seen.push("get_mut Ok".to_owned()),
                    Err(mut error) => {
                        error.get_mut().push(4);
                        seen.push(format!("get_mut Err {:?}", error.get_ref()));
                    }
                }
                match m.into_inner() {
                    Ok(data) => seen.push(format!("into_inner Ok {data:?}")),
                    Err(error) => seen.push(format!("into_inner Err {:?}", error.into_inner())),
                }
                seen
            }

            /// Readers that panic do not poison an RwLock; a writer that panics does.
            pub(super) fn rwlock_poisoning() -> Vec<String> {
                let mut seen = Vec::new();
                let rw = Arc::new(RwLock::new(10u32));
                let reader = {
                    let rw = rw.clone();
                    spawn("panicking-reader", move || {
                        let _r = rw.read().unwrap();
                        panic!("deliberate panic while reading");
                    })
                };
                seen.push(format!("reader join ok: {}", reader.join().is_ok()));
                seen.push(format!("poisoned after reader: {}", rw.is_poisoned()));
                seen.push(lock_kind(&rw.write()).to_owned());

                let writer = {
                    let rw = rw.clone();
                    spawn("panicking-writer", move || {
                        let mut w = rw.write().unwrap();
                        *w += 1;
                        panic!("deliberate panic while writing");
                    })
                };
                seen.push(format!("writer join ok: {}", writer.join().is_ok()));
                seen.push(format!("poisoned after writer: {}", rw.is_poisoned()));
                seen.push(format!("{rw:?}"));
                let read = rw.read();
                seen.push(lock_kind(&read).to_owned());
                seen.push(format!("{}", *read.unwrap_err().into_inner()));
                seen.push(kind(rw.try_read()).to_owned());
                seen.push(kind(rw.try_write()).to_owned());
                let write = rw.write();
                seen.push(lock_kind(&write).to_owned());
                drop(write);
                rw.clear_poison();
                seen.push(format!("after clear: {} {}", rw.is_poisoned(), lock_kind(&rw.read())));
                let rw2 = rw.clone();
                let again = spawn("panicking-writer-2", move || {
                    let _w = rw2.write().unwrap();
                    panic!("deliberate panic, again");
                });
                seen.push(format!("join ok: {}", again.join().is_ok()));
                let mut rw = Arc::try_unwrap(rw).expect("the threads are gone");
                seen.push(match rw.get_mut() {
                    Ok(v) => format!("get_mut Ok {v}"),
                    Err(error) => format!("get_mut Err {}", error.into_inner()),
                });
                seen.push(match rw.into_inner() {
                    Ok(v) => format!("into_inner Ok {v}"),
                    Err(error) => format!("into_inner Err {}", error.into_inner()),
                });
                seen
            }

            /// Locks a mutex and writes its RwLock in `Drop`, on a thread that is already
            /// panicking: guards taken during unwinding do not poison.
            struct LockInDrop {
                m: Arc<Mutex<u32>>,
                rw: Arc<RwLock<u32>>,
                taken: Arc<Barrier>,
            }

            impl Drop for LockInDrop {
                fn drop(&mut self) {
                    assert!(std::thread::panicking());
                    *self.m.lock().unwrap() += 1;
                    *self.rw.write().unwrap() += 1;
                    self.taken.wait();
                }
            }

            /// A thread panics holding nothing; a `Drop` run by its unwinding takes both
            /// locks, which must not be poisoned by that panic.
            pub(super) fn guard_taken_while_panicking() -> Vec<String> {
                let mut seen = Vec::new();
                let m = Arc::new(Mutex::new(0u32));
                let rw = Arc::new(RwLock::new(0u32));
                let taken = Arc::new(Barrier::new(2));
                let unwinding = {
                    let on_drop = LockInDrop {
                        m: m.clone(),
                        rw: rw.clone(),
                        taken: taken.clone(),
                    };
                    spawn("unwinding-locker", move || {
                        let _on_drop = on_drop;
                        panic!("deliberate panic; the locks are taken during unwinding");
                    })
                };
                taken.wait();
                seen.push(format!("join ok: {}", unwinding.join().is_ok()));
                seen.push(format!("poisoned: {} {}", m.is_poisoned(), rw.is_poisoned()));
                seen.push(format!("{} {}", *m.lock().unwrap(), *rw.read().unwrap()));
                seen
            }
        }
    };
}

std_usage!(with_std, std::sync);
std_usage!(with_impasse, impasse::stdsync);

#[test]
fn locking_matches_std() {
    let _watchdog = common::watchdog("locking_matches_std");
    let std = with_std::locking();
    assert_eq!(
        std,
        [
            "Mutex { data: 1, poisoned: false, .. }",
            "WouldBlock",
            "Mutex { data: <locked>, poisoned: false, .. }",
            "WouldBlock",
            "Ok",
            "2",
            "1 1",
            "[]",
            "3",
            "RwLock { data: 5, poisoned: false, .. }",
            "Ok",
            "WouldBlock",
            "5",
            "WouldBlock",
            "WouldBlock",
            "RwLock { data: <locked>, poisoned: false, .. }",
            "0",
            "7",
            "7",
        ]
    );
    assert_eq!(with_impasse::locking(), std);
}

#[test]
fn mutex_poisoning_matches_std() {
    let _watchdog = common::watchdog("mutex_poisoning_matches_std");
    let std = with_std::mutex_poisoning();
    assert_eq!(
        std,
        [
            "join ok: false",
            "poisoned: true",
            "Mutex { data: [1, 2], poisoned: true, .. }",
            "Poisoned",
            "[1, 2]",
            "WouldBlock",
            "try_lock poisoned, data [1, 2, 3]",
            "after clear: false Ok",
            "join ok: false",
            "get_mut Err [1, 2, 3, 4]",
            "into_inner Err [1, 2, 3, 4]",
        ]
    );
    assert_eq!(with_impasse::mutex_poisoning(), std);
}

#[test]
fn rwlock_poisoning_matches_std() {
    let _watchdog = common::watchdog("rwlock_poisoning_matches_std");
    let std = with_std::rwlock_poisoning();
    assert_eq!(
        std,
        [
            "reader join ok: false",
            "poisoned after reader: false",
            "Ok",
            "writer join ok: false",
            "poisoned after writer: true",
            "RwLock { data: 11, poisoned: true, .. }",
            "Poisoned",
            "11",
            "Poisoned",
            "Poisoned",
            "Poisoned",
            "after clear: false Ok",
            "join ok: false",
            "get_mut Err 11",
            "into_inner Err 11",
        ]
    );
    assert_eq!(with_impasse::rwlock_poisoning(), std);
}

#[test]
fn guard_taken_while_panicking_does_not_poison() {
    let _watchdog = common::watchdog("guard_taken_while_panicking_does_not_poison");
    let std = with_std::guard_taken_while_panicking();
    assert_eq!(std, ["join ok: false", "poisoned: false false", "1 1"]);
    assert_eq!(with_impasse::guard_taken_while_panicking(), std);
}
