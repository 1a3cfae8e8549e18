//! The denial watch of a native program that costs nothing on the calls its
//! profile allows: the filter hands every call it refuses to this process
//! (`SCMP_ACT_NOTIFY`, seccomp's user notification), which answers it with
//! the errno the profile gives that call.
//!
//! The kernel blocks the refused call until the answer, and hands over the
//! thread, the syscall and its six arguments, so nothing is lost and
//! nothing is reported that the filter did not refuse: a call the program
//! made and that failed on its own never comes here. The cost is on the
//! refused calls only (a round trip to this process, some microseconds),
//! where the eBPF watch ([`super::denials`]) costs two hooks on every call.
//!
//! The hand-over of the listener: the child installs the filter with
//! `SECCOMP_FILTER_FLAG_NEW_LISTENER` as the last step before `execve`,
//! writes its pid and the listener's descriptor number to a pipe and waits
//! for one byte on another; [`Listener`]'s thread takes a copy of the
//! descriptor with `pidfd_getfd` and sends the byte. The kernel opens the
//! listener close-on-exec, so the program itself never holds it (it could
//! answer its own refusals otherwise). The two calls after the filter
//! (`write`, `read`) must be ones the profile allows:
//! [`Listener::usable_for`] says whether they are.
//!
//! `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (Linux 6.0) makes a received call wait for
//! its answer whatever signal comes but a fatal one, so each refused call is
//! answered, and counted, once.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{Read, Write},
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};

use super::{
    arguments,
    denials::{Caller, DeniedSyscall},
};
use crate::{
    arguments::Source,
    baseline::eval::{Access, EffectivePolicy},
    profile::{Action, Arch, EPERM, FilterFlag, Profile, table},
};

/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: not a flag a profile gives (the
/// listener is the runtime's business), so not in [`FilterFlag`].
pub const FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;

/// The flags a notifying filter is installed with, besides the profile's.
pub fn listener_flags() -> libc::c_ulong {
    FLAG_NEW_LISTENER | FilterFlag::WaitKillableRecv.info().bit as libc::c_ulong
}

/// At most this many distinct refused values are kept, all syscalls
/// together, as the kernel watch keeps (`DENIED_VALUE_SLOTS`): the calls
/// past that are counted as of unknown value, so that a program refused
/// with ever new values cannot make this process grow.
const VALUE_SLOTS: usize = profiler_common::DENIED_VALUE_SLOTS as usize;

/// The child's ends of the hand-over: where it reports its pid and the
/// listener's number, and where it waits for the go-ahead.
#[derive(Debug, Clone, Copy)]
pub struct ChildEnds {
    pub report: RawFd,
    pub go: RawFd,
}

/// Denials by table and number, as answered so far, and how many distinct
/// values are kept.
#[derive(Default)]
struct Answered {
    tallies: BTreeMap<(Arch, i64), Tally>,
    values_kept: usize,
}

/// A refused syscall, and its captured values so far.
struct Tally {
    denial: DeniedSyscall,
    tuples: BTreeMap<Vec<u64>, u64>,
}

/// The listener thread, serving one run.
pub struct Listener {
    answered: Arc<Mutex<Answered>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), String>>>,
    /// The parent's copies of the child's ends, closed once it is spawned.
    child_ends: Option<(OwnedFd, OwnedFd)>,
    pub ends: ChildEnds,
}

/// Why a native run cannot use the listener, if it cannot.
pub fn unusable_because(profile: &Profile, policy: &EffectivePolicy) -> Option<String> {
    let refusals = std::iter::once(profile.default_action)
        .chain(profile.syscalls.iter().map(|rule| rule.action));
    if let Some(action) = refusals
        .into_iter()
        .find(|action| !matches!(action, Action::Allow | Action::Log | Action::Errno))
    {
        return Some(format!(
            "the profile uses {action}, which the kernel carries out itself"
        ));
    }
    if profile.flags.contains(&FilterFlag::Tsync) {
        return Some(
            "the profile's SECCOMP_FILTER_FLAG_TSYNC does not go with a listener".to_owned(),
        );
    }
    for name in ["read", "write"] {
        if !matches!(policy.access(name), Access::Allowed) {
            return Some(format!(
                "the profile does not allow {name}, which the hand-over of the listener makes"
            ));
        }
    }
    if libseccomp::check_api(6, libseccomp::ScmpVersion::from((2, 5, 0))).is_err() {
        return Some("this host's libseccomp has no user notification".to_owned());
    }
    None
}

