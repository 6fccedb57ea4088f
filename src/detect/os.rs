//! What the operating system says about the process's threads: their ids, and for a thread
//! impasse does not see through, what it is doing (Linux `/proc/self/task`).
//!
//! The closed-world rule (`closed_world.rs`) asks two things of a thread it cannot see into:
//! may it act (it runs, or sleeps with a timeout, or waits for input), or is it blocked until
//! another thread of this process wakes it? Only one answer is trusted as "blocked": the
//! thread sits in an untimed wait on a process-private futex (std's and parking_lot's locks,
//! condition variables and joins all wait there), which only a thread of this process can end.
//! Anything else, or anything unreadable, counts as able to act. Under loom, and elsewhere than
//! on Linux, nothing is known: every answer is `None`, and no world is ever closed.

use std::collections::BTreeSet;

/// What a thread is doing, as far as its `syscall` file tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Doing {
    /// On a CPU, or about to be.
    Running,
    /// In an untimed wait on a process-private futex: only another thread of this process
    /// can end it.
    BlockedForever,
    /// In a futex wait with a timeout.
    WaitingTimed,
    /// In `nanosleep` or `clock_nanosleep`.
    Sleeping,
    /// In another system call (reading input, polling, ...), or in a state not understood.
    Other,
}

impl Doing {
    /// How a stall report says it.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Doing::Running => "running",
            Doing::BlockedForever => "blocked outside impasse, without a timeout",
            Doing::WaitingTimed => "waiting outside impasse, with a timeout",
            Doing::Sleeping => "sleeping",
            Doing::Other => "in a system call impasse cannot judge (input, polling, ...)",
        }
    }
}

/// One look at one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Look {
    pub(crate) doing: Doing,
    /// The raw `syscall` line: the same line twice means the same wait (same futex, same
    /// arguments).
    pub(crate) syscall: String,
    /// Context switches so far: unchanged between two looks means the thread did not run.
    pub(crate) switches: u64,
    /// The thread's name as the kernel knows it (at most 15 bytes).
    pub(crate) comm: String,
    /// When the thread started, in clock ticks since boot.
    pub(crate) started: u64,
}

pub(crate) use imp::{current_tid, look, process_id, process_tids, uptime_ticks};

/// Clock ticks per second of `/proc`'s times (USER_HZ, 100 on every Linux ABI).
pub(crate) const TICKS_PER_SECOND: u64 = 100;

#[cfg(any(loom, not(target_os = "linux")))]
mod imp {
    use super::{BTreeSet, Look};

    pub(crate) fn current_tid() -> Option<u64> {
        None
    }

    pub(crate) fn process_id() -> Option<u64> {
        None
    }

    pub(crate) fn process_tids() -> Option<BTreeSet<u64>> {
        None
    }

    pub(crate) fn look(_tid: u64) -> Option<Look> {
        None
    }

    pub(crate) fn uptime_ticks() -> Option<u64> {
        None
    }
}

#[cfg(all(not(loom), target_os = "linux"))]
mod imp {
    use super::{BTreeSet, Doing, Look, TICKS_PER_SECOND};
    use std::fs;

    /// This thread's id, from `/proc/thread-self` (`<pid>/task/<tid>`).
    pub(crate) fn current_tid() -> Option<u64> {
        let link = fs::read_link("/proc/thread-self").ok()?;
        link.file_name()?.to_str()?.parse().ok()
    }

    /// The process's id: the id of its main thread.
    pub(crate) fn process_id() -> Option<u64> {
        Some(u64::from(std::process::id()))
    }

    /// The ids of every thread of the process.
    pub(crate) fn process_tids() -> Option<BTreeSet<u64>> {
        let entries = fs::read_dir("/proc/self/task").ok()?;
        entries
            .map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    }

    /// Seconds since boot, in clock ticks, as `/proc`'s start times count them.
    pub(crate) fn uptime_ticks() -> Option<u64> {
        let uptime = fs::read_to_string("/proc/uptime").ok()?;
        let seconds: f64 = uptime.split_whitespace().next()?.parse().ok()?;
        Some((seconds * TICKS_PER_SECOND as f64) as u64)
    }

    /// What thread `tid` is doing; `None` if it is gone or its files cannot be read.
    pub(crate) fn look(tid: u64) -> Option<Look> {
        let dir = format!("/proc/self/task/{tid}");
        let stat = fs::read_to_string(format!("{dir}/stat")).ok()?;
        let syscall = fs::read_to_string(format!("{dir}/syscall")).ok()?;
        let status = fs::read_to_string(format!("{dir}/status")).ok()?;
        let (comm, after_name) = split_stat(&stat)?;
        let mut fields = after_name.split_whitespace();
        let state = fields.next()?.chars().next()?;
        // `starttime` is field 22 of `stat`; the state is field 3.
        let started = fields.nth(18)?.parse().ok()?;
        let switches = status
            .lines()
            .filter(|line| line.contains("ctxt_switches:"))
            .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        let syscall = syscall.trim().to_owned();
        let doing = if state == 'R' {
            Doing::Running
        } else {
            doing(&syscall)
        };
        Some(Look {
            doing,
            syscall,
            switches,
            comm: comm.to_owned(),
            started,
        })
    }

