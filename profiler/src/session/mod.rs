//! A supervised run: what `record`, `enforce` and `check -- CMD` share.
//!
//! A run catches signals before anything exists that could be left behind,
//! starts its [guardian](guardian) (which cleans up should the tool be killed
//! with SIGKILL), cleans up after earlier runs that were killed, makes a
//! fresh cgroup ([`cgroup`]), starts the command inside it ([`process`]), and
//! supervises it until it ends: signals are passed on, a deadline stops it
//! (SIGTERM, then SIGKILL after a grace period, each said once), and a
//! callback runs on every tick. A native run goes on, by default, until
//! every process of the command's tree has ended, not only the command
//! ([`Until`]): what outlived the command is named, and a signal or the
//! deadline ends the wait. At the end the cgroup is emptied and removed,
//! and the guardian handed back to the use, which releases it once nothing
//! the run made is left unsaid (a recorded container the engine keeps). What each use adds (the eBPF program it
//! attaches, what it reads at the end) stays with the use.

pub(crate) mod attached;
pub(crate) mod cgroup;
pub(crate) mod ebpf;
pub(crate) mod events;
pub mod guardian;
pub(crate) mod hook;
pub(crate) mod interrupt;
pub(crate) mod layout;
pub(crate) mod probe;
pub(crate) mod process;
pub(crate) mod redact;
pub(crate) mod users;

/// How an error that comes from the host ends: naming `doctor`, which says
/// what else works here and what does not.
pub(crate) const DOCTOR_HINT: &str = "run `syscall-profile doctor` to see what works here";

use crate::choice::choice;
use std::{io, time::Duration};

use futures_util::{FutureExt, StreamExt};
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook_tokio::SignalsInfo;

use self::guardian::{Duty, Guardian};
pub(crate) use self::{
    cgroup::{CgroupError, Kind, Leftover, RunCgroup, StaleRun},
    ebpf::CgroupTree,
};

/// How long a command gets between SIGTERM and SIGKILL when its deadline
/// has passed.
pub(crate) const GRACE: Duration = Duration::from_secs(10);

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
    pub(crate) fn exit_code(&self, failed: i32) -> i32 {
        match self {
            SessionError::Interrupted(signal) => crate::exit::after_signal(*signal),
            _ => failed,
        }
    }
}

/// How often the wait for a command's tree looks whether the cgroup is
/// empty.
const TREE_POLL: Duration = Duration::from_millis(50);

/// Every how many looks at the cgroup the processes that outlived the
/// command are named again (once a second).
const RENAME_EVERY: u32 = 20;

/// How long processes killed at the end of a wait for the tree get to go
/// (a process in uninterruptible sleep dies only when it wakes) before the
/// run ends anyway; what is left is killed again, and named, at the close.
const KILL_PATIENCE: Duration = Duration::from_secs(5);

choice! {
    /// When a native run ends.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub enum Until {
        #[default]
        Tree => (
            "tree",
            "When every process of the command's tree has ended, as `strace -f` waits: a \
             detached child or a daemon the command started is followed to its end"
        ),
        Command => (
            "command",
            "When the command itself exits: what it left running is killed, and named"
        ),
    }
}

/// The processes that outlived the command, and how the wait for them
/// ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outlived {
    /// As they were when the command exited.
    pub processes: Vec<Leftover>,
    /// The wait was ended by a signal or the deadline (and what was left
    /// killed), not by their own end.
    pub stopped: bool,
}

impl Outlived {
    /// The line of the summary that names them.
    pub(crate) fn said(&self) -> String {
        let how = if self.stopped {
            "the run waited for them until it was ended (see above)"
        } else {
            "the run waited for them to end"
        };
        format!(
            "{} process(es) outlived the command, and {how}: {}",
            self.processes.len(),
            cgroup::describe(&self.processes)
        )
    }
}

/// A signal the tool caught: which, and whether the terminal sent it (to
/// its whole foreground process group, the tool's).
#[derive(Debug, Clone, Copy)]
struct Caught {
    signal: i32,
    from_terminal: bool,
}