impl Listener {
    /// Starts the thread, which waits for the child's report.
    pub fn start(policy: EffectivePolicy, arch: Arch) -> std::io::Result<Listener> {
        let (report_r, report_w) = pipe()?;
        let (go_r, go_w) = pipe()?;
        let ends = ChildEnds {
            report: report_w.as_raw_fd(),
            go: go_r.as_raw_fd(),
        };
        let answered = Arc::new(Mutex::new(Answered::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let answered = Arc::clone(&answered);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("seccomp-listener".to_owned())
                .spawn(move || {
                    let Some(listener) = take_listener(report_r, go_w)? else {
                        return Ok(());
                    };
                    serve(&listener, &policy, arch, &answered, &stop)
                })?
        };
        Ok(Listener {
            answered,
            stop,
            thread: Some(thread),
            child_ends: Some((report_w, go_r)),
            ends,
        })
    }

    /// Closes this process's copies of the child's ends, once the child is
    /// spawned (or failed to be): the thread then sees the end of the report
    /// if the child never made one.
    pub fn spawned(&mut self) {
        self.child_ends = None;
    }

    /// The denials answered so far, sorted by name.
    pub fn denials(&self) -> Vec<DeniedSyscall> {
        let answered = self
            .answered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out: Vec<DeniedSyscall> = answered
            .tallies
            .values()
            .map(|tally| {
                let mut denial = tally.denial.clone();
                if let Some(captured) = crate::arguments::captured(&denial.name) {
                    denial.values = arguments::denied_values(
                        captured,
                        tally.tuples.iter().map(|(t, n)| (t.clone(), *n)),
                    );
                }
                denial
            })
            .collect();
        out.sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
        out
    }

    /// Stops serving (what is pending is answered first) and returns every
    /// denial; a failure of the thread is returned as its message.
    pub fn finish(mut self) -> Result<Vec<DeniedSyscall>, String> {
        self.child_ends = None;
        self.stop.store(true, Ordering::SeqCst);
        let result = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err("the listener thread panicked".to_owned()),
            None => Ok(()),
        };
        result.map(|()| self.denials())
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both are fresh descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Reads the child's report and takes its listener; `None` when the child
/// ended without one (it failed before its filter).
fn take_listener(report: OwnedFd, go: OwnedFd) -> Result<Option<OwnedFd>, String> {
    let mut bytes = [0u8; 8];
    let mut report = File::from(report);
    if report.read_exact(&mut bytes).is_err() {
        return Ok(None);
    }
    let pid = i32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let number = i32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    // SAFETY: plain syscalls; each result is checked before use.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Err(format!(
            "cannot open the enforced process {pid}: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: a fresh descriptor of ours.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    // SAFETY: as above.
    let listener = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), number, 0) };
    if listener < 0 {
        return Err(format!(
            "cannot take the seccomp listener of process {pid}: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: a fresh descriptor of ours (pidfd_getfd sets close-on-exec).
    let listener = unsafe { OwnedFd::from_raw_fd(listener as RawFd) };
    File::from(go)
        .write_all(&[1])
        .map_err(|e| format!("cannot let the enforced process go on: {e}"))?;
    Ok(Some(listener))
}

/// Answers refused calls until told to stop, or until no process uses the
/// filter any more.
fn serve(
    listener: &OwnedFd,
    policy: &EffectivePolicy,
    arch: Arch,
    answered: &Mutex<Answered>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let fd = listener.as_raw_fd();
    loop {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let wait = if stop.load(Ordering::SeqCst) { 0 } else { 100 };
        // SAFETY: one pollfd on the stack.
        let ready = unsafe { libc::poll(&mut poll, 1, wait) };
        if ready < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("polling the seccomp listener: {error}"));
        }
        if poll.revents & libc::POLLIN != 0 {
            // A call whose process died meanwhile is gone: not an error.
            if let Ok(request) = ScmpNotifReq::receive(fd) {
                answer(fd, &request, policy, arch, answered);
            }
            continue;
        }
        if poll.revents & (libc::POLLHUP | libc::POLLERR) != 0 || ready == 0 && wait == 0 {
            return Ok(());
        }
    }
}

/// Answers one refused call with the profile's errno for it, and counts it
/// once the answer is taken (a call whose thread died before is not).
fn answer(
    fd: RawFd,
    request: &ScmpNotifReq,
    policy: &EffectivePolicy,
    host: Arch,
    answered: &Mutex<Answered>,
) {
    let arch = Arch::ALL
        .iter()
        .copied()
        .find(|a| a.to_libseccomp() == Some(request.data.arch))
        .unwrap_or(host);
    let nr = i64::from(i32::from(request.data.syscall));
    let name = u64::try_from(nr)
        .ok()
        .and_then(|n| table::name_of(arch, n))
        .map_or_else(|| format!("syscall_{nr}"), str::to_owned);
    let args = request.data.args;
    let verdict = policy.verdict(&name, &args);
    // The filter refused the call: the profile's errno for it, or its
    // default errno where the two models part (never let it run).
    let errno = verdict.errno.or(policy.default.errno).unwrap_or(EPERM);
    // Read while the thread waits in the call, then checked to be still
    // the same call: the pid was not reused meanwhile.
    let tid = request.pid;
    let caller = read_caller(tid);
    let values = captured_values(&name, &args, tid);
    let still_there = libseccomp::notify_id_valid(fd, request.id).is_ok();
    let response =
        ScmpNotifResp::new_error(request.id, -(errno as i32), ScmpNotifRespFlags::empty());
    if response.respond(fd).is_err() {
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
            first: still_there.then_some(caller).flatten(),
            first_args: Some(args),
            ..DeniedSyscall::new(name.clone(), arch.short_name().to_owned(), nr, 0)
        },
        tuples: BTreeMap::new(),
    });
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
    let captured = crate::arguments::captured(name)?;
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
