//! `getppid-loop [N]`: calls getppid(2) exactly N times (default 1000) as a
//! raw syscall, then exits 0 without printing. The exactness test and the
//! syscall-bound benchmark count on that N.
//!
//! With `SAMPLES_REPORT_NS` set it also prints `ns_per_call=<f64>` on stderr:
//! the loop's own time per call, so a benchmark can leave out process start-up
//! (and a recorder's). The clock is read only then: where the clock source has
//! no vDSO path, reading it is a syscall of its own.

use std::time::Instant;

fn main() {
    let n = samples::count_arg(1000);
    let started = std::env::var_os("SAMPLES_REPORT_NS").map(|_| Instant::now());
    for _ in 0..n {
        samples::raw_syscall0(libc::SYS_getppid);
    }
    if let Some(started) = started {
        let ns = started.elapsed().as_nanos() as f64 / n.max(1) as f64;
        eprintln!("ns_per_call={ns}");
    }
}
