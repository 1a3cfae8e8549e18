//! `fork-and-sockets [--escape]`: the work of a small forking, threaded
//! server, then (with `--escape`) what such a server never does, each
//! printed on a line of its own as `NAME ok` or `NAME errno N`; the exit
//! status is 0 when every call of the work succeeded.
//!
//! The work: a thread started and joined, a child forked and reaped, an
//! AF_UNIX and an AF_INET socket opened and closed, `unshare(CLONE_FILES)`
//! (no namespace) and `personality(PER_LINUX)` (the persona it has).
//!
//! `--escape` then tries, in this order: a socket of the AF_NETLINK and of
//! the AF_PACKET family, `clone(CLONE_NEWNET)` (the child leaves at once),
//! `clone3` without flags (ENOSYS where a filter makes the libc fall back to
//! clone), `personality(READ_IMPLIES_EXEC)` and, last since it changes the
//! process, `unshare(CLONE_NEWUSER)`.

use std::ffi::c_long;

/// The errno of the last failed call.
fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Prints `NAME ok` for a non-negative `result`, else `NAME errno N`;
/// whether it succeeded.
fn say(name: &str, result: c_long) -> bool {
    if result >= 0 {
        println!("{name} ok");
        true
    } else {
        println!("{name} errno {}", errno());
        false
    }
}

/// Opens a socket and closes it again.
fn socket(name: &str, family: i32, kind: i32, protocol: i32) -> bool {
    // SAFETY: socket takes no pointer.
    let fd = unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC, protocol) };
    if fd >= 0 {
        // SAFETY: fd was just opened here and nothing else holds it.
        unsafe { libc::close(fd) };
    }
    say(name, c_long::from(fd))
}

/// Waits for child `pid`; whether it exited with status 0.
fn reap(pid: libc::pid_t) -> bool {
    let mut status = 0;
    // SAFETY: status is a valid place for the status.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    waited == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

/// A raw clone with `flags` (no new stack: the child runs on a copy of the
/// parent's, as with fork) whose child leaves at once.
fn clone_with(name: &str, flags: c_long) -> bool {
    // SAFETY: without CLONE_VM the child has its own copy of the memory;
    // it only calls _exit.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | c_long::from(libc::SIGCHLD),
            0,
            0,
            0,
            0,
        )
    };
    if pid == 0 {
        // SAFETY: leaving the child at once.
        unsafe { libc::_exit(0) };
    }
    let ok = say(name, pid);
    if pid > 0 {
        reap(pid as libc::pid_t);
    }
    ok
}

/// `struct clone_args` up to `exit_signal`, followed by the fields clone3
/// reads as zero (88 bytes: CLONE_ARGS_SIZE_VER2).
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
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

fn clone3() -> bool {
    let args = CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: args is a valid clone_args of the size given; without
    // CLONE_VM the child has its own copy of the memory and only calls _exit.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid == 0 {
        // SAFETY: leaving the child at once.
        unsafe { libc::_exit(0) };
    }
    let ok = say("clone3", pid);
    if pid > 0 {
        reap(pid as libc::pid_t);
    }
    ok
}

/// `personality(persona)`.
fn personality(name: &str, persona: c_long) -> bool {
    // SAFETY: personality takes no pointer.
    let result = unsafe { libc::syscall(libc::SYS_personality, persona) };
    say(name, result)
}

fn work() -> bool {
    let mut ok = true;
    let thread = std::thread::spawn(|| samples::raw_syscall0(libc::SYS_gettid));
    ok &= say("thread", thread.join().map_or(-1, |tid| tid));
    // SAFETY: the child only calls _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: leaving the child at once.
        unsafe { libc::_exit(0) };
    }
    ok &= say("fork", if pid > 0 && reap(pid) { 0 } else { -1 });
    ok &= socket("unix", libc::AF_UNIX, libc::SOCK_STREAM, 0);
    ok &= socket("inet", libc::AF_INET, libc::SOCK_DGRAM, 0);
    // SAFETY: unshare takes no pointer; CLONE_FILES makes no namespace.
    ok &= say(
        "unshare-files",
        c_long::from(unsafe { libc::unshare(libc::CLONE_FILES) }),
    );
    ok &= personality("personality-linux", 0);
    ok
}

fn escape() {
    socket(
        "netlink",
        libc::AF_NETLINK,
        libc::SOCK_RAW,
        libc::NETLINK_ROUTE,
    );
    socket("packet", libc::AF_PACKET, libc::SOCK_DGRAM, 0);
    clone_with("clone-newnet", c_long::from(libc::CLONE_NEWNET));
    clone3();
    personality("personality-exec", c_long::from(libc::READ_IMPLIES_EXEC));
    // SAFETY: unshare takes no pointer.
    say(
        "unshare-user",
        c_long::from(unsafe { libc::unshare(libc::CLONE_NEWUSER) }),
    );
}

fn main() {
    let escaping = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--escape") => true,
        Some(other) => {
            eprintln!("fork-and-sockets: unknown argument {other:?}; the only one is --escape");
            std::process::exit(2)
        }
    };
    let ok = work();
    if escaping {
        escape();
    }
    std::process::exit(if ok { 0 } else { 1 });
}
