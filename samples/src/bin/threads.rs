//! `threads [N]`: starts N threads (default 4); each makes gettid(2) and
//! sched_yield(2) and writes a line to /dev/null; the main thread joins them.
//! The syscalls of the threads must be recorded like those of the process.

use std::io::Write;

fn main() {
    let n = samples::count_arg(4);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            std::thread::spawn(move || {
                samples::raw_syscall0(libc::SYS_gettid);
                samples::raw_syscall0(libc::SYS_sched_yield);
                if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
                    let _ = writeln!(f, "thread {i}");
                }
            })
        })
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
}
