//! The denial watch of a native program that costs nothing on the calls its
//! profile allows: the filter hands every call it refuses to this process
//! (`SCMP_ACT_NOTIFY`, seccomp's user notification), which answers it with
//! the errno the profile gives that call.
//!
//! The kernel blocks the refused call until the answer, and hands over the
//! thread, the syscall and its six arguments, so nothing is lost and
//! nothing is reported that the filter did not refuse: a call the program
//! made and that failed on its own never comes here. The cost is on the
//! refused calls only (a round trip to this process, two context switches:
//! about 7.5 µs on the benchmark's VM, see `serve`), where the eBPF watch
//! ([`super::denials`]) costs two hooks on every call.
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
//! What the filter kills is never handed over: a call from an architecture
//! the filter does not name (libseccomp kills it), or a kill or trap of a
//! filter the program installed itself. The eBPF side finds those beside
//! the listener, at the SIGSYS the filter sends or the killed thread's exit
//! ([`super::denials`]), so that the report is the kernel watch's.
//!
//! `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (Linux 6.0) makes a received call wait for
//! its answer whatever signal comes but a fatal one, so each refused call is
//! answered, and counted, once.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{Read, Write},
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
        unix::net::UnixListener,
    },
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicI32, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

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
pub(crate) const FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;

/// The flags a notifying filter is installed with, besides the profile's.
pub(crate) fn listener_flags() -> libc::c_ulong {
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
pub(crate) struct ChildEnds {
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
pub(crate) struct Listener {
    answered: Arc<Mutex<Answered>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), String>>>,
    /// The thread's id, once it runs: where [`WAKE_SIGNAL`] is sent.
    tid: Arc<AtomicI32>,
    /// The parent's copies of the child's ends, closed once it is spawned.
    child_ends: Option<(OwnedFd, OwnedFd)>,
    pub ends: ChildEnds,
    /// A container's: the private directory of the runtime's socket.
    socket_dir: Option<tempfile::TempDir>,
    /// Whether the listener was taken (from the child or the runtime).
    taken: Arc<AtomicBool>,
}

/// Why no listener can stand in for `profile`'s refusals, natively or in a
/// container, if none can: refusals the kernel carries out itself, or a
/// flag that does not go with a listener.
fn cannot_notify(profile: &Profile) -> Option<String> {
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
    profile
        .flags
        .contains(&FilterFlag::Tsync)
        .then(|| "the profile's SECCOMP_FILTER_FLAG_TSYNC does not go with a listener".to_owned())
}

/// Why a listener of ours would change what the program gets, if it
/// would. The kernel allows one listener in a task's filter chain, so a
/// program the profile lets call seccomp(2) may install a filter of its
/// own asking for a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER, as
/// sandboxes and container runtimes do) and would get EBUSY under ours,
/// where under the same profile applied by its engine (or under the
/// kernel watch) it gets its descriptor. prctl(PR_SET_SECCOMP) cannot ask
/// for a listener, so only seccomp(2) counts; any value of it the profile
/// lets run does, as the filter's own flags are not looked at.
pub(crate) fn program_may_listen(policy: &EffectivePolicy) -> Option<String> {
    (!matches!(policy.access("seccomp"), Access::Denied(_))).then(|| {
        "the profile allows seccomp, and a program asking for a seccomp listener of its own \
         (SECCOMP_FILTER_FLAG_NEW_LISTENER) would get EBUSY under ours (the kernel allows one \
         per filter chain), where its engine gives it one"
            .to_owned()
    })
}

/// Why a native run cannot use the listener, if it cannot.
pub(crate) fn unusable_because(profile: &Profile, policy: &EffectivePolicy) -> Option<String> {
    if let Some(why) = cannot_notify(profile) {
        return Some(why);
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

/// Where a container's runtime hands the listener over: a unix socket in a
/// directory of this run's own (see [`Listener::start_socket`]).
pub(crate) struct Agent {
    /// The socket's path, the runtime spec's `linux.seccomp.listenerPath`.
    pub path: PathBuf,
    /// The token the runtime must pass back (`listenerMetadata`).
    pub token: String,
}

/// Why a container's run cannot use the listener, if it cannot. `profile`
/// is the profile as the runtime gets it (Docker's includes and excludes
/// decided for this container). The conditions: the engine passes
/// `listenerPath` to the runtime (podman and ctr do; the Docker engine
/// 20.10 drops it, and runc then refuses the container), the runtime is
/// runc (the one tried), every refusal is an `SCMP_ACT_ERRNO` (the others
/// the kernel carries out itself), write is allowed (runc refuses to
/// notify it: it writes the listener to its parent under the filter), and
/// no syscall falls to a refusing default action through argument
/// conditions (runc refuses a notifying default action, so such calls
/// would be refused unseen).
pub(crate) fn container_unusable_because(
    profile: &Profile,
    policy: &EffectivePolicy,
    engine: crate::engine::Engine,
    runtime: Option<&str>,
) -> Option<String> {
    use crate::engine::Engine;
    if engine == Engine::Docker {
        return Some(
            "the Docker engine does not pass the profile's listenerPath to the runtime (runc \
             then refuses the container: `listenerPath is not set`), so a Docker container's \
             denials are watched with eBPF"
                .to_owned(),
        );
    }
    match runtime {
        Some("runc") => {}
        Some(other) => {
            return Some(format!(
                "the container runtime is {other}; the listener hand-over was tried with runc only"
            ));
        }
        None => return Some("the engine did not say which container runtime it uses".to_owned()),
    }
    if let Some(why) = cannot_notify(profile) {
        return Some(why);
    }
    if !matches!(policy.access("write"), Access::Allowed) {
        return Some(
            "the profile does not allow write, which runc makes under the filter to hand the \
             listener over (and refuses to notify)"
                .to_owned(),
        );
    }
    if !profile.default_action.lets_run() {
        let conditional_only = profile
            .syscalls
            .iter()
            .filter(|rule| !rule.args.is_empty())
            .flat_map(|rule| &rule.names)
            .find(|name| {
                !profile
                    .syscalls
                    .iter()
                    .any(|r| r.args.is_empty() && r.names.contains(name))
            });
        if let Some(name) = conditional_only {
            return Some(format!(
                "the profile has {name} only under argument conditions: the calls outside them \
                 fall to the default action, which runc does not let notify"
            ));
        }
    }
    if libseccomp::check_api(6, libseccomp::ScmpVersion::from((2, 5, 0))).is_err() {
        return Some("this host's libseccomp has no user notification".to_owned());
    }
    None
}

/// `profile` (includes and excludes decided) with its refusals handed to
/// a listener, for a container runtime: each `SCMP_ACT_ERRNO` rule becomes
/// `SCMP_ACT_NOTIFY` (without `errnoRet`: the listener answers with it),
/// and, the default action staying (runc refuses a notifying one), every
/// syscall of the tables of `arches` that no rule names gets a notifying
/// rule of its own, so that every call the filter refuses by name comes to
/// the listener. Only calls of numbers no table names keep the default's
/// errno unseen. The socket and token are the runtime's `listenerPath`
/// and `listenerMetadata`.
pub(crate) fn notifying_profile(profile: &Profile, arches: &[Arch], agent: &Agent) -> Profile {
    let mut out = profile.clone();
    for rule in &mut out.syscalls {
        if rule.action == Action::Errno {
            rule.action = Action::Notify;
            rule.errno_ret = None;
        }
    }
    if !profile.default_action.lets_run() {
        let named: std::collections::BTreeSet<&str> = profile
            .syscalls
            .iter()
            .flat_map(|rule| rule.names.iter().map(String::as_str))
            .collect();
        let mut rest: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for &arch in arches {
            for (_, name) in table::all(arch) {
                if name != "write" && !named.contains(name) {
                    rest.insert(name.to_owned());
                }
            }
        }
        if !rest.is_empty() {
            out.syscalls.push(crate::profile::SyscallRule::new(
                rest.into_iter().collect(),
                Action::Notify,
            ));
        }
    }
    out.listener_path = Some(agent.path.display().to_string());
    out.listener_metadata = Some(agent.token.clone());
    out
}

impl Listener {
    /// Starts the thread, which waits for the child's report.
    pub(crate) fn start(policy: EffectivePolicy, arch: Arch) -> std::io::Result<Listener> {
        let (report_r, report_w) = pipe()?;
        let (go_r, go_w) = pipe()?;
        let ends = ChildEnds {
            report: report_w.as_raw_fd(),
            go: go_r.as_raw_fd(),
        };
        let mut listener = Listener::serving(policy, arch, move |_| take_listener(report_r, go_w))?;
        listener.child_ends = Some((report_w, go_r));
        listener.ends = ends;
        Ok(listener)
    }

    /// Starts the thread for a container: it waits for the OCI runtime
    /// (runc) to connect to a fresh unix socket and send the container's
    /// listener, as the runtime spec's `listenerPath` has it (one message:
    /// the JSON state, and the descriptors named in its `fds` as
    /// `SCM_RIGHTS`). The socket is in a directory made for this run
    /// (mode 0700, a fresh name the runtime cannot be pointed away from),
    /// removed when the listener is finished or dropped; a connection that
    /// does not pass the run's random token as its metadata is refused.
    pub(crate) fn start_socket(
        policy: EffectivePolicy,
        arch: Arch,
    ) -> std::io::Result<(Listener, Agent)> {
        use std::os::unix::fs::PermissionsExt;
        remove_stale_socket_dirs(&std::env::temp_dir());
        let prefix = format!("{SOCKET_DIR_PREFIX}{}.", std::process::id());
        let dir = tempfile::Builder::new()
            .prefix(&prefix)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        let mode = std::fs::metadata(dir.path())?.permissions().mode() & 0o7777;
        if mode != 0o700 {
            return Err(std::io::Error::other(format!(
                "the private directory {} has mode {mode:o}, not 700",
                dir.path().display()
            )));
        }
        let path = dir.path().join("agent.sock");
        let socket = UnixListener::bind(&path)?;
        socket.set_nonblocking(true)?;
        let token = random_token()?;
        let agent = Agent {
            path,
            token: token.clone(),
        };
        let mut listener = Listener::serving(policy, arch, move |stop| {
            accept_listener(&socket, &token, stop)
        })?;
        listener.socket_dir = Some(dir);
        Ok((listener, agent))
    }

    /// The thread: takes the listener with `take`, then answers on it.
    fn serving(
        policy: EffectivePolicy,
        arch: Arch,
        take: impl FnOnce(&AtomicBool) -> Result<Option<OwnedFd>, String> + Send + 'static,
    ) -> std::io::Result<Listener> {
        let answered = Arc::new(Mutex::new(Answered::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let taken = Arc::new(AtomicBool::new(false));
        let tid = Arc::new(AtomicI32::new(0));
        install_wake_handler()?;
        let thread = {
            let answered = Arc::clone(&answered);
            let stop = Arc::clone(&stop);
            let taken = Arc::clone(&taken);
            let tid = Arc::clone(&tid);
            std::thread::Builder::new()
                .name("seccomp-listener".to_owned())
                .spawn(move || {
                    // SAFETY: gettid cannot fail.
                    tid.store(unsafe { libc::gettid() }, Ordering::SeqCst);
                    unblock_wake_signal();
                    let Some(listener) = take(&stop)? else {
                        return Ok(());
                    };
                    taken.store(true, Ordering::SeqCst);
                    serve(&listener, &policy, arch, &answered, &stop)
                })?
        };
        Ok(Listener {
            answered,
            stop,
            thread: Some(thread),
            tid,
            child_ends: None,
            ends: ChildEnds { report: -1, go: -1 },
            socket_dir: None,
            taken,
        })
    }

    /// Whether the listener was handed over.
    pub(crate) fn handed_over(&self) -> bool {
        self.taken.load(Ordering::SeqCst)
    }

    /// Closes this process's copies of the child's ends, once the child is
    /// spawned (or failed to be): the thread then sees the end of the report
    /// if the child never made one.
    pub(crate) fn spawned(&mut self) {
        self.child_ends = None;
    }

    /// The denials answered so far, sorted by name.
    pub(crate) fn denials(&self) -> Vec<DeniedSyscall> {
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
    pub(crate) fn finish(mut self) -> Result<Vec<DeniedSyscall>, String> {
        self.child_ends = None;
        let result = match self.stop_thread().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err("the listener thread panicked".to_owned()),
            None => Ok(()),
        };
        self.socket_dir = None;
        result.map(|()| self.denials())
    }

    /// Tells the thread to stop, and wakes it from its wait for a call
    /// (which only a signal interrupts) until it has ended, within
    /// [`STOP_WITHIN`]; the thread, to join, unless it would not end.
    fn stop_thread(&mut self) -> Option<JoinHandle<Result<(), String>>> {
        self.stop.store(true, Ordering::SeqCst);
        let thread = self.thread.take()?;
        let started = Instant::now();
        // A signal that comes just before the thread begins to wait is
        // spent on nothing: it is sent again until the thread has ended.
        while !thread.is_finished() {
            if started.elapsed() > STOP_WITHIN {
                return None;
            }
            let tid = self.tid.load(Ordering::SeqCst);
            if tid > 0 {
                // SAFETY: a signal to a thread of this process, whose
                // handler does nothing.
                unsafe {
                    libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, wake_signal());
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Some(thread)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.child_ends = None;
        self.stop_thread();
    }
}

/// The longest the listener thread is waited for when it is told to stop
/// (it ends within a millisecond unless the child never reported).
const STOP_WITHIN: Duration = Duration::from_secs(5);

/// The signal that wakes the listener thread from its wait for a call
/// (`SECCOMP_IOCTL_NOTIF_RECV`, which does not end when the last process
/// of the filter does), to look whether it is told to stop. A real-time
/// signal nothing else of this process uses; its handler does nothing and
/// is installed without `SA_RESTART`, so that the wait ends with EINTR.
fn wake_signal() -> libc::c_int {
    libc::SIGRTMIN() + 4
}

extern "C" fn woken(_: libc::c_int) {}

/// Installs the handler of [`wake_signal`], once.
fn install_wake_handler() -> std::io::Result<()> {
    static INSTALLED: std::sync::OnceLock<Result<(), i32>> = std::sync::OnceLock::new();
    let result = INSTALLED.get_or_init(|| {
        // SAFETY: a zeroed sigaction is valid; the handler is an
        // async-signal-safe function that does nothing.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = woken as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = 0;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(wake_signal(), &action, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
            }
        }
        Ok(())
    });
    result.map_err(std::io::Error::from_raw_os_error)
}

/// Lets [`wake_signal`] reach the calling thread, whatever mask it
/// inherited.
fn unblock_wake_signal() {
    // SAFETY: a signal set on the stack, filled by sigemptyset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, wake_signal());
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
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

/// The name of a run's socket directory starts so, then the tool's pid.
const SOCKET_DIR_PREFIX: &str = "syscall-profile-listener.";

/// Removes the socket directories in `temp` of runs whose tool is gone (a
/// run killed with SIGKILL cannot remove its own): only directories (not
/// links) owned by this user, whose pid runs no process.
fn remove_stale_socket_dirs(temp: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SOCKET_DIR_PREFIX))
            .and_then(|rest| rest.split('.').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

/// 128 random bits, in hex: the metadata the runtime must pass back.
fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: writes at most the rest of the array.
        let got = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if got < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(error);
            }
            continue;
        }
        filled += got as usize;
    }
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The runtime spec's "container process state", as runc sends it to the
/// `listenerPath` (only what is read of it).
#[derive(serde::Deserialize)]
struct ProcessState {
    fds: Vec<String>,
    #[serde(default)]
    metadata: String,
}

/// The most bytes of state and descriptors one connection may send.
const STATE_BYTES: usize = 64 * 1024;
const STATE_FDS: usize = 16;

/// Accepts connections on `socket` until one passes `token` and a
/// `seccompFd`: that descriptor; `None` when told to stop first (the
/// container never started). Other connections are closed, with what
/// they sent.
fn accept_listener(
    socket: &UnixListener,
    token: &str,
    stop: &AtomicBool,
) -> Result<Option<OwnedFd>, String> {
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let mut poll = libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd on the stack.
        if unsafe { libc::poll(&mut poll, 1, 100) } <= 0 {
            continue;
        }
        let stream = match socket.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("accepting the runtime's connection: {e}")),
        };
        if let Ok(Some(fd)) = receive_state(&stream, token) {
            return Ok(Some(fd));
        }
    }
}

