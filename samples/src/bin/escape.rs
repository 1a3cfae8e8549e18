//! `escape [CALLS...]`: moves itself out of its cgroup, to the root of the
//! cgroup2 hierarchy (it writes "0" into the root's `cgroup.procs`, found in
//! /proc/self/mountinfo: /sys/fs/cgroup/unified on a hybrid host,
//! /sys/fs/cgroup on a pure v2 one), then makes each named syscall (default
//! `uname getcpu`) and prints its pid (`pid=N`) and `NAME=ok` or
//! `NAME=errno:N` for each, as `call` does, on one line.
//! Exits 1 if a syscall failed (a program that needs them would), 3 if the
//! move failed. Needs root; a process at the cgroup2 root harms nothing and
//! is gone when it exits.

use std::io::Write;

fn cgroup2_root() -> Option<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mounts: Vec<String> = mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split_whitespace().next() == Some("cgroup2"))
                .then(|| left.split_whitespace().nth(4).map(str::to_owned))?
        })
        .collect();
    mounts
        .iter()
        .find(|m| m.as_str() == "/sys/fs/cgroup")
        .or_else(|| mounts.first())
        .cloned()
}

fn main() {
    let Some(root) = cgroup2_root() else {
        eprintln!("escape: no cgroup2 mount");
        std::process::exit(3);
    };
    let procs = format!("{root}/cgroup.procs");
    if let Err(e) = std::fs::OpenOptions::new()
        .write(true)
        .open(&procs)
        .and_then(|mut f| f.write_all(b"0"))
    {
        eprintln!("escape: cannot write {procs}: {e}");
        std::process::exit(3);
    }
    let mut calls: Vec<String> = std::env::args().skip(1).collect();
    if calls.is_empty() {
        calls = vec!["uname".into(), "getcpu".into()];
    }
    let mut failed = false;
    let results: Vec<String> = calls
        .iter()
        .map(|name| {
            let mut buf = [0u8; 512];
            let p = buf.as_mut_ptr();
            // SAFETY: each call gets a pointer to a live local buffer large
            // enough for what it writes.
            let ret = unsafe {
                match name.as_str() {
                    "uname" => libc::syscall(libc::SYS_uname, p),
                    "getcpu" => libc::syscall(libc::SYS_getcpu, p, p.add(8), 0usize),
                    "getppid" => libc::syscall(libc::SYS_getppid),
                    other => {
                        eprintln!("escape: unknown syscall {other}");
                        std::process::exit(2);
                    }
                }
            };
            if ret < 0 {
                failed = true;
                format!(
                    "{name}=errno:{}",
                    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
                )
            } else {
                format!("{name}=ok")
            }
        })
        .collect();
    println!("pid={} {}", std::process::id(), results.join(" "));
    std::process::exit(i32::from(failed));
}
