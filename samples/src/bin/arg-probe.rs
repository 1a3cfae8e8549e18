//! `arg-probe [MODE]`: calls whose privilege is in their arguments, with
//! known values.
//!
//! - no mode: a fixed, deterministic set: starts 2 threads (one after the
//!   other);
//!   `socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0)`,
//!   `socket(AF_UNIX, SOCK_DGRAM, 0)`, `socketpair(AF_UNIX, SOCK_STREAM, 0)`,
//!   `personality(0xffffffff)`, `ioctl(fd, FIONREAD)` three times,
//!   `prctl(PR_SET_NAME)`, `fcntl(fd, F_GETFL)`,
//!   `setsockopt(fd, SOL_SOCKET, SO_REUSEADDR)` and an `mmap` without
//!   `PROT_EXEC`; then opens /dev/null and prints `arg-probe ok`, as
//!   `probe` does around its probes.
//! - `probe`: one call each that a least-privilege profile of the default
//!   mode must refuse, and one line each, exactly `NAME ok` or
//!   `NAME errno N`: `clone-newuser` (raw clone with CLONE_NEWUSER; the
//!   child exits at once), `clone3-newuser` (raw clone3 with a
//!   `struct clone_args` of flags CLONE_NEWUSER), `personality-exec`
//!   (personality(READ_IMPLIES_EXEC), the old one restored after),
//!   `socket-vsock` (AF_VSOCK, SOCK_STREAM), `socket-netlink` (AF_NETLINK,
//!   SOCK_RAW, NETLINK_ROUTE), `ioctl-tiocsti` (TIOCSTI on /dev/null, which
//!   is no terminal: nothing is typed anywhere) and `prctl-capbset-drop`
//!   (PR_CAPBSET_DROP of CAP_SYS_BOOT, from this process only).
//! - `ioctl-flood N`: N ioctls on /dev/null, each with a request of its own
//!   (`0x12340000 + i`: no ioctl of the VFS or of /dev/null has such a
//!   number, so each fails with ENOTTY and does nothing).
//! - `int80` (x86_64): through the 32-bit entry point, `prctl(PR_GET_DUMPABLE)`
//!   with garbage in the upper half of the register (the kernel reads 32
//!   bits) and `socket(AF_UNIX, SOCK_DGRAM, 0)`.

use std::{ffi::c_long, io::Write, os::fd::AsRawFd};

/// `errno` of the last failed call.
fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Prints `NAME ok` or `NAME errno N` for a call's result (-1 is failure).
fn report(name: &str, result: c_long) {
    let line = if result == -1 {
        format!("{name} errno {}", errno())
    } else {
        format!("{name} ok")
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn default_mode() {
    // One after the other: the second thread then reuses the malloc arena
    // the first one left (two at once would make one arena or two, by
    // timing), so that every run makes the same calls.
    for _ in 0..2 {
        let _ = std::thread::spawn(|| samples::raw_syscall0(libc::SYS_gettid)).join();
    }
    // SAFETY: plain syscalls; every pointer passed is to a live local.
    unsafe {
        let inet = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        let unix = libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0);
        let mut pair = [-1; 2];
        libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, pair.as_mut_ptr());
        libc::personality(0xffff_ffff);
        let mut pending: libc::c_int = 0;
        for _ in 0..3 {
            libc::ioctl(pair[0], libc::FIONREAD, &mut pending);
        }
        libc::prctl(libc::PR_SET_NAME, c"arg-probe".as_ptr());
        libc::fcntl(pair[0], libc::F_GETFL);
        let on: libc::c_int = 1;
        libc::setsockopt(
            inet,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let page = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if page != libc::MAP_FAILED {
            libc::munmap(page, 4096);
        }
        for fd in [inet, unix, pair[0], pair[1]] {
            libc::close(fd);
        }
    }
    // What `probe` does around its probes (opening /dev/null, printing a
    // line), so that a profile learned from this mode lets the probes
    // report.
    drop(std::fs::File::open("/dev/null"));
    report("arg-probe", 0);
}

/// A raw clone or clone3 whose child exits at once; waits for the child.
fn clone_child(name: &str, spawn: impl FnOnce() -> c_long) {
    let pid = spawn();
    if pid == 0 {
        // SAFETY: the child of a raw clone: leave without running anything
        // of the parent's (no atexit, no stdio).
        unsafe { libc::syscall(libc::SYS_exit, 0) };
    }
    if pid > 0 {
        let mut status = 0;
        // SAFETY: waits for our own child.
        unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    }
    report(name, pid);
}

/// `struct clone_args` (linux/sched.h), as far as clone3's version 0.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

fn probe_mode() {
    let newuser = libc::CLONE_NEWUSER as c_long;
    // SAFETY: a fork-like clone (no CLONE_VM, no new stack): the child has
    // its own copy of memory and exits at once.
    clone_child("clone-newuser", || unsafe {
        libc::syscall(
            libc::SYS_clone,
            newuser | libc::SIGCHLD as c_long,
            0,
            0,
            0,
            0,
        )
    });
    let args = CloneArgs {
        flags: libc::CLONE_NEWUSER as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: as above; the struct lives across the call and its size is
    // passed with it.
    clone_child("clone3-newuser", || unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    });
    // SAFETY: plain syscalls; every pointer passed is to a live local.
    unsafe {
        let old = libc::personality(0xffff_ffff);
        let set = libc::personality(libc::READ_IMPLIES_EXEC as libc::c_ulong);
        report("personality-exec", set as c_long);
        if set != -1 && old != -1 {
            libc::personality(old as libc::c_ulong);
        }
        let vsock = libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM, 0);
        report("socket-vsock", vsock as c_long);
        let netlink = libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE);
        report("socket-netlink", netlink as c_long);
        for fd in [vsock, netlink] {
            if fd >= 0 {
                libc::close(fd);
            }
        }
    }
    match std::fs::File::open("/dev/null") {
        Ok(null) => {
            let c: libc::c_char = b'x' as libc::c_char;
            // SAFETY: /dev/null is no terminal: the kernel refuses TIOCSTI
            // there without reading more than the byte given.
            let r = unsafe { libc::ioctl(null.as_raw_fd(), libc::TIOCSTI, &c) };
            report("ioctl-tiocsti", r as c_long);
        }
        Err(e) => println!("ioctl-tiocsti errno {}", e.raw_os_error().unwrap_or(0)),
    }
    // `CAP_SYS_BOOT` (linux/capability.h); libc has no constant for it.
    const CAP_SYS_BOOT: libc::c_ulong = 22;
    // SAFETY: drops a capability from this process's bounding set only.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_BOOT) };
    report("prctl-capbset-drop", r as c_long);
}

