//! `soak SECONDS [EXEC_EVERY_MS]`: a steady load shaped like a day of a
//! service, compressed, for SECONDS (default 10): what a long recording
//! sees, for measuring whether the recorder's memory stays flat.
//!
//! Every millisecond (a tick) it makes 20 raw `getppid` calls (the steady
//! syscall rate) and 4 calls whose arguments the recorder captures, each
//! from a bounded set that it cycles through: `prctl` with one of 6
//! options, `ioctl` on /dev/null with one of 16 requests (`0x12340000 +
//! i`, which no driver knows: each fails with ENOTTY and does nothing),
//! `fcntl` with one of 4 commands, and every 10th tick a `socket` of one of
//! 3 types, closed at once. Every EXEC_EVERY_MS ticks (default 5) it
//! starts a short child, itself again (`soak child`: a few syscalls, then
//! exit), reaped without blocking; every 50 ticks a thread that makes a few
//! syscalls and ends.
//!
//! A tick that runs late is not made up for: the rates are what the
//! machine allowed, and are printed at the end on stdout, as
//! `seconds=F ticks=N syscalls=N captured=N execs=N threads=N` (syscalls:
//! the ones counted by the loop itself, not those of the children and of
//! spawning them).

use std::{
    ffi::c_long,
    os::fd::AsRawFd,
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

/// prctl options that only read (`PR_GET_*`): dumpable, keepcaps,
/// timer slack, no_new_privs, seccomp mode, THP disable.
const PRCTL_OPTIONS: [c_long; 6] = [3, 7, 30, 39, 21, 42];
/// fcntl commands that only read: F_GETFD, F_GETFL, F_GETOWN, F_GETSIG.
const FCNTL_COMMANDS: [c_long; 4] = [1, 3, 9, 11];
/// SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET.
const SOCKET_TYPES: [c_long; 3] = [1, 2, 5];
/// Distinct ioctl requests.
const IOCTL_REQUESTS: c_long = 16;
/// Children started and not yet reaped, at most.
const CHILDREN_IN_FLIGHT: usize = 16;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        child();
        return;
    }
    let number = |index: usize, default: u64| match args.get(index) {
        None => default,
        Some(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("soak: expected a number, got {text:?}");
            std::process::exit(2)
        }),
    };
    let seconds = number(1, 10);
    let exec_every = number(2, 5).max(1);
    let exe = std::env::current_exe().unwrap_or_else(|e| {
        eprintln!("soak: cannot find its own executable: {e}");
        std::process::exit(1)
    });
    let null = std::fs::File::open("/dev/null").unwrap_or_else(|e| {
        eprintln!("soak: cannot open /dev/null: {e}");
        std::process::exit(1)
    });
    let fd = null.as_raw_fd() as c_long;

    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let tick = Duration::from_millis(1);
    let mut next = started;
    let (mut ticks, mut syscalls, mut captured, mut execs, mut threads) = (0u64, 0, 0, 0, 0);
    let mut children: Vec<Child> = Vec::new();
    let mut worker: Option<thread::JoinHandle<()>> = None;
    while Instant::now() < end {
        let i = ticks as usize;
        for _ in 0..20 {
            samples::raw_syscall0(libc::SYS_getppid);
        }
        syscalls += 20;
        // SAFETY: read-only prctl options and fcntl commands without
        // pointer arguments; the ioctl requests are unknown to /dev/null,
        // which refuses them; the socket is closed at once.
        unsafe {
            libc::syscall(libc::SYS_prctl, PRCTL_OPTIONS[i % 6], 0, 0, 0, 0);
            libc::syscall(
                libc::SYS_ioctl,
                fd,
                0x1234_0000 + (i as c_long % IOCTL_REQUESTS),
                0,
            );
            libc::syscall(libc::SYS_fcntl, fd, FCNTL_COMMANDS[i % 4]);
            libc::syscall(libc::SYS_fcntl, fd, FCNTL_COMMANDS[(i + 1) % 4]);
            captured += 4;
            if i.is_multiple_of(10) {
                let s = libc::syscall(libc::SYS_socket, libc::AF_UNIX, SOCKET_TYPES[i / 10 % 3], 0);
                if s >= 0 {
                    libc::close(s as i32);
                }
                captured += 1;
            }
        }
        children.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        if ticks.is_multiple_of(exec_every) && children.len() < CHILDREN_IN_FLIGHT {
            match Command::new(&exe)
                .arg("child")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
            {
                Ok(c) => {
                    children.push(c);
                    execs += 1;
                }
                Err(e) => eprintln!("soak: cannot start a child: {e}"),
            }
        }
        if ticks.is_multiple_of(50) {
            if let Some(w) = worker.take() {
                let _ = w.join();
            }
            worker = Some(thread::spawn(|| {
                for _ in 0..10 {
                    samples::raw_syscall0(libc::SYS_getppid);
                }
            }));
            threads += 1;
        }
        ticks += 1;
        next += tick;
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    if let Some(w) = worker.take() {
        let _ = w.join();
    }
    for mut c in children {
        let _ = c.wait();
    }
    println!(
        "seconds={:.3} ticks={ticks} syscalls={syscalls} captured={captured} execs={execs} \
         threads={threads}",
        started.elapsed().as_secs_f64()
    );
}

/// The short child: a few syscalls, then exit.
fn child() {
    for _ in 0..10 {
        samples::raw_syscall0(libc::SYS_getppid);
    }
    // SAFETY: a read-only prctl option without pointer arguments.
    unsafe { libc::syscall(libc::SYS_prctl, PRCTL_OPTIONS[0], 0, 0, 0, 0) };
}