    /// `stat`'s command name (in parentheses, and may hold anything) and what follows it.
    fn split_stat(stat: &str) -> Option<(&str, &str)> {
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        Some((stat.get(open + 1..close)?, stat.get(close + 1..)?))
    }

    /// The system call numbers that matter, by architecture: (futex, nanosleep,
    /// clock_nanosleep).
    #[cfg(target_arch = "x86_64")]
    const CALLS: Option<(u64, u64, u64)> = Some((202, 35, 230));
    #[cfg(target_arch = "aarch64")]
    const CALLS: Option<(u64, u64, u64)> = Some((98, 101, 115));
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    const CALLS: Option<(u64, u64, u64)> = None;

    const FUTEX_WAIT: u64 = 0;
    const FUTEX_WAIT_BITSET: u64 = 9;
    const FUTEX_PRIVATE_FLAG: u64 = 128;
    const FUTEX_CMD_MASK: u64 = !(FUTEX_PRIVATE_FLAG | 256);

    /// What a `syscall` line says: `running`, `-1 <sp> <pc>` (blocked outside a system
    /// call), or `<number> <six arguments> <sp> <pc>` in hexadecimal.
    pub(super) fn doing(line: &str) -> Doing {
        if line == "running" {
            return Doing::Running;
        }
        let Some((futex, nanosleep, clock_nanosleep)) = CALLS else {
            return Doing::Other;
        };
        let mut words = line.split_whitespace();
        let Some(Ok(number)) = words.next().map(str::parse::<u64>) else {
            return Doing::Other;
        };
        let args: Vec<u64> = words
            .take(4)
            .filter_map(|word| u64::from_str_radix(word.trim_start_matches("0x"), 16).ok())
            .collect();
        if number == nanosleep || number == clock_nanosleep {
            return Doing::Sleeping;
        }
        if number != futex || args.len() < 4 {
            return Doing::Other;
        }
        let (op, timeout) = (args[1], args[3]);
        let waits = matches!(op & FUTEX_CMD_MASK, FUTEX_WAIT | FUTEX_WAIT_BITSET);
        match (waits, op & FUTEX_PRIVATE_FLAG != 0, timeout) {
            (true, true, 0) => Doing::BlockedForever,
            (true, _, _) => Doing::WaitingTimed,
            _ => Doing::Other,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_process_threads_are_visible() {
            let tid = current_tid().expect("a thread id");
            let tids = process_tids().expect("the task list");
            assert!(tids.contains(&tid));
            let me = look(tid).expect("a look at this thread");
            assert_eq!(me.doing, Doing::Running, "{me:?}");
        }

        #[cfg(target_arch = "x86_64")]
        #[test]
        fn syscall_lines_are_read_as_std_writes_them() {
            // As read off threads blocked in std: a `Barrier` (untimed, private), libtest's
            // runner waiting for a result with a timeout, a `thread::sleep`.
            let forever =
                "202 0x7fa418000d10 0x89 0x0 0x0 0x0 0xffffffff 0x7fa41c3a8a98 0x7fa41c6af829";
            let timed = "202 0x55d33ea15778 0x89 0xffffffff 0x7ffd6b1e4cd0 0x0 0x7ffdffffffff 0x7ffd6b1e4cb8 0x7fa41c6af829";
            let shared =
                "202 0x7fa418000d10 0x9 0x0 0x0 0x0 0xffffffff 0x7fa41c3a8a98 0x7fa41c6af829";
            let sleep =
                "230 0x0 0x0 0x7ffc17b35d80 0x7ffc17b35dc0 0x0 0x0 0x7ffc17b35d68 0x7f5af8ac5503";
            assert_eq!(doing(forever), Doing::BlockedForever);
            assert_eq!(doing(timed), Doing::WaitingTimed);
            assert_eq!(
                doing(shared),
                Doing::WaitingTimed,
                "another process may wake it"
            );
            assert_eq!(doing(sleep), Doing::Sleeping);
            assert_eq!(
                doing("0 0x4 0x7f 0x20 0xfff 0x0 0x1 0x7f 0x7f"),
                Doing::Other
            );
            assert_eq!(doing("-1 0x7ffc 0x7f5a"), Doing::Other);
            assert_eq!(doing("running"), Doing::Running);
        }

        #[test]
        fn a_thread_parked_by_std_is_blocked_forever() {
            use crate::facade::plain::{AtomicBool, AtomicU64, Ordering};
            use std::sync::Arc;
            // std's `park` waits, untimed, on a process-private futex, as its locks do.
            let tid = Arc::new(AtomicU64::new(0));
            let done = Arc::new(AtomicBool::new(false));
            let parked = {
                let (tid, done) = (tid.clone(), done.clone());
                std::thread::spawn(move || {
                    tid.store(current_tid().expect("a thread id"), Ordering::SeqCst);
                    while !done.load(Ordering::SeqCst) {
                        std::thread::park();
                    }
                })
            };
            while tid.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
            let tid = tid.load(Ordering::SeqCst);
            let mut seen = None;
            for _ in 0..500 {
                let now = look(tid).expect("the parked thread is there");
                if now.doing == Doing::BlockedForever {
                    seen = Some(now);
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            done.store(true, Ordering::SeqCst);
            parked.thread().unpark();
            parked.join().unwrap();
            if CALLS.is_some() {
                assert!(seen.is_some(), "never seen blocked forever");
            }
        }
    }
}
