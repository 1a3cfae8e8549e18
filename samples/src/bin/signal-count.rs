//! `signal-count [SECONDS]`: counts the SIGINTs, SIGTERMs and SIGHUPs it
//! receives. It waits up to SECONDS (default 30) for the first one, then half
//! a second more for any duplicate, prints `sigint=N sigterm=M sighup=H` on
//! stdout and exits 0.
//! Tests use it to check that a signal reaches the recorded command exactly
//! once, whether it came from a terminal or from kill(1).

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

static SIGINTS: AtomicU32 = AtomicU32::new(0);
static SIGTERMS: AtomicU32 = AtomicU32::new(0);
static SIGHUPS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    let counter = match signal {
        libc::SIGINT => &SIGINTS,
        libc::SIGHUP => &SIGHUPS,
        _ => &SIGTERMS,
    };
    counter.fetch_add(1, Ordering::SeqCst);
}

fn main() {
    let seconds = samples::count_arg(30);
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only touches atomics, which is async-signal-safe.
        unsafe { libc::signal(signal, on_signal as *const () as libc::sighandler_t) };
    }
    let total = || {
        SIGINTS.load(Ordering::SeqCst)
            + SIGTERMS.load(Ordering::SeqCst)
            + SIGHUPS.load(Ordering::SeqCst)
    };
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while total() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    println!(
        "sigint={} sigterm={} sighup={}",
        SIGINTS.load(Ordering::SeqCst),
        SIGTERMS.load(Ordering::SeqCst),
        SIGHUPS.load(Ordering::SeqCst)
    );
}
