//! Workloads with known syscall behaviour, for the tests, the docs and the
//! benchmarks. Each binary in `src/bin` says what it does; this library has
//! what they share.

use std::ffi::c_long;

/// Makes syscall `nr` with no arguments, bypassing any caching a C library
/// might do, and returns the raw result.
pub fn raw_syscall0(nr: c_long) -> c_long {
    // SAFETY: the syscalls used by the samples take no pointer arguments.
    unsafe { libc::syscall(nr) }
}

/// The count given as the first argument, or `default`; exits with status 2
/// and a message on a malformed one.
pub fn count_arg(default: u64) -> u64 {
    match std::env::args().nth(1) {
        None => default,
        Some(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("expected a count, got {text:?}");
            std::process::exit(2)
        }),
    }
}
