//! `getppid-loop [N]`: calls getppid(2) exactly N times (default 1000) as a
//! raw syscall, then exits 0 without printing. The exactness test and the
//! syscall-bound benchmark count on that N.

fn main() {
    let n = samples::count_arg(1000);
    for _ in 0..n {
        samples::raw_syscall0(libc::SYS_getppid);
    }
}
