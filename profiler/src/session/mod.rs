//! A supervised run: what `record`, `enforce` and `check -- CMD` share.
//!
//! A run catches signals before anything exists that could be left behind,
//! starts its [guardian](guardian) (which cleans up should the tool be killed
//! with SIGKILL), cleans up after earlier runs that were killed, makes a
//! fresh cgroup ([`cgroup`]), starts the command inside it ([`process`]), and
//! supervises it until it ends: signals are passed on, a deadline stops it
//! (SIGTERM, then SIGKILL after a grace period, each said once), and a
//! callback runs on every tick. At the end the cgroup is emptied and removed,
//! and the guardian handed back to the use, which releases it once nothing
//! the run made is left unsaid (a recorded container the engine keeps). What each use adds (the eBPF program it
//! attaches, what it reads at the end) stays with the use.

pub mod cgroup;
pub mod ebpf;
pub mod events;
pub mod guardian;
pub mod hook;
pub mod interrupt;
pub mod layout;
pub mod process;
pub mod redact;

use std::{io, time::Duration};

use futures_util::{FutureExt, StreamExt};
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook_tokio::SignalsInfo;

pub use self::cgroup::{CgroupError, Kind, Leftover, RunCgroup, StaleRun};
use self::guardian::{Duty, Guardian};

/// How long a command gets between SIGTERM and SIGKILL when its deadline
/// has passed.
pub const GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot watch for signals: {0}")]
    Signals(io::Error),
    #[error("cannot start the guardian process (it cleans up should this tool be killed): {0}")]
    Guardian(io::Error),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("interrupted by signal {0} before the command started; it did not run")]
    Interrupted(i32),
    #[error("lost track of the command: {0}")]
    Wait(io::Error),
}

impl SessionError {
    /// The exit status for this error: 128+N after signal N, as shells
    /// report it; `failed` (the tool's own failure status) otherwise.
    pub fn exit_code(&self, failed: i32) -> i32 {
        match self {
            SessionError::Interrupted(signal) => crate::exit::after_signal(*signal),
            _ => failed,
        }
    }
}

/// How a deadline stops the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Asked to end (SIGTERM).
    Term,
    /// The grace period is over: killed.
    Kill,
}

/// What a use does while its command runs.
pub trait Supervised {
    /// Runs on every tick (e.g. a live line, the runtime phase).
    fn tick(&mut self) {}

    /// Stops the workload when the deadline has passed; says what it did,
    /// in words for the user. `pid` is the child's, if still unreaped.
    fn stop(&mut self, session: &Session, pid: Option<u32>, how: Stop) -> String {
        stop_command(session, pid, how)
    }
}

/// How a native command is stopped at its deadline: SIGTERM to the command,
/// then SIGKILL to everything in the run's cgroup. Says what it did.
pub fn stop_command(session: &Session, pid: Option<u32>, how: Stop) -> String {
    match how {
        Stop::Term => {
            process::send_signal(pid, libc::SIGTERM);
            "sent SIGTERM to the command".to_owned()
        }
        Stop::Kill => match session.cgroup.kill_all() {
            Ok(()) => format!(
                "the command did not end within {} s of SIGTERM: killed it and everything it \
                 started (SIGKILL)",
                GRACE.as_secs()
            ),
            Err(e) => e.to_string(),
        },
    }
}

/// A run in progress: its cgroup, its guardian, the signals it caught.
pub struct Session {
    cgroup: RunCgroup,
    signals: SignalsInfo<WithOrigin>,
    guardian: Guardian,
    /// Earlier runs this one cleaned up after.
    pub stale: Vec<StaleRun>,
}

impl Session {
    /// Opens a run: signals are caught from before the cgroup exists (an
    /// interrupt can no longer kill the tool with the cgroup left behind),
    /// the guardian is started, earlier runs' leftovers are cleaned, and
    /// the cgroup is made and handed to the guardian.
    pub fn open(kind: Kind) -> Result<Session, SessionError> {
        let signals = process::catch_signals().map_err(SessionError::Signals)?;
        let mut guardian = Guardian::spawn().map_err(SessionError::Guardian)?;
        let stale = cgroup::remove_stale();
        let cgroup = RunCgroup::create(kind, guardian.id())?;
        guardian
            .watch(&Duty::Cgroup {
                path: cgroup.path().to_owned(),
            })
            .map_err(SessionError::Guardian)?;
        Ok(Session {
            cgroup,
            signals,
            guardian,
            stale,
        })
    }

    pub fn cgroup(&self) -> &RunCgroup {
        &self.cgroup
    }

