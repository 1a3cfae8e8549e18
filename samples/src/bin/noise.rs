//! `noise [SECONDS]`: calls getppid(2) as fast as it can for SECONDS (default
//! 3600), the same syscall `getppid-loop` makes, so that a recording beside it
//! must tell the two apart by cgroup alone. Ends early on SIGTERM.

use std::time::{Duration, Instant};

fn main() {
    let seconds = samples::count_arg(3600);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        for _ in 0..10_000 {
            samples::raw_syscall0(libc::SYS_getppid);
        }
    }
}