impl Caught {
    fn of(origin: &signal_hook::low_level::siginfo::Origin) -> Caught {
        Caught {
            signal: origin.signal,
            from_terminal: origin.cause == signal_hook::low_level::siginfo::Cause::Kernel,
        }
    }
}

/// The name of a caught signal, for messages.
fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".to_owned(),
        libc::SIGTERM => "SIGTERM".to_owned(),
        libc::SIGHUP => "SIGHUP".to_owned(),
        n => format!("signal {n}"),
    }
}

/// How a deadline stops the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Asked to end (SIGTERM).
    Term,
    /// The grace period is over: killed.
    Kill,
}

/// What a use does while its command runs.
pub(crate) trait Supervised {
    /// Runs on every tick (e.g. a live line, the runtime phase).
    fn tick(&mut self) {}

    /// Stops the workload when the deadline has passed; says what it did,
    /// in words for the user. `pid` is the child's, if still unreaped.
    fn stop(&mut self, session: &Session, pid: Option<u32>, how: Stop) -> String {
        stop_command(session, pid, how)
    }

    /// Tells the user something while the run goes on (that it waits for
    /// what the command left running). The use decides where it goes.
    fn say(&mut self, _text: &str) {}
}

/// How a native command is stopped at its deadline: SIGTERM to the command
/// (waiting for its tree: to every process of the run's cgroup, as
/// `timeout` signals a process group), then SIGKILL to everything in the
/// run's cgroup. Says what it did.
pub(crate) fn stop_command(session: &Session, pid: Option<u32>, how: Stop) -> String {
    match how {
        Stop::Term if session.until == Until::Tree => {
            let signalled = session.cgroup.signal_members(libc::SIGTERM, None);
            match pid {
                Some(_) => "sent SIGTERM to the command and every process it started".to_owned(),
                None => format!(
                    "sent SIGTERM to the {} process(es) the command left running: {}",
                    signalled.len(),
                    cgroup::describe(&signalled)
                ),
            }
        }
        Stop::Term => {
            process::send_signal(pid, libc::SIGTERM);
            "sent SIGTERM to the command".to_owned()
        }
        Stop::Kill if pid.is_none() => {
            let left = session.cgroup.members();
            match session.cgroup.kill_all() {
                Ok(()) => format!(
                    "what the command left running did not end within {} s of SIGTERM: killed \
                     it (SIGKILL): {}",
                    GRACE.as_secs(),
                    cgroup::describe(&left)
                ),
                Err(e) => e.to_string(),
            }
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
pub(crate) struct Session {
    cgroup: RunCgroup,
    signals: SignalsInfo<WithOrigin>,
    guardian: Guardian,
    /// Earlier runs this one cleaned up after.
    pub stale: Vec<StaleRun>,
    /// When the run being supervised ends.
    until: Until,
    /// What outlived the command (waiting for its tree).
    outlived: Option<Outlived>,
}

impl Session {
    /// Opens a run: signals are caught from before the cgroup exists (an
    /// interrupt can no longer kill the tool with the cgroup left behind),
    /// the guardian is started, earlier runs' leftovers are cleaned, and
    /// the cgroup is made and handed to the guardian.
    pub(crate) fn open(kind: Kind) -> Result<Session, SessionError> {
        let signals = process::catch_signals().map_err(SessionError::Signals)?;
        let mut guardian = Guardian::spawn().map_err(SessionError::Guardian)?;
        let stale = cgroup::remove_stale(guardian::is_guardian);
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
            until: Until::Command,
            outlived: None,
        })
    }

    /// The processes that outlived the command, if the run waited for any.
    pub(crate) fn outlived(&self) -> Option<&Outlived> {
        self.outlived.as_ref()
    }

    pub(crate) fn cgroup(&self) -> &RunCgroup {
        &self.cgroup
    }

    /// Hands the guardian one more duty.
    pub(crate) fn guard(&mut self, duty: &Duty) -> Result<(), SessionError> {
        self.guardian.watch(duty).map_err(SessionError::Guardian)
    }

    /// Fails if a signal came while setting up: the command must not start.
    pub(crate) fn check_interrupted(&mut self) -> Result<(), SessionError> {
        match self.signals.next().now_or_never() {
            Some(Some(origin)) => Err(SessionError::Interrupted(origin.signal)),
            _ => Ok(()),
        }
    }

    /// Supervises `child` until it exits and, with [`Until::Tree`], until
    /// every process of the cgroup has ended; returns the child's exit
    /// status as a shell reports it. Signals sent to the tool are passed
    /// on; past `deadline` the workload is stopped through `use_`, once
    /// with [`Stop::Term`] and, [`GRACE`] later, once with [`Stop::Kill`];
    /// what that did is pushed onto `notes`.
    ///
    /// When the command exits and others of its tree still run, the wait
    /// for them is said once through [`Supervised::say`], and they are
    /// named ([`Session::outlived`]). A signal during that wait (or one
    /// that came before the command exited) is passed on to them (but not
    /// to those the terminal already signalled), and what still runs
    /// [`GRACE`] later is killed; a second signal kills it at once.
    pub(crate) async fn supervise(
        &mut self,
        child: &mut tokio::process::Child,
        deadline: Option<tokio::time::Instant>,
        tick: Option<Duration>,
        until: Until,
        use_: &mut dyn Supervised,
        notes: &mut Vec<String>,
    ) -> Result<i32, SessionError> {
        self.until = until;
        let mut ticks = tokio::time::interval(tick.unwrap_or(Duration::from_secs(3600)));
        let mut next_stop = deadline;
        let mut stops = [Stop::Term, Stop::Kill].into_iter();
        let mut caught = None;
        let code = loop {
            let pid = child.id();
            tokio::select! {
                status = child.wait() => {
                    let status = status.map_err(SessionError::Wait)?;
                    break process::shell_exit_code(status);
                }
                Some(origin) = self.signals.next() => {
                    process::forward_signal(&origin, pid);
                    caught = Some(Caught::of(&origin));
                }
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
        };
        if until == Until::Command {
            return Ok(code);
        }
        let outlived = self.cgroup.members();
        if outlived.is_empty() {
            return Ok(code);
        }
        use_.say(&format!(
            "the command exited; {} process(es) of its tree still run: {}; waiting for them to \
             end ({}; --until command would not wait)",
            outlived.len(),
            cgroup::describe(&outlived),
            match deadline {
                Some(_) => "Ctrl-C or the --duration ends the wait",
                None => "Ctrl-C ends the wait, --duration bounds it",
            }
        ));
        self.outlived = Some(Outlived {
            processes: outlived,
            stopped: false,
        });
        // After a signal: the kill, then how long the killed get to go.
        let mut kill_at = None;
        let mut killed = false;
        if let Some(caught) = caught {
            use_.say(&self.pass_on(caught));
            kill_at = Some(tokio::time::Instant::now() + GRACE);
        }
        let mut poll = tokio::time::interval(TREE_POLL);
        let mut polls: u32 = 0;
        loop {
            tokio::select! {
                _ = poll.tick() => {
                    if !self.cgroup.populated() {
                        break;
                    }
                    // Named by what they run, once a second: a forked
                    // shell soon runs a program.
                    polls = polls.wrapping_add(1);
                    if polls % RENAME_EVERY == 1
                        && let Some(outlived) = &mut self.outlived
                    {
                        self.cgroup.rename(&mut outlived.processes);
                    }
                }
                Some(origin) = self.signals.next() => {
                    let caught = Caught::of(&origin);
                    if kill_at.is_none() {
                        use_.say(&self.pass_on(caught));
                        kill_at = Some(tokio::time::Instant::now() + GRACE);
                    } else if !killed {
                        notes.push(self.kill_tree(&format!(
                            "a second {} came",
                            signal_name(caught.signal)
                        )));
                        killed = true;
                        kill_at = Some(tokio::time::Instant::now() + KILL_PATIENCE);
                    }
                }
                () = sleep_until(kill_at) => {
                    if killed {
                        break;
                    }
                    notes.push(self.kill_tree(&format!(
                        "they did not end within {} s of the signal",
                        GRACE.as_secs()
                    )));
                    killed = true;
                    kill_at = Some(tokio::time::Instant::now() + KILL_PATIENCE);
                }
                () = sleep_until(next_stop) => {
                    match stops.next() {
                        Some(how) => {
                            if let Some(outlived) = &mut self.outlived {
                                outlived.stopped = true;
                                self.cgroup.rename(&mut outlived.processes);
                            }
                            notes.push(use_.stop(self, None, how));
                            next_stop = Some(tokio::time::Instant::now() + GRACE);
                            if how == Stop::Kill {
                                killed = true;
                                kill_at = Some(tokio::time::Instant::now() + KILL_PATIENCE);
                            }
                        }
                        None => next_stop = None,
                    }
                }
                _ = ticks.tick(), if tick.is_some() => use_.tick(),
            }
        }
        Ok(code)
    }

    /// Passes a signal the tool caught on to what the command left
    /// running, except to the processes the terminal already signalled
    /// (those of the tool's own process group); says what it did.
    fn pass_on(&mut self, caught: Caught) -> String {
        // SAFETY: getpgrp(2) cannot fail and touches no memory.
        let own_group = caught.from_terminal.then(|| unsafe { libc::getpgrp() });
        if let Some(outlived) = &mut self.outlived {
            outlived.stopped = true;
            self.cgroup.rename(&mut outlived.processes);
        }
        let signalled = self.cgroup.signal_members(caught.signal, own_group);
        let name = signal_name(caught.signal);
        let passed = match (signalled.is_empty(), own_group.is_some()) {
            (true, true) => format!("the terminal sent {name} to them"),
            (true, false) => format!("{name} came"),
            (false, _) => format!("passed {name} on to {}", cgroup::describe(&signalled)),
        };
        format!(
            "{passed}; what still runs in {} s is killed (SIGKILL); a second signal kills it now",
            GRACE.as_secs()
        )
    }

    /// Kills what is left of the command's tree; says what it did.
    fn kill_tree(&mut self, why: &str) -> String {
        let left = self.cgroup.members();
        if let Some(outlived) = &mut self.outlived {
            outlived.stopped = true;
            self.cgroup.rename(&mut outlived.processes);
        }
        match self.cgroup.kill_all() {
            Ok(()) => format!(
                "{why}: killed what the command left running (SIGKILL): {}",
                cgroup::describe(&left)
            ),
            Err(e) => e.to_string(),
        }
    }

    /// Ends a native run: whatever the command left running is killed (and
    /// returned, named), the cgroup removed. The guardian is handed back,
    /// its cgroup duty done: see [`Session::close_after_engine`].
    pub(crate) fn close(self) -> (Result<Vec<Leftover>, CgroupError>, Guardian) {
        self.close_with(RunCgroup::remove)
    }

    /// Ends a container run: the engine gets `patience` to end and remove
    /// the container; what still runs then is killed. The guardian is
    /// handed back, not released: what the run made outside its cgroup (a
    /// container the engine keeps, with the recording profile) stays in
    /// its care until the caller has said what became of it.
    pub(crate) fn close_after_engine(
        self,
        patience: Duration,
    ) -> (Result<Vec<Leftover>, CgroupError>, Guardian) {
        self.close_with(|cgroup| cgroup.remove_after_engine(patience))
    }

    /// Ends a run whose container was kept running on request: the cgroup
    /// stays, marked so that later runs leave it alone, and the guardian,
    /// handed back, no longer kills it.
    pub(crate) fn close_keeping(self) -> (Result<(), CgroupError>, Guardian) {
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
pub(crate) fn said_of_close(result: Result<Vec<Leftover>, CgroupError>) -> Option<String> {
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
