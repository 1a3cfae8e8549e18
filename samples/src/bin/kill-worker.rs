//! `kill-worker [N [NR:A,B,C]]`: starts a worker thread that calls
//! getppid(2) N times (default 1) as a raw syscall, or syscall NR with
//! integer arguments A, B, C (decimal or 0x-hex; missing ones are zero),
//! and then notes that it returned; the main
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

/// The worker's call: `NR:A,B,C` from the second argument, or getppid.
fn call() -> (libc::c_long, [libc::c_long; 3]) {
    let Some(text) = std::env::args().nth(2) else {
        return (libc::SYS_getppid, [0; 3]);
    };
    let number = |t: &str| match t.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    };
    let (nr, args) = text.split_once(':').unwrap_or((&text, ""));
    let mut out = [0; 3];
    for (slot, arg) in out
        .iter_mut()
        .zip(args.split(',').filter(|a| !a.is_empty()))
    {
        *slot = number(arg).unwrap_or_else(|| {
            eprintln!("expected NR:A,B,C with integers, got {text:?}");
            std::process::exit(2)
        });
    }
    let nr = number(nr).unwrap_or_else(|| {
        eprintln!("expected NR:A,B,C with integers, got {text:?}");
        std::process::exit(2)
    });
    (nr, out)
}

fn main() {
    let n = samples::count_arg(1);
    let (nr, args) = call();
    // Detached: a thread killed by seccomp never finishes, and std's join
    // takes that for a bug.
    drop(std::thread::spawn(move || {
        for _ in 0..n {
            // SAFETY: the call gets integers only (the tests pass no
            // pointers).
            unsafe { libc::syscall(nr, args[0], args[1], args[2]) };
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
