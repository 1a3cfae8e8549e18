//! `refused-loop [N]`: calls sysinfo(2) exactly N times (default 1000) as a
//! raw syscall, then prints `refused=R errno=E` on stderr (R: the calls
//! that failed, E: the errno of the last one, 0 if none) and exits 0: under
//! a profile that refuses sysinfo, N refused calls, the benchmark's "a
//! refused call under each watch". sysinfo never fails on its own with a
//! valid buffer, so R counts the refusals, for the benchmark to check that
//! every call was refused.
//!
//! With `SAMPLES_REPORT_NS` set it also prints `ns_per_call=<f64>`, the
//! loop's own time per call, as `getppid-loop` does.

use std::{io::Write, time::Instant};

fn main() {
    let n = samples::count_arg(1000);
    let started = std::env::var_os("SAMPLES_REPORT_NS").map(|_| Instant::now());
    let (mut refused, mut errno) = (0u64, 0);
    for _ in 0..n {
        let mut info = std::mem::MaybeUninit::<libc::sysinfo>::uninit();
        // SAFETY: sysinfo writes into a buffer of its own size.
        if unsafe { libc::syscall(libc::SYS_sysinfo, info.as_mut_ptr()) } != 0 {
            refused += 1;
            errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        }
    }
    let mut line = String::new();
    if let Some(started) = started {
        let ns = started.elapsed().as_nanos() as f64 / n.max(1) as f64;
        line.push_str(&format!("ns_per_call={ns}\n"));
    }
    line.push_str(&format!("refused={refused} errno={errno}\n"));
    let _ = std::io::stderr().write_all(line.as_bytes());
}
