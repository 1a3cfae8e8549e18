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
//! [`unusable_because`] says whether they are.
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

mod serve;
mod socket;
mod usable;

use std::{
    fs::File,
    io::{Read, Write},
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicI32, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use crate::judge::{denial::DeniedSyscall, values};
use crate::{filter::ChildEnds, profile::Arch, profile::eval::EffectivePolicy};
use serve::{Answered, serve};
pub(crate) use socket::Agent;
pub(crate) use usable::{
    container_unusable_because, notifying_profile, program_may_listen, unusable_because,
};

/// What stopped the listener's thread, with the system's error (said
/// in the message, and kept as its source).
#[derive(Debug, thiserror::Error)]
pub enum ListenerError {
    #[error("cannot open the enforced process {pid}: {source}")]
    OpenProcess {
        pid: i32,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot take the seccomp listener of process {pid}: {source}")]
    TakeListener {
        pid: i32,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot let the enforced process go on: {0}")]
    LetGo(#[source] std::io::Error),
    #[error("accepting the runtime's connection: {0}")]
    Accept(#[source] std::io::Error),
    #[error("receiving from the seccomp listener: {0}")]
    Receive(#[source] std::io::Error),
    #[error("polling the seccomp listener: {0}")]
    Poll(#[source] std::io::Error),
    #[error("the listener thread panicked")]
    Panicked,
}

/// The listener thread, serving one run.
pub(crate) struct Listener {
    answered: Arc<Mutex<Answered>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), ListenerError>>>,
    /// The thread's id, once it runs: where [`wake_signal`] is sent.
    tid: Arc<AtomicI32>,
    /// The parent's copies of the child's ends, closed once it is spawned.
    child_ends: Option<(OwnedFd, OwnedFd)>,
    pub ends: ChildEnds,
    /// A container's: the private directory of the runtime's socket.
    socket_dir: Option<tempfile::TempDir>,
    /// Whether the listener was taken (from the child or the runtime).
    taken: Arc<AtomicBool>,
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

    /// The thread: takes the listener with `take`, then answers on it.
    fn serving(
        policy: EffectivePolicy,
        arch: Arch,
        take: impl FnOnce(&AtomicBool) -> Result<Option<OwnedFd>, ListenerError> + Send + 'static,
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
                if let Some(captured) = crate::syscall_args::captured(&denial.name) {
                    denial.values = values::denied_values(
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
    pub(crate) fn finish(mut self) -> Result<Vec<DeniedSyscall>, ListenerError> {
        self.child_ends = None;
        let result = match self.stop_thread().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ListenerError::Panicked),
            None => Ok(()),
        };
        self.socket_dir = None;
        result.map(|()| self.denials())
    }

    /// Tells the thread to stop, and wakes it from its wait for a call
    /// (which only a signal interrupts) until it has ended, within
    /// [`STOP_WITHIN`]; the thread, to join, unless it would not end.
    fn stop_thread(&mut self) -> Option<JoinHandle<Result<(), ListenerError>>> {
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
fn take_listener(report: OwnedFd, go: OwnedFd) -> Result<Option<OwnedFd>, ListenerError> {
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
        return Err(ListenerError::OpenProcess {
            pid,
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: a fresh descriptor of ours.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    // SAFETY: as above.
    let listener = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), number, 0) };
    if listener < 0 {
        return Err(ListenerError::TakeListener {
            pid,
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: a fresh descriptor of ours (pidfd_getfd sets close-on-exec).
    let listener = unsafe { OwnedFd::from_raw_fd(listener as RawFd) };
    File::from(go)
        .write_all(&[1])
        .map_err(ListenerError::LetGo)?;
    Ok(Some(listener))
}
