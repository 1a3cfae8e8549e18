//! The answering side: the listener thread's wait for refused calls, its
//! answer with the profile's errno, and the tally of what it answered.

use std::{
    collections::BTreeMap,
    os::fd::{AsRawFd, OwnedFd, RawFd},
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use super::ListenerError;
use crate::{
    judge::denial::{Caller, DeniedSyscall},
    profile::eval::{Access, EffectivePolicy},
    profile::{Arch, EPERM, table},
    syscall_args::Source,
};

/// At most this many distinct refused values are kept, all syscalls
/// together, as the kernel watch keeps (`DENIED_VALUE_SLOTS`): the calls
/// past that are counted as of unknown value, so that a program refused
/// with ever new values cannot make this process grow.
const VALUE_SLOTS: usize = profiler_common::DENIED_VALUE_SLOTS as usize;

/// Denials by table and number, as answered so far, and how many distinct
/// values are kept.
#[derive(Default)]
pub(super) struct Answered {
    pub(super) tallies: BTreeMap<(Arch, i64), Tally>,
    values_kept: usize,
}

/// A refused syscall, and its captured values so far.
pub(super) struct Tally {
    pub(super) denial: DeniedSyscall,
    pub(super) tuples: BTreeMap<Vec<u64>, u64>,
}

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6), for
/// `SECCOMP_IOCTL_NOTIF_SET_FLAGS`.
const SYNC_WAKE_UP: u64 = 1;

/// Answers refused calls until told to stop; then answers what is pending.
///
/// A refused call's time is in the hand-over: the caller wakes this thread
/// and sleeps, this thread answers and wakes the caller, two context
/// switches. This thread waits for each call in `SECCOMP_IOCTL_NOTIF_RECV`
/// itself, which the kernel wakes directly, where a wait in poll(2) took a
/// wake-up across CPUs, a return to user space and a second ioctl (a
/// release build's refused call went from about 17 µs to about 7.5 µs on a
/// 2-core VM, where two threads handing a byte back and forth through
/// pipes take as long: the host's floor for any hand-over, measured beside
/// it by `cargo xtask bench --only refusals`).
/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6) asks
/// the kernel to keep both on one CPU; without it (an older kernel refuses
/// the flag) the calls are answered all the same. The request and answer
/// are plain ioctls on buffers of this thread (libseccomp's allocate and
/// free them on each call), and what a syscall is called, and its errno
/// where the arguments do not decide it, are worked out once.
pub(super) fn serve(
    listener: &OwnedFd,
    policy: &EffectivePolicy,
    arch: Arch,
    answered: &Mutex<Answered>,
    stop: &AtomicBool,
) -> Result<(), ListenerError> {
    let fd = listener.as_raw_fd();
    // SAFETY: an ioctl on our listener with a plain integer argument.
    // SAFETY: an ioctl on our listener with a plain integer argument.
    let _ = unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS, SYNC_WAKE_UP) };
    let mut names = Names::default();
    while !stop.load(Ordering::SeqCst) {
        match receive(fd) {
            Ok(request) => answer(fd, &request, policy, arch, answered, &mut names),
            // Woken to look at `stop`; or a call whose process died
            // meanwhile (ENOENT): not an error.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::ENOENT)) => {}
            Err(e) => return Err(ListenerError::Receive(e)),
        }
    }
    // Told to stop: what is pending is answered first.
    loop {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd on the stack.
        let ready = unsafe { libc::poll(&mut poll, 1, 0) };
        if ready < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(ListenerError::Poll(error));
        }
        if poll.revents & libc::POLLIN == 0 {
            return Ok(());
        }
        if let Ok(request) = receive(fd) {
            answer(fd, &request, policy, arch, answered, &mut names);
        }
    }
}

