//! `interrupted-sleep CALL MILLISECONDS`: installs a SIGUSR1 handler, prints
//! `ready PID` on stdout, then blocks in CALL until MILLISECONDS have passed,
//! calling it again with the time left whenever it returns EINTR (as a
//! careful program does). Prints `slept CALL usr1=N` and exits 0; any other
//! error ends it with `CALL failed: ERROR` and status 1.
//!
//! Whether the kernel makes `restart_syscall` or `rt_sigreturn` for it
//! depends only on what happens to it from outside while it sleeps: tests
//! stop and continue it (SIGSTOP, SIGCONT) or send SIGUSR1 during the sleep in
//! some runs and not in others.
//!
//! CALL is one of: nanosleep, clock_nanosleep, clock_nanosleep_abs, futex,
//! poll, ppoll, select, pselect6, epoll_wait, epoll_pwait (poll, select and
//! the epoll ones on x86_64 only).

use std::{
    io::Write,
    ptr,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

static USR1: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_usr1(_: libc::c_int) {
    USR1.fetch_add(1, Ordering::SeqCst);
}

fn timespec(left: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: left.as_secs() as libc::time_t,
        tv_nsec: left.subsec_nanos() as libc::c_long,
    }
}

fn millis(left: Duration) -> libc::c_int {
    // Rounded up, so that the loop does not spin on a last fraction.
    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
}

/// One blocking call (the raw syscall, so that its name is the one counted) for at most `left` (or until the absolute `deadline` on
/// CLOCK_MONOTONIC); returns -1 with errno set on failure, like libc.
fn block_once(call: &str, left: Duration, deadline: libc::timespec, word: &u32) -> libc::c_long {
    let ts = timespec(left);
    // SAFETY: every call gets valid pointers to locals or null where the
    // kernel accepts null; none keeps them past the call.
    unsafe {
        match call {
            "nanosleep" => {
                libc::syscall(libc::SYS_nanosleep, &ts, ptr::null_mut::<libc::timespec>())
            }
            "clock_nanosleep" => libc::syscall(
                libc::SYS_clock_nanosleep,
                libc::CLOCK_MONOTONIC,
                0,
                &ts,
                ptr::null_mut::<libc::timespec>(),
            ),
            "clock_nanosleep_abs" => libc::syscall(
                libc::SYS_clock_nanosleep,
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &deadline,
                ptr::null_mut::<libc::timespec>(),
            ),
            // Waits on a word nobody changes: only the timeout ends it.
            "futex" => libc::syscall(
                libc::SYS_futex,
                word as *const u32,
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                *word,
                &ts,
            ),
            #[cfg(target_arch = "x86_64")]
            "poll" => libc::syscall(
                libc::SYS_poll,
                ptr::null_mut::<libc::pollfd>(),
                0,
                millis(left),
            ),
            "ppoll" => libc::syscall(
                libc::SYS_ppoll,
                ptr::null_mut::<libc::pollfd>(),
                0,
                &ts,
                ptr::null::<libc::sigset_t>(),
                0,
            ),
            #[cfg(target_arch = "x86_64")]
            "select" => {
                let mut tv = libc::timeval {
                    tv_sec: left.as_secs() as libc::time_t,
                    tv_usec: left.subsec_micros() as libc::suseconds_t,
                };
                libc::syscall(
                    libc::SYS_select,
                    0,
                    ptr::null_mut::<libc::fd_set>(),
                    ptr::null_mut::<libc::fd_set>(),
                    ptr::null_mut::<libc::fd_set>(),
                    &mut tv,
                )
            }
            "pselect6" => {
                let mut ts = ts;
                libc::syscall(
                    libc::SYS_pselect6,
                    0,
                    ptr::null_mut::<libc::fd_set>(),
                    ptr::null_mut::<libc::fd_set>(),
                    ptr::null_mut::<libc::fd_set>(),
                    &mut ts,
                    ptr::null::<libc::c_void>(),
                )
            }
            #[cfg(target_arch = "x86_64")]
            "epoll_wait" | "epoll_pwait" => {
                let epoll = libc::epoll_create1(libc::EPOLL_CLOEXEC);
                if epoll < 0 {
                    return -1;
                }
                let mut event = libc::epoll_event { events: 0, u64: 0 };
                let r = if call == "epoll_wait" {
                    libc::syscall(libc::SYS_epoll_wait, epoll, &mut event, 1, millis(left))
                } else {
                    libc::syscall(
                        libc::SYS_epoll_pwait,
                        epoll,
                        &mut event,
                        1,
                        millis(left),
                        ptr::null::<libc::sigset_t>(),
                        0,
                    )
                };
                let errno = *libc::__errno_location();
                libc::close(epoll);
                *libc::__errno_location() = errno;
                r
            }
            _ => {
                eprintln!("interrupted-sleep: unknown call {call}");
                std::process::exit(2);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(call), Some(ms)) = (args.get(1), args.get(2).and_then(|a| a.parse::<u64>().ok()))
    else {
        eprintln!("usage: interrupted-sleep CALL MILLISECONDS");
        std::process::exit(2);
    };
    // SAFETY: the handler only touches an atomic, which is async-signal-safe;
    // the sigaction struct is fully initialised.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_usr1 as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGUSR1, &action, ptr::null_mut()) != 0 {
            eprintln!(
                "interrupted-sleep: sigaction: {}",
                std::io::Error::last_os_error()
            );
            std::process::exit(1);
        }
    }
    let total = Duration::from_millis(ms);
    let start = Instant::now();
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let end_ns =
        now.tv_sec as i128 * 1_000_000_000 + now.tv_nsec as i128 + total.as_nanos() as i128;
    let deadline = libc::timespec {
        tv_sec: (end_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (end_ns % 1_000_000_000) as libc::c_long,
    };
    let word = 0u32;

    println!("ready {}", std::process::id());
    let _ = std::io::stdout().flush();
    loop {
        let left = total.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        let r = block_once(call, left, deadline, &word);
        let error = if r < 0 {
            Some(std::io::Error::last_os_error())
        } else {
            None
        };
        match error {
            Some(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            // futex's timeout is its normal end here.
            Some(e) if call == "futex" && e.raw_os_error() == Some(libc::ETIMEDOUT) => continue,
            Some(e) if call == "futex" && e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Some(e) => {
                println!("{call} failed: {e}");
                std::process::exit(1);
            }
            None => {}
        }
        if call == "clock_nanosleep_abs" {
            break;
        }
    }
    println!("slept {call} usr1={}", USR1.load(Ordering::SeqCst));
}
