//! `call NAME[:A,B,...]...`: makes each named syscall once, with harmless
//! arguments, and prints `NAME=ok` or `NAME=errno:N` for each, in order, on
//! one line. `getpgid`, `getpriority` and `umask` take integer arguments
//! after a colon (`getpgid:5`, `getpriority:0,0`), for tests of argument
//! conditions; the others take none.
//! Under a seccomp profile, a syscall the profile does not allow shows the
//! profile's errno (EPERM, 1, for learned profiles): the tests pick syscalls
//! that never fail with EPERM on their own, so the errno proves the filter
//! acted. Exits 2 on a name it does not know. With `--hold` last, it waits
//! (pause) after printing until a signal ends it.

use std::ffi::c_long;

fn call(word: &str) -> Option<c_long> {
    let (name, args) = word.split_once(':').unwrap_or((word, ""));
    let args: Vec<c_long> = args
        .split(',')
        .filter(|a| !a.is_empty())
        .map(|a| match a.strip_prefix("0x") {
            Some(hex) => c_long::from_str_radix(hex, 16).ok(),
            None => a.parse().ok(),
        })
        .collect::<Option<_>>()?;
    let arg = |i: usize| args.get(i).copied().unwrap_or(0);
    // SAFETY: each call gets arguments that are valid for it: integers,
    // null, or pointers to live locals; no side effects beyond the process.
    unsafe {
        let mut buf = [0u8; 512];
        let p = buf.as_mut_ptr();
        Some(match name {
            "getpgid" => libc::syscall(libc::SYS_getpgid, arg(0)),
            "getpriority" => libc::syscall(libc::SYS_getpriority, arg(0), arg(1)),
            "getppid" => libc::syscall(libc::SYS_getppid),
            "getpid" => libc::syscall(libc::SYS_getpid),
            "gettid" => libc::syscall(libc::SYS_gettid),
            "sysinfo" => libc::syscall(libc::SYS_sysinfo, p),
            "uname" => libc::syscall(libc::SYS_uname, p),
            "getcpu" => libc::syscall(libc::SYS_getcpu, p, p.add(8), 0usize),
            "sched_yield" => libc::syscall(libc::SYS_sched_yield),
            "getrusage" => libc::syscall(libc::SYS_getrusage, 0, p),
            "times" => libc::syscall(libc::SYS_times, p),
            "umask" => libc::syscall(
                libc::SYS_umask,
                if args.is_empty() { 0o022 } else { arg(0) },
            ),
            "getpgrp" => libc::syscall(libc::SYS_getpgid, 0),
            "sync" => libc::syscall(libc::SYS_sync),
            _ => return None,
        })
    }
}

fn main() {
    let mut results = Vec::new();
    // `--hold` (last): after printing, wait until killed, so that the
    // process that made the calls is still there (tests that look it up
    // by its pid).
    let mut words: Vec<String> = std::env::args().skip(1).collect();
    let hold = words.last().is_some_and(|w| w == "--hold");
    if hold {
        words.pop();
    }
    for name in words {
        if let Some((bare, _)) = name.split_once(':')
            && !matches!(bare, "getpgid" | "getpriority" | "umask")
        {
            eprintln!("call: {bare} takes no arguments");
            std::process::exit(2);
        }
        match call(&name) {
            Some(ret) if ret >= 0 => results.push(format!("{name}=ok")),
            Some(_) => {
                let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
                results.push(format!("{name}=errno:{errno}"));
            }
            None => {
                eprintln!("call: unknown syscall {name}");
                std::process::exit(2);
            }
        }
    }
    println!("{}", results.join(" "));
    if hold {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        loop {
            // SAFETY: pause(2) takes no arguments; a signal ends the wait.
            unsafe { libc::pause() };
        }
    }
}