/// Reads one connection to its end: the state and the descriptors; the
/// `seccompFd` when the state carries `token`.
fn receive_state(
    stream: &std::os::unix::net::UnixStream,
    token: &str,
) -> std::io::Result<Option<OwnedFd>> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    let mut bytes = Vec::new();
    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut buffer = vec![0u8; 4096];
    // Room for STATE_FDS descriptors, aligned for cmsghdr.
    let mut control = vec![0u64; 64];
    loop {
        let mut iov = libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        };
        // SAFETY: a zeroed msghdr is valid; its pointers are set below.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len() * 8;
        // SAFETY: the buffers outlive the call and their sizes are given.
        let got = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if got < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        // SAFETY: walks the control messages recvmsg wrote, within
        // msg_controllen; each SCM_RIGHTS datum is an array of ints.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
                    let header = libc::CMSG_LEN(0) as usize;
                    let n = ((*cmsg).cmsg_len as usize).saturating_sub(header)
                        / std::mem::size_of::<libc::c_int>();
                    for i in 0..n {
                        let fd = data.add(i).read_unaligned();
                        if fd >= 0 {
                            fds.push(OwnedFd::from_raw_fd(fd));
                        }
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        if got == 0 {
            break;
        }
        bytes.extend_from_slice(&buffer[..got as usize]);
        if bytes.len() > STATE_BYTES || fds.len() > STATE_FDS {
            return Ok(None);
        }
        // One message: the state is whole once it parses.
        if serde_json::from_slice::<ProcessState>(&bytes).is_ok() {
            break;
        }
    }
    let Ok(state) = serde_json::from_slice::<ProcessState>(&bytes) else {
        return Ok(None);
    };
    if state.metadata != token {
        return Ok(None);
    }
    let Some(index) = state.fds.iter().position(|name| name == "seccompFd") else {
        return Ok(None);
    };
    Ok((index < fds.len()).then(|| fds.swap_remove(index)))
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
fn serve(
    listener: &OwnedFd,
    policy: &EffectivePolicy,
    arch: Arch,
    answered: &Mutex<Answered>,
    stop: &AtomicBool,
) -> Result<(), String> {
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
            Err(e) => return Err(format!("receiving from the seccomp listener: {e}")),
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
            return Err(format!("polling the seccomp listener: {error}"));
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

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;

    use super::*;

    /// Sends `state` and `fds` as runc does: one message, the descriptors
    /// as SCM_RIGHTS.
    fn send_state(path: &std::path::Path, state: &str, fds: &[RawFd]) {
        let stream = UnixStream::connect(path).unwrap();
        let mut iov = libc::iovec {
            iov_base: state.as_ptr() as *mut libc::c_void,
            iov_len: state.len(),
        };
        let mut control = vec![0u64; 16];
        // SAFETY: a test's msghdr over live buffers.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            let size = std::mem::size_of_val(fds) as u32;
            msg.msg_controllen = libc::CMSG_SPACE(size) as usize;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(size) as usize;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr(),
                libc::CMSG_DATA(cmsg).cast::<RawFd>(),
                fds.len(),
            );
            assert!(libc::sendmsg(stream.as_raw_fd(), &msg, 0) >= 0);
        }
        drop(stream);
    }

    /// Inode of a descriptor, to tell which one came back.
    fn inode(fd: RawFd) -> u64 {
        // SAFETY: fstat into a zeroed struct.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            assert_eq!(libc::fstat(fd, &mut st), 0);
            st.st_ino
        }
    }

    /// The socket is alone in a 0700 directory; a connection with the
    /// wrong token is refused and the next one, with the token, hands over
    /// the descriptor at the index of "seccompFd"; the directory is gone
    /// once the listener is.
    #[test]
    fn the_runtime_hands_the_listener_over_with_the_token_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .unwrap();
        let path = dir.path().join("agent.sock");
        let socket = UnixListener::bind(&path).unwrap();
        socket.set_nonblocking(true).unwrap();
        let (a_r, _a_w) = pipe().unwrap();
        let (b_r, _b_w) = pipe().unwrap();
        let stop = AtomicBool::new(false);
        let client = {
            let path = path.clone();
            let (a, b) = (a_r.as_raw_fd(), b_r.as_raw_fd());
            std::thread::spawn(move || {
                let wrong = r#"{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":1,"metadata":"nope","state":{}}"#;
                send_state(&path, wrong, &[a]);
                let right = r#"{"ociVersion":"1.0.2","fds":["other","seccompFd"],"pid":1,"metadata":"t0ken","state":{}}"#;
                send_state(&path, right, &[a, b]);
            })
        };
        let fd = accept_listener(&socket, "t0ken", &stop).unwrap().unwrap();
        client.join().unwrap();
        assert_eq!(inode(fd.as_raw_fd()), inode(b_r.as_raw_fd()));
        // Told to stop with no connection: nothing, no error.
        stop.store(true, Ordering::SeqCst);
        assert!(accept_listener(&socket, "t0ken", &stop).unwrap().is_none());
    }

    #[test]
    fn the_socket_dir_is_private_and_removed() {
        let policy = EffectivePolicy::evaluate(
            &Profile::parse(br#"{"defaultAction":"SCMP_ACT_ALLOW"}"#)
                .unwrap()
                .profile,
            &crate::enforcing::filter::native_context(Arch::host().unwrap()),
        );
        let (listener, agent) = Listener::start_socket(policy, Arch::host().unwrap()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let dir = agent.path.parent().unwrap().to_owned();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700);
        assert_eq!(agent.token.len(), 32);
        assert!(listener.finish().unwrap().is_empty());
        assert!(!dir.exists());
    }

    /// A killed run's directory (its pid runs nothing) is removed; a live
    /// run's and other names are not.
    #[test]
    fn stale_socket_dirs_are_removed() {
        let temp = tempfile::tempdir().unwrap();
        let stale = temp
            .path()
            .join(format!("{SOCKET_DIR_PREFIX}{}.abc", u32::MAX - 1));
        let live = temp
            .path()
            .join(format!("{SOCKET_DIR_PREFIX}{}.abc", std::process::id()));
        let other = temp.path().join("other.1");
        for dir in [&stale, &live, &other] {
            std::fs::create_dir(dir).unwrap();
        }
        std::fs::write(stale.join("agent.sock"), b"").unwrap();
        remove_stale_socket_dirs(temp.path());
        assert!(!stale.exists());
        assert!(live.exists());
        assert!(other.exists());
    }

    fn parsed(text: &str) -> (Profile, EffectivePolicy) {
        let profile = Profile::parse(text.as_bytes()).unwrap().profile;
        let policy = EffectivePolicy::evaluate(
            &profile,
            &crate::enforcing::filter::native_context(Arch::X86_64),
        );
        (profile, policy)
    }

    /// ERRNO rules notify without their errno; every unnamed syscall but
    /// write gets a notifying rule; the default stays; the socket and token
    /// are the runtime's.
    #[test]
    fn the_container_profile_notifies_every_refusal_by_name() {
        let (profile, _) = parsed(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":[
                {"names":["read","write","getppid"],"action":"SCMP_ACT_ALLOW"},
                {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
        );
        let agent = Agent {
            path: "/tmp/x/agent.sock".into(),
            token: "t".into(),
        };
        let out = notifying_profile(&profile, &[Arch::X86_64], &agent);
        assert_eq!(out.default_action, Action::Errno);
        assert_eq!(out.default_errno_ret, Some(1));
        assert_eq!(out.syscalls[1].action, Action::Notify);
        assert_eq!(out.syscalls[1].errno_ret, None);
        let rest = &out.syscalls[2];
        assert_eq!(rest.action, Action::Notify);
        assert!(rest.names.iter().any(|n| n == "sysinfo"));
        for name in ["write", "read", "getppid", "mkdir"] {
            assert!(!rest.names.iter().any(|n| n == name), "{name}");
        }
        assert_eq!(out.listener_path.as_deref(), Some("/tmp/x/agent.sock"));
        assert_eq!(out.listener_metadata.as_deref(), Some("t"));
    }

    #[test]
    fn a_container_listener_needs_podman_or_ctr_runc_errno_write_and_no_conditional_fallthrough() {
        use crate::engine::Engine;
        let ok = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["write"],"action":"SCMP_ACT_ALLOW"}]}"#;
        let (profile, policy) = parsed(ok);
        assert!(
            container_unusable_because(&profile, &policy, Engine::Podman, Some("runc")).is_none()
        );
        let why = container_unusable_because(&profile, &policy, Engine::Docker, Some("runc"));
        assert!(why.unwrap().contains("listenerPath"));
        assert!(
            container_unusable_because(&profile, &policy, Engine::Containerd, Some("crun"))
                .is_some()
        );
        let (profile, policy) = parsed(r#"{"defaultAction":"SCMP_ACT_ERRNO"}"#);
        let why = container_unusable_because(&profile, &policy, Engine::Podman, Some("runc"));
        assert!(why.unwrap().contains("write"));
        let (profile, policy) = parsed(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["write"],"action":"SCMP_ACT_ALLOW"},
            {"names":["arch_prctl"],"action":"SCMP_ACT_ALLOW",
             "args":[{"index":0,"value":4098,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        let why = container_unusable_because(&profile, &policy, Engine::Podman, Some("runc"));
        assert!(why.unwrap().contains("arch_prctl"));
        let (profile, policy) = parsed(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["socket"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":0,"value":40,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        assert!(
            container_unusable_because(&profile, &policy, Engine::Podman, Some("runc")).is_none()
        );
        let (profile, policy) = parsed(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
        );
        assert!(
            container_unusable_because(&profile, &policy, Engine::Podman, Some("runc"))
                .unwrap()
                .contains("SCMP_ACT_KILL_PROCESS")
        );
    }
}