    /// Hands the guardian one more duty.
    pub fn guard(&mut self, duty: &Duty) -> Result<(), SessionError> {
        self.guardian.watch(duty).map_err(SessionError::Guardian)
    }

    /// Fails if a signal came while setting up: the command must not start.
    pub fn check_interrupted(&mut self) -> Result<(), SessionError> {
        match self.signals.next().now_or_never() {
            Some(Some(origin)) => Err(SessionError::Interrupted(origin.signal)),
            _ => Ok(()),
        }
    }

    /// Supervises `child` until it exits; returns its exit status as a
    /// shell reports it. Signals sent to the tool are passed on; past
    /// `deadline` the workload is stopped through `use_`, once with
    /// [`Stop::Term`] and, [`GRACE`] later, once with [`Stop::Kill`]; what
    /// that did is pushed onto `notes`.
    pub async fn supervise(
        &mut self,
        child: &mut tokio::process::Child,
        deadline: Option<tokio::time::Instant>,
        tick: Option<Duration>,
        use_: &mut dyn Supervised,
        notes: &mut Vec<String>,
    ) -> Result<i32, SessionError> {
        let mut ticks = tokio::time::interval(tick.unwrap_or(Duration::from_secs(3600)));
        let mut next_stop = deadline;
        let mut stops = [Stop::Term, Stop::Kill].into_iter();
        loop {
            let pid = child.id();
            tokio::select! {
                status = child.wait() => {
                    let status = status.map_err(SessionError::Wait)?;
                    return Ok(process::shell_exit_code(status));
                }
                Some(origin) = self.signals.next() => process::forward_signal(&origin, pid),
                () = sleep_until(next_stop) => {
                    match stops.next() {
                        Some(how) => {
                            notes.push(use_.stop(self, pid, how));
                            next_stop = Some(tokio::time::Instant::now() + GRACE);
                        }
                        None => next_stop = None,
                    }
                }
                _ = ticks.tick(), if tick.is_some() => use_.tick(),
            }
        }
    }

    /// Ends a native run: whatever the command left running is killed (and
    /// returned, named), the cgroup removed. The guardian is handed back,
    /// its cgroup duty done: see [`Session::close_after_engine`].
    pub fn close(self) -> (Result<Vec<Leftover>, CgroupError>, Guardian) {
        self.close_with(RunCgroup::remove)
    }

    /// Ends a container run: the engine gets `patience` to end and remove
    /// the container; what still runs then is killed. The guardian is
    /// handed back, not released: what the run made outside its cgroup (a
    /// container the engine keeps, with the recording profile) stays in
    /// its care until the caller has said what became of it.
    pub fn close_after_engine(
        self,
        patience: Duration,
    ) -> (Result<Vec<Leftover>, CgroupError>, Guardian) {
        self.close_with(|cgroup| cgroup.remove_after_engine(patience))
    }

    /// Ends a run whose container was kept running on request: the cgroup
    /// stays, marked so that later runs leave it alone, and the guardian,
    /// handed back, no longer kills it.
    pub fn close_keeping(self) -> (Result<(), CgroupError>, Guardian) {
        let Session {
            cgroup,
            mut guardian,
            ..
        } = self;
        let duty = Duty::Cgroup {
            path: cgroup.path().to_owned(),
        };
        let result = cgroup.keep();
        // Should the pipe be gone, the guardian is too.
        let _ = guardian.withdraw(&duty);
        (result, guardian)
    }

    /// Removes the cgroup with `remove`; once it is gone, the guardian
    /// forgets it.
    fn close_with(
        self,
        remove: impl FnOnce(RunCgroup) -> Result<Vec<Leftover>, CgroupError>,
    ) -> (Result<Vec<Leftover>, CgroupError>, Guardian) {
        let Session {
            cgroup,
            mut guardian,
            ..
        } = self;
        let duty = Duty::Cgroup {
            path: cgroup.path().to_owned(),
        };
        let result = remove(cgroup);
        if result.is_ok() {
            let _ = guardian.withdraw(&duty);
        }
        (result, guardian)
    }
}

/// What the user is told of a run's end: the processes that were still
/// running in the cgroup when the command exited and were killed (named, as
/// `ps` shows them), or why the cgroup could not be removed.
pub fn said_of_close(result: Result<Vec<Leftover>, CgroupError>) -> Option<String> {
    match result {
        Ok(killed) if killed.is_empty() => None,
        Ok(killed) => Some(format!(
            "{} process(es) were still running in the watched cgroup when the command exited, \
             and were killed: {}",
            killed.len(),
            cgroup::describe(&killed)
        )),
        Err(e) => Some(e.to_string()),
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
