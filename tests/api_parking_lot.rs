//! impasse's parking_lot flavour, used the way parking_lot users use it: the swap is one `use`
//! line. Every scenario below is written once, in `parking_lot_usage!`, and compiled twice:
//! against `parking_lot` itself (the oracle: the expectations are parking_lot's behaviour)
//! and against `impasse`. Only the `use` line differs between the two modules.
//!
//! What does not compile against impasse is not forced in here; it is listed as an API gap
//! in `impasse_only::api_gaps_seen_from_here` (and in the issue note).

mod common;

use std::marker::PhantomData;

/// The same user code, for one lock crate `$krate` (`parking_lot` or `impasse`).
macro_rules! parking_lot_usage {
    ($flavour:ident, $krate:ident) => {
        mod $flavour {
            // The one line a user changes.
            use $krate::{
                Condvar, MappedMutexGuard, MappedReentrantMutexGuard, MappedRwLockReadGuard,
                MappedRwLockWriteGuard, Mutex, MutexGuard, ReentrantMutex, ReentrantMutexGuard,
                RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard,
            };

            use crate::common::{join_quietly, spawn, watchdog};
            use std::cell::Cell;
            use std::fmt::Debug;
            use std::sync::{Arc, Barrier};
            use std::thread;
            use std::time::{Duration, Instant};

            static HITS: Mutex<u64> = Mutex::new(0);
            static TABLE: RwLock<Vec<u32>> = RwLock::new(Vec::new());
            static LOG: ReentrantMutex<Cell<u32>> = ReentrantMutex::new(Cell::new(0));

            /// `static` locks built by `new` in a const context, shared by threads.
            #[test]
            fn static_locks_in_const_context() {
                let _watchdog = watchdog("static_locks_in_const_context");
                let threads = (0..4)
                    .map(|i| {
                        spawn(&format!("static-{i}"), move || {
                            for _ in 0..1_000 {
                                *HITS.lock() += 1;
                            }
                            TABLE.write().push(i);
                            let log = LOG.lock();
                            log.set(log.get() + 1);
                        })
                    })
                    .collect();
                join_quietly(threads);
                assert_eq!(*HITS.lock(), 4_000);
                let mut table = TABLE.read().clone();
                table.sort_unstable();
                assert_eq!(table, [0, 1, 2, 3]);
                assert_eq!(LOG.lock().get(), 4);
            }

            /// `MutexGuard::map`/`try_map`, `MappedMutexGuard::map`/`try_map`, `leak`.
            #[test]
            fn mutex_guard_map_and_try_map() {
                let _watchdog = watchdog("mutex_guard_map_and_try_map");
                let m = Mutex::new((1u32, String::from("a")));
                {
                    let mut first: MappedMutexGuard<'_, u32> =
                        MutexGuard::map(m.lock(), |pair| &mut pair.0);
                    *first += 1;
                    assert!(m.is_locked(), "a mapped guard keeps the lock");
                    assert!(m.try_lock().is_none());
                }
                assert!(!m.is_locked());
                let text = MutexGuard::try_map(m.lock(), |pair| Some(&mut pair.1));
                let mut text = text.map_err(|_| ()).expect("Some maps");
                text.push('b');
                let mut byte = MappedMutexGuard::map(text, |s| s.as_mut_str());
                byte.make_ascii_uppercase();
                let refused = MappedMutexGuard::try_map(byte, |_| None::<&mut u8>);
                let byte = match refused {
                    Ok(_) => panic!("None refuses"),
                    Err(guard) => guard,
                };
                assert_eq!(&*byte, "AB");
                drop(byte);
                let refused = MutexGuard::try_map(m.lock(), |_| None::<&mut u32>);
                let guard = refused.map(|_| ()).expect_err("None gives the guard back");
                assert_eq!(*guard, (2, String::from("AB")));
                assert!(MutexGuard::mutex(&guard).is_locked());
                drop(guard);
                // `leak` then `force_unlock`, as parking_lot users do across FFI callbacks.
                let leaked: &mut (u32, String) = MutexGuard::leak(m.lock());
                leaked.0 = 7;
                assert!(m.is_locked());
                // SAFETY: the leaked guard held the lock and is gone.
                unsafe { m.force_unlock() };
                assert_eq!(m.lock().0, 7);
            }

            /// `MutexGuard::unlocked`: another thread gets in while the closure runs.
            #[test]
            fn mutex_guard_unlocked_lets_others_in() {
                let _watchdog = watchdog("mutex_guard_unlocked_lets_others_in");
                let m = Arc::new(Mutex::new(0u32));
                let mut guard = m.lock();
                *guard = 1;
                let seen = MutexGuard::unlocked(&mut guard, || {
                    assert!(!m.is_locked());
                    let m = m.clone();
                    let other = spawn("unlocked-visitor", move || {
                        let mut g = m.lock();
                        *g += 10;
                        *g
                    });
                    join_quietly(vec![other])
                });
                assert_eq!(seen, vec![11]);
                assert_eq!(*guard, 11, "relocked, and the visitor's write is visible");
                MutexGuard::unlocked_fair(&mut guard, || assert!(!m.is_locked()));
                assert!(m.is_locked());
            }

            /// `unlock_fair`, and `bump` handing the lock to a parked waiter and back.
            #[test]
            fn mutex_unlock_fair_and_bump() {
                let _watchdog = watchdog("mutex_unlock_fair_and_bump");
                let m = Arc::new(Mutex::new(0u32));
                MutexGuard::unlock_fair(m.lock());
                assert!(!m.is_locked());
                let mut guard = m.lock();
                MutexGuard::bump(&mut guard); // nobody waits: keeps the lock
                assert!(m.is_locked());
                let waiter = {
                    let m = m.clone();
                    spawn("bump-waiter", move || *m.lock() += 1)
                };
                // Bump until the waiter has been let in (it must be parked for a fair
                // hand-off); the guard is ours again after each bump.
                while *guard == 0 {
                    MutexGuard::bump(&mut guard);
                    thread::yield_now();
                }
                assert_eq!(*guard, 1);
                assert!(m.is_locked());
                drop(guard);
                join_quietly(vec![waiter]);
            }

            /// `try_lock_for` / `try_lock_until`: give up on a held lock, succeed on a free one.
            #[test]
            fn mutex_timed_locks() {
                let _watchdog = watchdog("mutex_timed_locks");
                let m = Arc::new(Mutex::new(5u32));
                let holding = Arc::new(Barrier::new(2));
                let holder = {
                    let (m, holding) = (m.clone(), holding.clone());
                    spawn("timed-holder", move || {
                        let _g = m.lock();
                        holding.wait(); // 1: held
                        holding.wait(); // 2: the main thread gave up
                    })
                };
                holding.wait(); // 1
                let start = Instant::now();
                assert!(m.try_lock_for(Duration::from_millis(30)).is_none());
                assert!(start.elapsed() >= Duration::from_millis(30));
                let deadline = Instant::now() + Duration::from_millis(10);
                assert!(m.try_lock_until(deadline).is_none());
                assert!(Instant::now() >= deadline);
                assert!(m.try_lock().is_none());
                holding.wait(); // 2
                join_quietly(vec![holder]);
                assert_eq!(m.try_lock_for(Duration::from_secs(5)).map(|g| *g), Some(5));
                let later = Instant::now() + Duration::from_secs(5);
                assert_eq!(m.try_lock_until(later).map(|g| *g), Some(5));
                // A deadline in the past still takes a free lock.
                assert!(m.try_lock_until(Instant::now()).is_some());
            }

            /// `get_mut`, `into_inner`, `Default`, `From`, `Debug`, `is_locked`, `data_ptr`.
            #[test]
            fn mutex_plumbing() {
                let _watchdog = watchdog("mutex_plumbing");
                let mut m = Mutex::new(vec![1u8]);
                m.get_mut().push(2);
                assert_eq!(format!("{m:?}"), "Mutex { data: [1, 2] }");
                {
                    let _g = m.lock();
                    assert_eq!(format!("{m:?}"), "Mutex { data: <locked> }");
                    assert!(m.is_locked());
                }
                // SAFETY: nobody holds the lock; the pointer is read only.
                assert_eq!(unsafe { (*m.data_ptr()).len() }, 2);
                assert_eq!(m.into_inner(), [1, 2]);
                let d: Mutex<Vec<u8>> = Mutex::default();
                assert!(d.lock().is_empty());
                let f: Mutex<&str> = Mutex::from("from");
                assert_eq!(*f.lock(), "from");
                let f: Mutex<u8> = 3.into();
                assert_eq!(f.into_inner(), 3);

                let mut rw = RwLock::new(1u8);
                *rw.get_mut() += 1;
                assert_eq!(format!("{rw:?}"), "RwLock { data: 2 }");
                {
                    let _w = rw.write();
                    assert_eq!(format!("{rw:?}"), "RwLock { data: <locked> }");
                }
                assert_eq!(rw.into_inner(), 2);
                assert_eq!(*RwLock::<u8>::default().read(), 0);
                assert_eq!(*RwLock::from(4u8).read(), 4);

                let mut re = ReentrantMutex::new(1u8);
                *re.get_mut() += 1;
                assert_eq!(format!("{re:?}"), "ReentrantMutex { data: 2 }");
                assert_eq!(re.into_inner(), 2);
                assert_eq!(*ReentrantMutex::<u8>::default().lock(), 0);
                assert_eq!(*ReentrantMutex::from(6u8).lock(), 6);
            }

            /// `RwLock` read/write/try_*, `read_recursive`, guards' `unlocked`.
            #[test]
            fn rwlock_reads_and_writes() {
                let _watchdog = watchdog("rwlock_reads_and_writes");
                let rw = Arc::new(RwLock::new(0u32));
                {
                    let r1 = rw.read();
                    let r2 = rw.try_read().expect("readers share");
                    let r3 = rw.read_recursive();
                    let r4 = rw.try_read_recursive().expect("readers share");
                    assert_eq!(*r1 + *r2 + *r3 + *r4, 0);
                    assert!(rw.try_write().is_none(), "readers keep writers out");
                    assert!(rw.try_write_for(Duration::from_millis(5)).is_none());
                    assert!(rw.is_locked() && !rw.is_locked_exclusive());
                }
                {
                    let mut w = rw.write();
                    *w = 1;
                    assert!(rw.try_read().is_none(), "a writer keeps readers out");
                    assert!(rw.try_read_recursive().is_none());
                    assert!(rw.try_read_for(Duration::from_millis(5)).is_none());
                    assert!(rw.try_upgradable_read().is_none());
                    assert!(rw.is_locked_exclusive());
                    RwLockWriteGuard::unlocked(&mut w, || {
                        let rw = rw.clone();
                        join_quietly(vec![spawn("unlocked-reader", move || *rw.read())])
                    });
                    *w += 1;
                }
                let mut r = rw.read();
                let seen = RwLockReadGuard::unlocked(&mut r, || {
                    let rw = rw.clone();
                    join_quietly(vec![spawn("unlocked-writer", move || {
                        let mut w = rw.write();
                        *w += 1;
                        *w
                    })])
                });
                assert_eq!((seen, *r), (vec![3], 3));
                drop(r);
                let deadline = Instant::now() + Duration::from_secs(5);
                assert_eq!(rw.try_write_until(deadline).map(|w| *w), Some(3));
                assert_eq!(rw.try_read_until(deadline).map(|r| *r), Some(3));
                assert_eq!(
                    rw.try_read_recursive_for(Duration::from_secs(5))
                        .map(|r| *r),
                    Some(3)
                );
            }

            /// `upgradable_read` next to readers; `upgrade`, `try_upgrade`, `try_upgrade_for`,
            /// `downgrade`, `with_upgraded`; one upgradable reader at a time.
            #[test]
            fn rwlock_upgradable_reads() {
                let _watchdog = watchdog("rwlock_upgradable_reads");
                let rw = Arc::new(RwLock::new(10u32));
                let up = rw.upgradable_read();
                let plain = rw.read();
                assert_eq!(*up + *plain, 20);
                assert!(
                    rw.try_upgradable_read().is_none(),
                    "one upgradable at a time"
                );
                assert!(rw.try_write().is_none());
                // A reader on another thread: `try_upgrade` fails, `try_upgrade_for` times out.
                drop(plain);
                let step = Arc::new(Barrier::new(2));
                let reader = {
                    let (rw, step) = (rw.clone(), step.clone());
                    spawn("upgrade-blocker", move || {
                        let r = rw.read();
                        step.wait(); // 1: reading
                        step.wait(); // 2: the upgrades failed
                        *r
                    })
                };
                step.wait(); // 1
                let up = RwLockUpgradableReadGuard::try_upgrade(up)
                    .map(|_| ())
                    .expect_err("a reader holds the lock");
                let up = RwLockUpgradableReadGuard::try_upgrade_for(up, Duration::from_millis(20))
                    .map(|_| ())
                    .expect_err("the reader still holds the lock");
                step.wait(); // 2
                assert_eq!(join_quietly(vec![reader]), vec![10]);
                let mut w = RwLockUpgradableReadGuard::upgrade(up);
                *w += 1;
                let mut up = RwLockWriteGuard::downgrade_to_upgradable(w);
                assert!(
                    rw.try_read().is_some(),
                    "readers may join an upgradable reader"
                );
                up.with_upgraded(|v| *v += 1);
                assert_eq!(up.try_with_upgraded(|v| *v), Some(12));
                let r = RwLockUpgradableReadGuard::downgrade(up);
                assert!(
                    rw.try_upgradable_read().is_some(),
                    "downgraded to a plain read"
                );
                assert_eq!(*r, 12);
                drop(r);
                let up = rw
                    .try_upgradable_read_for(Duration::from_secs(5))
                    .expect("free");
                let w = RwLockUpgradableReadGuard::try_upgrade(up)
                    .map_err(|_| ())
                    .expect("alone");
                assert_eq!(*w, 12);
            }

            /// `RwLockWriteGuard::downgrade` lets other readers in at once, atomically.
            #[test]
            fn rwlock_write_guard_downgrades() {
                let _watchdog = watchdog("rwlock_write_guard_downgrades");
                let rw = Arc::new(RwLock::new(0u32));
                let mut w = rw.write();
                *w = 1;
                let reader = {
                    let rw = rw.clone();
                    spawn("downgrade-reader", move || *rw.read())
                };
                // (Whether the reader has queued yet cannot be observed; either way it
                // must be let in while the downgraded guard still reads.)
                let r: RwLockReadGuard<'_, u32> = RwLockWriteGuard::downgrade(w);
                assert_eq!(join_quietly(vec![reader]), vec![1]);
                assert_eq!(*r, 1);
                assert!(rw.try_write().is_none());
                drop(r);
                let w = rw.write();
                let up = RwLockWriteGuard::downgrade_to_upgradable(w);
                assert!(rw.try_read().is_some());
                assert!(rw.try_upgradable_read().is_none());
                drop(up);
                assert!(!rw.is_locked());
            }

            /// Mapped read and write guards.
            #[test]
            fn rwlock_mapped_guards() {
                let _watchdog = watchdog("rwlock_mapped_guards");
                let rw = RwLock::new((String::from("name"), 1u32));
                {
                    let name: MappedRwLockReadGuard<'_, String> =
                        RwLockReadGuard::map(rw.read(), |t| &t.0);
                    let also = rw.read(); // a mapped read guard is a read lock
                    assert_eq!((name.as_str(), also.1), ("name", 1));
                    let len = MappedRwLockReadGuard::map(name, |s| s.as_str());
                    assert_eq!(&*len, "name");
                }
                {
                    let mut count: MappedRwLockWriteGuard<'_, u32> =
                        RwLockWriteGuard::map(rw.write(), |t| &mut t.1);
                    *count += 1;
                    assert!(
                        rw.try_read().is_none(),
                        "a mapped write guard is a write lock"
                    );
                }
                let refused = RwLockWriteGuard::try_map(rw.write(), |_| None::<&mut u32>);
                let w = refused.map(|_| ()).expect_err("None gives the guard back");
                drop(w);
                let refused = RwLockReadGuard::try_map(rw.read(), |_| None::<&u32>);
                assert!(refused.is_err());
                drop(refused); // it is the read guard, given back
                let name = RwLockWriteGuard::try_map(rw.write(), |t| Some(&mut t.0));
                let mut name = name.map_err(|_| ()).expect("Some maps");
                name.push('!');
                let mut name = MappedRwLockWriteGuard::map(name, |s| s.as_mut_str());
                name.make_ascii_uppercase();
                drop(name);
                assert_eq!(*rw.read(), (String::from("NAME!"), 2));
            }

            /// `ReentrantMutex`: relock, `try_lock`, ownership, `map`, `unlocked`, timed locks.
            #[test]
            fn reentrant_mutex_api() {
                let _watchdog = watchdog("reentrant_mutex_api");
                let re = Arc::new(ReentrantMutex::new((Cell::new(0u32), 5u8)));
                let mut outer = re.lock();
                let inner = re.lock();
                let again = re.try_lock().expect("the owner relocks");
                let timed = re.try_lock_for(Duration::from_millis(1)).expect("owner");
                assert!(re.is_owned_by_current_thread() && re.is_locked());
                inner.0.set(inner.0.get() + 1);
                drop((inner, again, timed));
                let other = {
                    let re = re.clone();
                    spawn("reentrant-outsider", move || {
                        assert!(!re.is_owned_by_current_thread());
                        let refused = re.try_lock().is_none();
                        let timed_out = re.try_lock_for(Duration::from_millis(5)).is_none();
                        (refused, timed_out)
                    })
                };
                assert_eq!(join_quietly(vec![other]), vec![(true, true)]);
                let seen = ReentrantMutexGuard::unlocked(&mut outer, || {
                    assert!(!re.is_owned_by_current_thread());
                    let re = re.clone();
                    join_quietly(vec![spawn("reentrant-visitor", move || {
                        let g = re.lock();
                        g.0.set(g.0.get() + 1);
                        g.0.get()
                    })])
                });
                assert_eq!(seen, vec![2]);
                assert!(re.is_owned_by_current_thread());
                let byte: MappedReentrantMutexGuard<'_, u8> =
                    ReentrantMutexGuard::map(outer, |pair| &pair.1);
                assert_eq!(*byte, 5);
                let cell = MappedReentrantMutexGuard::map(byte, |b| b);
                assert!(
                    re.is_owned_by_current_thread(),
                    "a mapped guard keeps the lock"
                );
                drop(cell);
                assert!(!re.is_locked());
                let refused = ReentrantMutexGuard::try_map(re.lock(), |_| None::<&u8>);
                assert!(refused.is_err());
                let counter = ReentrantMutexGuard::try_map(re.lock(), |pair| Some(&pair.0));
                let counter = counter.map_err(|_| ()).expect("Some maps");
                assert_eq!(counter.get(), 2);
                drop(counter);
                ReentrantMutexGuard::unlock_fair(re.lock());
                let deadline = Instant::now() + Duration::from_secs(5);
                assert!(re.try_lock_until(deadline).is_some());
            }

            /// `bump` while another thread takes and releases the mutex: the guard still
            /// holds exactly its one level, so dropping it releases the mutex.
            #[test]
            fn reentrant_bump_hands_over_and_keeps_one_level() {
                let _watchdog = watchdog("reentrant_bump_hands_over_and_keeps_one_level");
                let re = Arc::new(ReentrantMutex::new(Cell::new(0u32)));
                let mut guard = re.lock();
                let visitor = {
                    let re = re.clone();
                    spawn("bump-visitor", move || re.lock().set(1))
                };
                let deadline = Instant::now() + Duration::from_secs(10);
                while guard.get() == 0 {
                    assert!(Instant::now() < deadline, "the visitor never got the mutex");
                    ReentrantMutexGuard::bump(&mut guard);
                }
                assert!(re.is_owned_by_current_thread(), "bump takes the mutex back");
                drop(guard);
                join_quietly(vec![visitor]);
                assert!(!re.is_locked(), "one drop releases the one level");
                let re2 = re.clone();
                let taken =
                    join_quietly(vec![spawn("bump-after", move || re2.try_lock().is_some())]);
                assert_eq!(taken, vec![true]);
            }

            /// `ReentrantMutex` guards: `bump`, `unlocked_fair`, `try_map_or_err`, and
            /// `unlock_fair` on a mapped guard.
            #[test]
            fn reentrant_mutex_fair_and_fallible_guards() {
                let _watchdog = watchdog("reentrant_mutex_fair_and_fallible_guards");
                let re = Arc::new(ReentrantMutex::new((Cell::new(0u32), 5u8)));
                let mut outer = re.lock();
                // The only level: `bump` lets others in and takes the lock back.
                ReentrantMutexGuard::bump(&mut outer);
                assert!(re.is_owned_by_current_thread());
                // Two levels: `bump` cannot release, and does nothing.
                let mut inner = re.lock();
                ReentrantMutexGuard::bump(&mut inner);
                assert!(re.is_owned_by_current_thread());
                drop(inner);
                let seen = ReentrantMutexGuard::unlocked_fair(&mut outer, || {
                    assert!(!re.is_locked());
                    let re = re.clone();
                    join_quietly(vec![spawn("reentrant-fair-visitor", move || {
                        let g = re.lock();
                        g.0.set(g.0.get() + 1);
                        g.0.get()
                    })])
                });
                assert_eq!(seen, vec![1]);
                assert!(re.is_owned_by_current_thread());
                let refused =
                    ReentrantMutexGuard::try_map_or_err(outer, |_| Err::<&u8, _>("no part"));
                let (outer, error) = refused.map(|_| ()).expect_err("Err keeps the guard");
                assert_eq!(error, "no part");
                assert_eq!(outer.0.get(), 1, "the returned guard still reads the data");
                let byte = ReentrantMutexGuard::try_map_or_err(outer, |pair| Ok::<_, ()>(&pair.1));
                let byte = byte.map_err(|_| ()).expect("Ok maps");
                assert_eq!(*byte, 5);
                let same = MappedReentrantMutexGuard::try_map_or_err(byte, |b| Ok::<_, ()>(b));
                let same = same.map_err(|_| ()).expect("Ok maps");
                assert!(re.is_owned_by_current_thread());
                MappedReentrantMutexGuard::unlock_fair(same);
                assert!(!re.is_locked());
            }

            /// `Condvar::wait`/`wait_while`/`wait_for`/`notify_*` with the flavour's mutex.
            #[test]
            fn condvar_with_the_mutex() {
                let _watchdog = watchdog("condvar_with_the_mutex");
                let pair = Arc::new((Mutex::new(false), Condvar::new()));
                let timed_out = {
                    let (m, cv) = &*pair;
                    let mut ready = m.lock();
                    cv.wait_for(&mut ready, Duration::from_millis(5))
                        .timed_out()
                };
                assert!(timed_out, "nobody notifies");
                let notifier = {
                    let pair = pair.clone();
                    spawn("notifier", move || {
                        let (m, cv) = &*pair;
                        *m.lock() = true;
                        cv.notify_all();
                    })
                };
                let (m, cv) = &*pair;
                let mut ready = m.lock();
                cv.wait_while(&mut ready, |ready| !*ready);
                assert!(*ready);
                drop(ready);
                join_quietly(vec![notifier]);
                assert!(!cv.notify_one(), "nobody waits any more");
            }

            /// `T: ?Sized`: slices behind a `Box`, trait objects behind a reference or `Arc`,
            /// by unsizing coercion, as parking_lot allows.
            #[test]
            fn unsized_data() {
                let _watchdog = watchdog("unsized_data");
                let bytes: Box<Mutex<[u8]>> = Box::new(Mutex::new([1u8, 2, 3]));
                bytes.lock()[1] = 20;
                assert_eq!(&*bytes.lock(), &[1, 20, 3]);
                let first = MutexGuard::map(bytes.lock(), |b| &mut b[0]);
                assert_eq!(*first, 1);
                drop(first);

                let concrete = Mutex::new(42u32);
                let object: &Mutex<dyn Debug> = &concrete;
                assert_eq!(format!("{:?}", &*object.lock()), "42");
                assert_eq!(format!("{object:?}"), "Mutex { data: 42 }");

                let shared: Arc<Mutex<dyn FnMut() -> u32 + Send>> = Arc::new(Mutex::new({
                    let mut n = 0;
                    move || {
                        n += 1;
                        n
                    }
                }));
                let calls = {
                    let shared = shared.clone();
                    spawn("unsized-caller", move || (shared.lock())())
                };
                assert_eq!(join_quietly(vec![calls]), vec![1]);
                assert_eq!((shared.lock())(), 2);

                let table: &RwLock<[u32]> = &RwLock::new([1, 2]);
                table.write()[0] = 3;
                assert_eq!(table.read().iter().sum::<u32>(), 5);

                let re = ReentrantMutex::new(String::from("re"));
                let object: &ReentrantMutex<dyn Debug> = &re;
                let outer = object.lock();
                let inner = object.lock();
                assert_eq!(format!("{:?}", &*inner), "\"re\"");
                drop((inner, outer));
            }
        }
    };
}