/// Waits for the next refused call on the listener `fd`.
fn receive(fd: RawFd) -> std::io::Result<libc::seccomp_notif> {
    // SAFETY: the kernel wants the structure zeroed, and writes it whole.
    let mut request: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: an ioctl on our listener with a structure of its size.
    if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut request) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(request)
}

/// Answers the call `id` with `-errno`: whether the answer was taken (the
/// calling thread still waited for it).
fn respond(fd: RawFd, id: u64, errno: u32) -> bool {
    let mut response = libc::seccomp_notif_resp {
        id,
        val: 0,
        error: -(errno as i32),
        flags: 0,
    };
    loop {
        // SAFETY: an ioctl on our listener with a structure of its size.
        if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut response) } == 0 {
            return true;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

/// Whether the call `id` still waits for its answer.
fn id_valid(fd: RawFd, id: u64) -> bool {
    let mut id = id;
    // SAFETY: an ioctl on our listener with a u64.
    unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &mut id) == 0 }
}

/// What the listener knows of each refused syscall (by the table the call
/// came through, and its number): its name, and the errno the profile
/// gives it where that does not depend on the arguments. Worked out at the
/// first call, so that a repeated refusal costs a lookup.
#[derive(Default)]
struct Names {
    known: std::collections::HashMap<(Arch, i64), (String, Option<u32>)>,
}

impl Names {
    fn of(&mut self, arch: Arch, nr: i64, policy: &EffectivePolicy) -> &(String, Option<u32>) {
        self.known.entry((arch, nr)).or_insert_with(|| {
            let name = u64::try_from(nr)
                .ok()
                .and_then(|n| table::name_of(arch, n))
                .map_or_else(|| format!("syscall_{nr}"), str::to_owned);
            let fixed = match policy.access(&name) {
                Access::Conditional { .. } => None,
                access => Some(errno_of(access.verdict(&[0; 6]), policy)),
            };
            (name, fixed)
        })
    }
}

/// The errno a call refused with `verdict` gets: the profile's errno for
/// it, or its default errno where the two models part (never let it run).
fn errno_of(verdict: crate::profile::Verdict, policy: &EffectivePolicy) -> u32 {
    verdict.errno.or(policy.default.errno).unwrap_or(EPERM)
}

/// The syscall table of a call the kernel says came through `audit_arch`
/// (`AUDIT_ARCH_*` of linux/audit.h: the ELF machine, with bits for 64-bit
/// and little-endian), for the hosts this tool runs on. An x32 call comes
/// as x86_64's, with its number's x32 bit set, as the kernel watch sees it.
fn table_of(audit_arch: u32) -> Option<Arch> {
    const LE: u32 = 0x4000_0000;
    const BITS64: u32 = 0x8000_0000;
    match audit_arch {
        a if a == 62 | BITS64 | LE => Some(Arch::X86_64),
        a if a == 3 | LE => Some(Arch::X86),
        a if a == 183 | BITS64 | LE => Some(Arch::Aarch64),
        a if a == 40 | LE => Some(Arch::Arm),
        _ => None,
    }
}

