//! `captured-loop [N]`: calls prctl(PR_GET_DUMPABLE) exactly N times
//! (default 1000) as a raw syscall, then exits 0 without printing: the
//! counterpart of `getppid-loop` with a syscall whose argument the recorder
//! captures, so a benchmark can tell what argument capture adds per call.
//!
//! With `SAMPLES_REPORT_NS` set it also prints `ns_per_call=<f64>` on stderr,
//! as `getppid-loop` does.

use std::time::Instant;

fn main() {
    let n = samples::count_arg(1000);
    let started = std::env::var_os("SAMPLES_REPORT_NS").map(|_| Instant::now());
    for _ in 0..n {
        // SAFETY: PR_GET_DUMPABLE takes no pointer and changes nothing.
        unsafe { libc::syscall(libc::SYS_prctl, libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
    }
    if let Some(started) = started {
        let ns = started.elapsed().as_nanos() as f64 / n.max(1) as f64;
        eprintln!("ns_per_call={ns}");
    }
}