parking_lot_usage!(with_parking_lot, parking_lot);
parking_lot_usage!(with_impasse, impasse);

/// `<Probe<T>>::IS_SEND` is `true` exactly when `T: Send`: the inherent constant exists only
/// for `Send` types, and otherwise the path falls back to the trait's default (the trick of
/// the `impls` crate, in a const context, so a wrong answer fails the *build*).
struct Probe<T: ?Sized>(PhantomData<T>);

trait NotSend {
    const IS_SEND: bool = false;
}
impl<T: ?Sized> NotSend for Probe<T> {}

impl<T: ?Sized + Send> Probe<T> {
    #[allow(dead_code)] // read through the path below, which rustc does not count
    const IS_SEND: bool = true;
}

/// The same for `Sync`.
struct SyncProbe<T: ?Sized>(PhantomData<T>);

trait NotSync {
    const IS_SYNC: bool = false;
}
impl<T: ?Sized> NotSync for SyncProbe<T> {}

impl<T: ?Sized + Sync> SyncProbe<T> {
    #[allow(dead_code)]
    const IS_SYNC: bool = true;
}

macro_rules! is_send {
    ($t:ty) => {
        <Probe<$t>>::IS_SEND
    };
}
macro_rules! is_sync {
    ($t:ty) => {
        <SyncProbe<$t>>::IS_SYNC
    };
}

