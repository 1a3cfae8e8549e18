//! `syscall-verdicts PROBE...`: makes each probe's syscall once and prints
//! what came of it, one line per probe: `PROBE ok`, `PROBE errno N`,
//! `PROBE signal N` (the call killed the process: it ran), `PROBE exit N`
//! (the call ended the process: it ran), or `PROBE timeout`.
//!
//! A probe is `NR` (the syscall number, all six arguments zero) or
//! `NR:A,B,...` (the arguments, decimal or 0x-hex; missing ones are zero).
//! With `i386:` before it (x86_64 only), the call goes through the 32-bit
//! entry point (`int $0x80`), where NR is a number of the i386 table and
//! the arguments are 32-bit.
//! Run inside a container under a seccomp profile, and once more without
//! one, the two outputs show what the filter did to each syscall: a call it
//! denies fails with the profile's errno instead of doing what it does
//! unfiltered.
//!
//! Each call is made in a child of its own, so that calls that end, block,
//! fork or change the process (exit, pause, vfork, seccomp, setsid…) touch
//! nothing else: the child's standard streams are a private pipe, an alarm
//! ends a call that blocks, a child born of a fork-like call leaves at
//! once, and the result goes back through a pipe with raw syscalls (which
//! even seccomp's strict mode allows).

use std::{
    ffi::c_long,
    io::Write,
    time::{Duration, Instant},
};

/// How long a call may block before its alarm ends it.
const ALARM_SECONDS: u32 = 1;

/// How long the parent waits for a child at most.
const WAIT: Duration = Duration::from_secs(5);

/// One probe: the call, and whether it goes through the 32-bit entry point.
struct Probe {
    compat: bool,
    nr: c_long,
    args: [c_long; 6],
}

fn parse_probe(word: &str) -> Option<Probe> {
    let (compat, word) = match word.strip_prefix("i386:") {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    let (nr, args) = word.split_once(':').unwrap_or((word, ""));
    let nr: c_long = nr.parse().ok()?;
    let mut out = [0 as c_long; 6];
    for (slot, arg) in out
        .iter_mut()
        .zip(args.split(',').filter(|a| !a.is_empty()))
    {
        *slot = match arg.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok()? as c_long,
            None => arg.parse().ok()?,
        };
    }
    Some(Probe {
        compat,
        nr,
        args: out,
    })
}

/// A call through `int $0x80`: the number in eax, the arguments in ebx,
/// ecx, edx, esi, edi and ebp; the result, or minus the errno, in eax.
#[cfg(target_arch = "x86_64")]
fn int80(nr: c_long, args: [c_long; 6]) -> c_long {
    let ret: i32;
    // SAFETY: the probed call gets integers only; rbx and rbp, which the
    // compiler reserves, are saved on the stack around the call; int $0x80
    // preserves every other register but eax (r8-r11 are declared clobbered
    // to be safe).
    unsafe {
        std::arch::asm!(
            "push rbx",
            "push rbp",
            "mov ebx, {a0:e}",
            "mov ebp, {a5:e}",
            "int 0x80",
            "pop rbp",
            "pop rbx",
            a0 = in(reg) args[0],
            a5 = in(reg) args[5],
            inlateout("eax") nr as i32 => ret,
            in("ecx") args[1] as i32,
            in("edx") args[2] as i32,
            in("esi") args[3] as i32,
            in("edi") args[4] as i32,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
        );
    }
    c_long::from(ret)
}

#[cfg(not(target_arch = "x86_64"))]
fn int80(_nr: c_long, _args: [c_long; 6]) -> c_long {
    -c_long::from(libc::ENOSYS)
}

/// In the child: make the call, report, leave.
fn child(probe: &Probe, report: i32) -> ! {
    let (nr, args) = (probe.nr, probe.args);
    // SAFETY: plain syscalls on the child's own descriptors and state; the
    // probed call gets integers and null pointers only.
    unsafe {
        let mut fds = [0i32; 2];
        if libc::pipe(fds.as_mut_ptr()) == 0 {
            libc::dup2(fds[0], 0);
            libc::dup2(fds[1], 1);
            libc::dup2(fds[1], 2);
        }
        libc::alarm(ALARM_SECONDS);
        let (ret, errno) = if probe.compat {
            let ret = int80(nr, args);
            if (-4095..0).contains(&ret) {
                (-1, -ret as i32)
            } else {
                (ret, 0)
            }
        } else {
            let ret = libc::syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
            (
                ret,
                if ret == -1 {
                    *libc::__errno_location()
                } else {
                    0
                },
            )
        };
        // fork, vfork, clone and clone3 in the table the call went through.
        let fork_like = if probe.compat {
            [2, 190, 120, 435]
        } else {
            [
                libc::SYS_fork,
                libc::SYS_vfork,
                libc::SYS_clone,
                libc::SYS_clone3,
            ]
        };
        if ret == 0 && fork_like.contains(&nr) {
            // The new process of a fork-like call: the parent reports.
            libc::syscall(libc::SYS_exit, 0);
        }
        let bytes = errno.to_ne_bytes();
        libc::syscall(libc::SYS_write, report, bytes.as_ptr(), bytes.len());
        libc::syscall(libc::SYS_exit, 0);
        libc::_exit(0)
    }
}

fn probe(probe: &Probe) -> String {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return "error pipe".to_owned();
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    // SAFETY: the child only makes syscalls before it exits (see `child`).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: closing our copy of the read end.
        unsafe { libc::close(read_end) };
        child(probe, write_end);
    }
    // SAFETY: closing the parent's copy of the write end.
    unsafe { libc::close(write_end) };
    if pid < 0 {
        // SAFETY: closing the read end.
        unsafe { libc::close(read_end) };
        return "error fork".to_owned();
    }
    let deadline = Instant::now() + WAIT;
    let mut status = 0;
    let exited = loop {
        // SAFETY: waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let outcome = if !exited {
        // SAFETY: killing and reaping our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, &mut status, 0);
        }
        "timeout".to_owned()
    } else {
        let mut buf = [0u8; 4];
        // SAFETY: reading into a local buffer; the writer has exited.
        let n = unsafe { libc::read(read_end, buf.as_mut_ptr().cast(), buf.len()) };
        if n == 4 {
            match i32::from_ne_bytes(buf) {
                0 => "ok".to_owned(),
                errno => format!("errno {errno}"),
            }
        } else if libc::WIFSIGNALED(status) {
            format!("signal {}", libc::WTERMSIG(status))
        } else {
            format!("exit {}", libc::WEXITSTATUS(status))
        }
    };
    // SAFETY: closing the read end.
    unsafe { libc::close(read_end) };
    outcome
}

fn main() {
    let mut out = std::io::stdout().lock();
    for word in std::env::args().skip(1) {
        let line = match parse_probe(&word) {
            Some(parsed) => probe(&parsed),
            None => "error probe".to_owned(),
        };
        let _ = writeln!(out, "{word} {line}");
    }
}
