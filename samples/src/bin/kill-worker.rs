//! `kill-worker [N]`: starts a worker thread that calls getppid(2) N times
//! (default 1) as a raw syscall and then notes that it returned; the main
//! thread waits until the kernel has removed the worker from
//! /proc/self/task, then prints `worker=returned` or `worker=killed` and
//! exits 0. Under a filter that kills the thread for getppid
//! (`SCMP_ACT_KILL_THREAD`), the worker dies inside the syscall and the
//! main thread prints `worker=killed`: that is the kernel's verdict. Under
//! `SCMP_ACT_KILL_PROCESS` the whole process dies of SIGSYS and prints
//! nothing.

use std::sync::atomic::{AtomicBool, Ordering};

static RETURNED: AtomicBool = AtomicBool::new(false);

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

fn main() {
    let n = samples::count_arg(1);
    // Detached: a thread killed by seccomp never finishes, and std's join
    // takes that for a bug.
    drop(std::thread::spawn(move || {
        for _ in 0..n {
            samples::raw_syscall0(libc::SYS_getppid);
        }
        RETURNED.store(true, Ordering::SeqCst);
    }));
    while threads() > 1 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let verdict = if RETURNED.load(Ordering::SeqCst) {
        "returned"
    } else {
        "killed"
    };
    println!("worker={verdict}");
}