// The probe itself works: these would fail the build if it answered wrongly.
const _: () = assert!(is_send!(u8) && !is_send!(std::rc::Rc<u8>));
const _: () = assert!(is_sync!(u8) && !is_sync!(std::cell::Cell<u8>));

// With `detect` (the default) a guard must stay on the thread that locked: the held stack
// that knows it is per thread (STYLE.md 14). parking_lot's guards are not `Send` either
// (without its `send_guard` feature), so the swap loses nothing.
const _: () = {
    assert!(!is_send!(impasse::MutexGuard<'static, u8>));
    assert!(!is_send!(impasse::MappedMutexGuard<'static, u8>));
    assert!(!is_send!(impasse::RwLockReadGuard<'static, u8>));
    assert!(!is_send!(impasse::RwLockWriteGuard<'static, u8>));
    assert!(!is_send!(impasse::RwLockUpgradableReadGuard<'static, u8>));
    assert!(!is_send!(impasse::MappedRwLockReadGuard<'static, u8>));
    assert!(!is_send!(impasse::MappedRwLockWriteGuard<'static, u8>));
    assert!(!is_send!(impasse::ReentrantMutexGuard<'static, u8>));
    assert!(!is_send!(impasse::MappedReentrantMutexGuard<'static, u8>));
    assert!(!is_send!(impasse::stdsync::MutexGuard<'static, u8>));
    assert!(!is_send!(impasse::stdsync::RwLockReadGuard<'static, u8>));
    assert!(!is_send!(impasse::stdsync::RwLockWriteGuard<'static, u8>));
    // The oracle agrees.
    assert!(!is_send!(parking_lot::MutexGuard<'static, u8>));
    assert!(!is_send!(parking_lot::RwLockWriteGuard<'static, u8>));
    assert!(!is_send!(parking_lot::ReentrantMutexGuard<'static, u8>));
};

// Sharing a guard is fine when the data is `Sync`, as in parking_lot.
const _: () = {
    assert!(is_sync!(impasse::MutexGuard<'static, u8>));
    assert!(is_sync!(impasse::RwLockReadGuard<'static, u8>));
    assert!(is_sync!(impasse::ReentrantMutexGuard<'static, u8>));
    assert!(!is_sync!(impasse::MutexGuard<'static, std::cell::Cell<u8>>));
    assert!(!is_sync!(
        parking_lot::MutexGuard<'static, std::cell::Cell<u8>>
    ));
};

// The locks themselves have parking_lot's auto traits: `Send + Sync` for `T: Send`.
const _: () = {
    assert!(is_send!(impasse::Mutex<std::cell::Cell<u8>>));
    assert!(is_sync!(impasse::Mutex<std::cell::Cell<u8>>));
    assert!(!is_sync!(impasse::RwLock<std::cell::Cell<u8>>)); // readers share `&T`
    assert!(!is_sync!(parking_lot::RwLock<std::cell::Cell<u8>>));
    assert!(is_sync!(impasse::ReentrantMutex<std::cell::Cell<u8>>));
    assert!(is_sync!(parking_lot::ReentrantMutex<std::cell::Cell<u8>>));
    assert!(!is_send!(impasse::Mutex<std::rc::Rc<u8>>));
    assert!(!is_sync!(impasse::Mutex<std::rc::Rc<u8>>));
    assert!(is_send!(impasse::stdsync::Mutex<std::cell::Cell<u8>>));
    assert!(is_sync!(impasse::stdsync::Mutex<std::cell::Cell<u8>>));
};

/// What a parking_lot user may still miss after the swap. Each line is parking_lot code that
/// compiles against `parking_lot` (checked here) and would not compile against `impasse`
/// (the error is quoted); the impasse lines are left out so that this file builds.
mod impasse_only {
    #[test]
    fn api_gaps_seen_from_here() {
        // `MutexGuard::mutex` returns lock_api's `Mutex<RawMutex, T>`. For parking_lot that
        // *is* `parking_lot::Mutex<T>`; for impasse it is not `impasse::Mutex<T>`:
        //     let m: &impasse::Mutex<u8> = impasse::MutexGuard::mutex(&g);
        //     error[E0308]: mismatched types: expected `&Mutex<u8>`, found
        //     `&lock_api::Mutex<impasse::RawMutex, u8>`
        // (the same for `RwLock*Guard::rwlock`).
        let m = parking_lot::Mutex::new(0u8);
        let g = m.lock();
        let back: &parking_lot::Mutex<u8> = parking_lot::MutexGuard::mutex(&g);
        assert!(back.is_locked());
        drop(g);

        // No `FairMutex`, no `Mutex::const_new` (`new` is `const`, and `const_mutex` &
        // co. exist):
        //     impasse::FairMutex::new(0u8);
        //     error[E0433]: cannot find `FairMutex` in `impasse`
        // and, behind parking_lot's `arc_lock` feature, `lock_arc` & co. (`ArcMutexGuard`):
        //     error[E0599]: no method named `lock_arc` found for struct `Arc<impasse::Mutex<u8>>`
        let fair = parking_lot::FairMutex::new(0u8);
        assert_eq!(*fair.lock(), 0);
    }
}
