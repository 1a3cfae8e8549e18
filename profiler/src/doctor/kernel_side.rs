//! The kernel side of `doctor`: the counting program, loaded for a cgroup
//! made for the check, attached and detached at once, as a recording
//! would; and a seccomp filter with a listener, installed on a thread
//! that ends at once, as `enforce` installs one in its command.

use std::{io, os::fd::FromRawFd};

use super::{Check, Status, host::Cgroups, without_hint};
use crate::{
    choice::Choice,
    filter::listener_flags,
    profile::Arch,
    record::tracer::{Boundary, Tracer},
    session::hook::Hook,
};

/// Loads and attaches the counting program (as a native recording does:
/// argument capture and the load watch on) for the check's cgroup, then
/// detaches it. The hook it went on with, where it did.
pub(super) fn counting_program(
    checks: &mut Vec<Check>,
    privileged: bool,
    cgroup: &Cgroups,
) -> Option<&'static str> {
    let name = "counting program";
    let not_tried = |why: &str| Check::new(name, Status::Fail, format!("not tried: {why}"));
    if !privileged {
        checks.push(not_tried("it needs the privileges above"));
        return None;
    }
    let Some(made) = &cgroup.throwaway else {
        checks.push(not_tried("no cgroup could be made for it (see above)"));
        return None;
    };
    let Some(arch) = Arch::host() else {
        checks.push(not_tried(
            "this host's architecture has no syscall table here",
        ));
        return None;
    };
    let started = Tracer::start(
        made.tree(),
        Hook::Auto,
        Boundary::Everything,
        arch,
        true,
        true,
    );
    match started {
        Ok(tracer) => {
            let hook = tracer.hook().name();
            let unwatched = tracer.unwatched().to_vec();
            let stopped = tracer.stop();
            let mut detail = format!("loaded, attached ({hook}) and detached");
            let status = match (&stopped, unwatched.is_empty()) {
                (Err(e), _) => {
                    detail = format!(
                        "loaded and attached ({hook}), but detaching failed: {}",
                        without_hint(e)
                    );
                    Status::Fail
                }
                (Ok(()), true) => Status::Ok,
                (Ok(()), false) => {
                    detail.push_str(&format!("; {}", unwatched.join("; ")));
                    Status::Warn
                }
            };
            checks.push(Check::new(name, status, detail));
            stopped.is_ok().then_some(hook)
        }
        Err(e) => {
            checks.push(Check::new(name, Status::Fail, without_hint(e)));
            None
        }
    }
}

/// Whether a seccomp filter, and one with a listener (the flags `enforce`
/// gives it), can be installed, each tried on a thread of its own that
/// ends at once (a filter binds the thread that installs it, and those it
/// starts). `(filter, listener)`.
pub(super) fn seccomp(checks: &mut Vec<Check>) -> (bool, bool) {
    let listener = install_on_a_thread(listener_flags());
    let notify_api = libseccomp::check_api(6, libseccomp::ScmpVersion::from((2, 5, 0))).is_ok();
    let (filter, check) = match (listener, notify_api) {
        (Ok(()), true) => (
            true,
            Check::new(
                "seccomp",
                Status::Ok,
                "filters install, with a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER, \
                 WAIT_KILLABLE_RECV): enforce hands a native command's refusals to it",
            ),
        ),
        (listener, _) => {
            let why = match (&listener, notify_api) {
                (Err(e), _) => format!("the kernel refused a filter with a listener: {e}"),
                (Ok(()), _) => "this host's libseccomp has no user notification (API level 6, \
                                libseccomp 2.5)"
                    .to_owned(),
            };
            match install_on_a_thread(0) {
                Ok(()) => (
                    true,
                    Check::new(
                        "seccomp",
                        Status::Warn,
                        format!(
                            "filters install, but {why}: enforce watches denials with eBPF \
                             instead (two hooks on every syscall)"
                        ),
                    )
                    .fix("Linux 6.0 or later and libseccomp 2.5 or later"),
                ),
                Err(e) => (
                    false,
                    Check::new(
                        "seccomp",
                        Status::Fail,
                        format!("the kernel refused a seccomp filter ({e}): enforce cannot run"),
                    )
                    .fix("a kernel with CONFIG_SECCOMP_FILTER=y"),
                ),
            }
        }
    };
    let listening = check.status == Status::Ok;
    checks.push(check);
    (filter, listening)
}

/// Installs an allow-all seccomp filter with `flags` on a new thread,
/// which ends at once (with the filter and the listener, if one came).
fn install_on_a_thread(flags: libc::c_ulong) -> io::Result<()> {
    std::thread::spawn(move || install(flags))
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the thread installing it panicked")))
}

/// `prctl(PR_SET_NO_NEW_PRIVS)` and `seccomp(SECCOMP_SET_MODE_FILTER,
/// flags)` of a one-instruction filter that allows everything, on the
/// calling thread.
fn install(flags: libc::c_ulong) -> io::Result<()> {
    const BPF_RET_K: u16 = 0x06;
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut allow = [libc::sock_filter {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k: libc::SECCOMP_RET_ALLOW,
    }];
    let program = libc::sock_fprog {
        len: 1,
        filter: allow.as_mut_ptr(),
    };
    // SAFETY: seccomp(2) reads `program`, valid for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &program as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    if rc > 0
        && let Ok(fd) = i32::try_from(rc)
    {
        // SAFETY: with SECCOMP_FILTER_FLAG_NEW_LISTENER, the return value
        // is a new descriptor, owned (and closed) here.
        drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
    }
    Ok(())
}
