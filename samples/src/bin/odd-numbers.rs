//! `odd-numbers`: makes syscalls no table names: number 1000 (inside the
//! recorder's table range, but no syscall), -1, and, on x86_64, an x32
//! number (getpid with bit 30 set). The kernel answers ENOSYS to all three;
//! a recorder must still count and report them, not drop them.

fn main() {
    samples::raw_syscall0(1000);
    samples::raw_syscall0(-1);
    #[cfg(target_arch = "x86_64")]
    samples::raw_syscall0(0x4000_0000 | libc::SYS_getpid);
}
