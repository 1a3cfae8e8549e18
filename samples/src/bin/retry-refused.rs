//! `retry-refused SECONDS [WAIT]`: calls sysinfo(2) again and again for
//! SECONDS (at least once; `0` for a single call), as a program retries a
//! call that keeps failing, then prints `calls=N failed=M errno=E` on
//! standard error (E: the errno of the last failure, 0 if none; standard
//! output stays free for a tool's `--json -`) and sleeps WAIT seconds
//! (default 0) before exiting 0.
//!
//! sysinfo never fails on its own with a valid buffer, so each failure is
//! a refusal: the tests of `enforce`'s live report set the number the
//! program counted against the tool's, and watch the live lines come
//! while the program still sleeps.

use std::{
    io::Write,
    time::{Duration, Instant},
};

fn seconds(arg: Option<String>) -> Duration {
    match arg.as_deref().map(str::parse::<f64>) {
        None => Duration::ZERO,
        Some(Ok(s)) if s >= 0.0 && s.is_finite() => Duration::from_secs_f64(s),
        Some(_) => {
            eprintln!("retry-refused: give seconds as a number, e.g. 2.5");
            std::process::exit(2);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let run_for = seconds(args.next());
    let wait = seconds(args.next());
    let started = Instant::now();
    let (mut calls, mut failed, mut errno) = (0u64, 0u64, 0);
    loop {
        // The clock is read once every 256 calls: where it has no vDSO
        // path, reading it is a syscall of its own.
        for _ in 0..256 {
            let mut info = std::mem::MaybeUninit::<libc::sysinfo>::uninit();
            // SAFETY: sysinfo writes into a buffer of its own size.
            let ret = unsafe { libc::syscall(libc::SYS_sysinfo, info.as_mut_ptr()) };
            calls += 1;
            if ret != 0 {
                failed += 1;
                errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            }
            if run_for.is_zero() {
                break;
            }
        }
        if started.elapsed() >= run_for {
            break;
        }
    }
    // One write: standard error is unbuffered, so `writeln!` would write
    // each piece apart, and the tool's own lines on the same pipe could
    // land in the middle of the count.
    let line = format!("calls={calls} failed={failed} errno={errno}\n");
    let mut out = std::io::stderr();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
    std::thread::sleep(wait);
}