/// Requests of the flood: no dir bits, a size field no real ioctl has.
const FLOOD_BASE: u64 = 0x1234_0000;

fn ioctl_flood(n: u64) {
    let null = match std::fs::File::open("/dev/null") {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot open /dev/null: {e}");
            std::process::exit(1);
        }
    };
    for i in 0..n.min(0xffff) {
        // SAFETY: an ioctl that no file answers: it fails with ENOTTY and
        // touches no memory.
        unsafe { libc::ioctl(null.as_raw_fd(), (FLOOD_BASE + i) as _, 0) };
    }
    println!("ioctl-flood {}", n.min(0xffff));
}

#[cfg(target_arch = "x86_64")]
fn int80(nr: u64, a: u64, b: u64, c: u64) -> i64 {
    let ret: i64;
    // SAFETY: the calls used take no pointers; int $0x80 takes its
    // arguments in ebx, ecx, edx and returns in eax. rbx is reserved by the
    // compiler, so it is swapped in and out around the call.
    unsafe {
        std::arch::asm!(
            "xchg rbx, {a}",
            "int 0x80",
            "xchg rbx, {a}",
            a = inout(reg) a => _,
            inlateout("rax") nr => ret,
            in("rcx") b,
            in("rdx") c,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
        );
    }
    ret
}

fn int80_mode() {
    #[cfg(target_arch = "x86_64")]
    {
        // i386 numbers: prctl 172, socket 359.
        const GARBAGE: u64 = 0xdead_beef_0000_0000;
        let dumpable = int80(172, GARBAGE | libc::PR_GET_DUMPABLE as u64, 0, 0);
        let fd = int80(359, libc::AF_UNIX as u64, libc::SOCK_DGRAM as u64, 0);
        println!("int80 prctl={dumpable} socket={fd}");
        if fd >= 0 {
            // SAFETY: closes the descriptor just made.
            unsafe { libc::close(fd as i32) };
        }
        if dumpable < 0 || fd < 0 {
            eprintln!("int $0x80 is not available (no IA32 emulation?)");
            std::process::exit(1);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        None => default_mode(),
        Some("probe") => probe_mode(),
        Some("ioctl-flood") => {
            let n = args.next().and_then(|n| n.parse().ok()).unwrap_or_else(|| {
                eprintln!("usage: arg-probe ioctl-flood N");
                std::process::exit(2)
            });
            ioctl_flood(n);
        }
        Some("int80") => int80_mode(),
        Some(other) => {
            eprintln!("unknown mode {other:?}: give none, probe, ioctl-flood N or int80");
            std::process::exit(2);
        }
    }
}