/// Answers one refused call with the profile's errno for it, and counts it
/// once the answer is taken (a call whose thread died before is not).
fn answer(
    fd: RawFd,
    request: &libc::seccomp_notif,
    policy: &EffectivePolicy,
    host: Arch,
    answered: &Mutex<Answered>,
    names: &mut Names,
) {
    let arch = table_of(request.data.arch).unwrap_or(host);
    let nr = i64::from(request.data.nr);
    // A compat call (i386 on x86_64) takes the low 32 bits of each
    // register, which is all the filter compares for its table; the upper
    // ones are whatever the 64-bit process left there. As the kernel
    // watch reads them.
    let mut args = request.data.args;
    if arch != host && host.of_abi(profiler_common::Abi::Compat) == Some(arch) {
        for arg in &mut args {
            *arg &= 0xffff_ffff;
        }
    }
    let (name, fixed) = names.of(arch, nr, policy);
    // The filter refused the call: the profile's errno for it.
    let errno = fixed.unwrap_or_else(|| errno_of(policy.verdict(name, &args), policy));
    // Read while the thread waits in the call, then checked to be still
    // the same call: the pid was not reused meanwhile. Only the first
    // refusal of a syscall names its caller: a call the program repeats
    // (a retry loop) is answered without reading /proc.
    let tid = request.pid;
    let known = answered
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .tallies
        .get(&(arch, nr))
        .is_some_and(|tally| tally.denial.first.is_some());
    let caller = if known { None } else { read_caller(tid) };
    let values = captured_values(name, &args, tid);
    let still_there = !known && id_valid(fd, request.id);
    if !respond(fd, request.id, errno) {
        return;
    }
    let mut answered = answered
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Answered {
        tallies,
        values_kept,
    } = &mut *answered;
    let tally = tallies.entry((arch, nr)).or_insert_with(|| Tally {
        denial: DeniedSyscall {
            errno: Some(i64::from(errno)),
            first: None,
            first_args: Some(args),
            ..DeniedSyscall::new(name.clone(), arch.short_name().to_owned(), nr, 0)
        },
        tuples: BTreeMap::new(),
    });
    // The first call whose caller could be named (one whose thread died
    // before is not), with its arguments.
    if tally.denial.first.is_none() && still_there && caller.is_some() {
        tally.denial.first = caller;
        tally.denial.first_args = Some(args);
    }
    tally.denial.count += 1;
    match values {
        Some(tuple) if tally.tuples.contains_key(&tuple) || *values_kept < VALUE_SLOTS => {
            let count = tally.tuples.entry(tuple).or_insert(0);
            if *count == 0 {
                *values_kept += 1;
            }
            *count += 1;
        }
        Some(_) => tally.denial.values_lost += 1,
        None => {}
    }
}

/// The captured values of a refused call of `name`, for the syscalls
/// whose privilege is in an argument: from the registers, or (clone3) from
/// the waiting caller's memory; `None` for the others.
fn captured_values(name: &str, args: &[u64; 6], tid: u32) -> Option<Vec<u64>> {
    let captured = crate::syscall_args::captured(name)?;
    Some(
        captured
            .args
            .iter()
            .map(|arg| {
                let value = match captured.source {
                    Source::Registers => args.get(arg.index as usize).copied().unwrap_or(0),
                    // `struct clone_args` is u64 fields; `index` names one.
                    Source::Clone3Flags => {
                        read_u64(tid, args[0].wrapping_add(8 * u64::from(arg.index))).unwrap_or(0)
                    }
                };
                value & arg.mask
            })
            .collect(),
    )
}

/// Eight bytes of thread `tid`'s memory at `address`.
fn read_u64(tid: u32, address: u64) -> Option<u64> {
    let mut value = [0u8; 8];
    let local = libc::iovec {
        iov_base: value.as_mut_ptr().cast(),
        iov_len: value.len(),
    };
    let remote = libc::iovec {
        iov_base: address as *mut libc::c_void,
        iov_len: value.len(),
    };
    // SAFETY: one local buffer of 8 bytes on the stack; the remote address
    // is only read by the kernel, which checks it.
    let read = unsafe { libc::process_vm_readv(tid as libc::pid_t, &local, 1, &remote, 1, 0) };
    (read == 8).then(|| u64::from_ne_bytes(value))
}

/// The thread `tid`'s process, as `ps` names it, and its executable.
fn read_caller(tid: u32) -> Option<Caller> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    let field = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .map(str::trim)
    };
    let pid = field("Tgid:")?.parse().ok()?;
    let comm = field("Name:").unwrap_or_default().to_owned();
    let exe = std::fs::read_link(format!("/proc/{tid}/exe"))
        .ok()
        .map(|p| p.display().to_string());
    Some(Caller {
        pid,
        tid,
        comm,
        exe,
    })
}
