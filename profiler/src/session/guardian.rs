//! The guardian: a small process that cleans up after a run whose tool was
//! killed with SIGKILL.
//!
//! Nothing runs in a process killed with SIGKILL, so the tool cannot clean
//! up after itself then: the command would go on unrecorded (or unwatched),
//! in a cgroup nothing removes, and a container could go on under the
//! recording profile, which allows every syscall. So every run starts a
//! guardian first: the tool's own binary again (`syscall-profile
//! __guardian`), in a session of its own (a terminal's Ctrl-C and a kill of
//! the tool's process group do not reach it), reading duties from a pipe.
//! When the tool ends normally it says `done` and the guardian exits; when
//! the pipe closes without it, the tool died, and the guardian does what the
//! tool would have: kills the command's cgroup, removes a container created
//! with the recording profile (or for a scan of an image), removes the
//! directory an image was exported into, and says so on the tool's standard
//! error. A duty the tool has done itself (a cgroup it removed) is
//! withdrawn; the run's guardian outlives its cgroup, so that a recorded
//! container the engine keeps is removed should the tool die before it has
//! said what became of it (one kept running on request is only named).
//!
//! If the guardian is killed too, the next run finds the stale cgroup and
//! cleans it (see [`super::cgroup::remove_stale`]).

use std::{
    ffi::OsString,
    io::{self, BufRead, Write},
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{ChildStdin, Command, Stdio},
    time::Duration,
};

use serde::{Deserialize, Serialize};

use crate::engine::Engine;

/// The hidden subcommand that runs the guardian.
pub(crate) const SUBCOMMAND: &str = "__guardian";

/// Whether process `pid` is a guardian (its command line holds
/// [`SUBCOMMAND`]).
pub(crate) fn is_guardian(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.split(|&b| b == 0).any(|w| w == SUBCOMMAND.as_bytes()))
}

/// After the first clean-up, how often and how long the guardian looks
/// again for containers the engine finished creating meanwhile (a `docker
/// create` takes well under a second; its request outlives the client).
const LATE_CONTAINER_LOOKS: u32 = 10;
const LATE_CONTAINER_INTERVAL: Duration = Duration::from_millis(500);

/// What the guardian does if the tool dies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Duty {
    /// Kill everything in this cgroup and remove it.
    Cgroup { path: PathBuf },
    /// Remove the containers of this engine that carry this label (they run
    /// under the recording profile, or were made to export an image).
    Containers {
        /// The engine's name ([`crate::engine::Engine::name`]).
        engine: String,
        cli: PathBuf,
        globals: Vec<OsString>,
        label: String,
        /// What they are, for the user: "created with the recording profile".
        what: String,
    },
    /// Remove this directory, which the tool made (e.g. an image's
    /// filesystem exported for a scan), with everything in it.
    Directory { path: PathBuf },
    /// Nothing to undo, but something to tell: a container left running on
    /// request (`--keep-running`) is named, since the tool cannot say so
    /// any more. Said as what the guardian did ("left … running").
    Announce { text: String },
    /// The tool did this duty itself, or it no longer applies (a cgroup kept
    /// on request): forget it.
    Withdraw { duty: Box<Duty> },
    /// The tool ended normally: nothing to do.
    Done,
}

impl Duty {
    /// The duty that takes `duty` back.
    pub(crate) fn withdraw(duty: &Duty) -> Duty {
        Duty::Withdraw {
            duty: Box::new(duty.clone()),
        }
    }
}

/// The tool's end of the guardian.
pub(crate) struct Guardian {
    pipe: Option<ChildStdin>,
    child: std::process::Child,
}

impl Guardian {
    /// Starts the guardian: this very binary, in a new session.
    pub(crate) fn spawn() -> io::Result<Guardian> {
        let mut cmd = Command::new("/proc/self/exe");
        cmd.arg(SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // SAFETY: setsid(2) is async-signal-safe and touches no memory.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let pipe = child.stdin.take();
        Ok(Guardian { pipe, child })
    }

    /// The guardian's pid.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Hands the guardian a duty for the case the tool dies.
    pub(crate) fn watch(&mut self, duty: &Duty) -> io::Result<()> {
        self.watch_all(std::slice::from_ref(duty))
    }

    /// Hands the guardian several duties at once: in one write, so that a
    /// tool killed meanwhile has handed over all of them or none (a pipe
    /// takes a write of up to `PIPE_BUF` bytes whole).
    pub(crate) fn watch_all(&mut self, duties: &[Duty]) -> io::Result<()> {
        let Some(pipe) = self.pipe.as_mut() else {
            return Ok(());
        };
        let mut lines = String::new();
        for duty in duties {
            lines.push_str(&serde_json::to_string(duty).map_err(io::Error::other)?);
            lines.push('\n');
        }
        pipe.write_all(lines.as_bytes())?;
        pipe.flush()
    }

    /// Takes back a duty handed over before (see [`Duty::Withdraw`]).
    pub(crate) fn withdraw(&mut self, duty: &Duty) -> io::Result<()> {
        self.watch(&Duty::withdraw(duty))
    }

    /// The tool cleaned up itself: the guardian can go.
    pub(crate) fn release(self) {
        drop(self);
    }
}

impl std::fmt::Debug for Guardian {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guardian")
            .field("pid", &self.child.id())
            .field("released", &self.pipe.is_none())
            .finish()
    }
}

impl Drop for Guardian {
    fn drop(&mut self) {
        // Released, or dropped on an early error return (the tool then
        // cleans up through its own destructors): either way the tool did
        // its own cleaning, and the guardian only has to go.
        if self.pipe.is_some() {
            let _ = self.watch(&Duty::Done);
            self.pipe = None;
            let _ = self.child.wait();
        }
    }
}

/// The guardian's body: collects duties until `done` (exit 0) or until the
/// pipe closes (the tool died: carry them out).
pub fn serve() -> i32 {
    // The guardian must outlive signals meant for the tool.
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
        // SAFETY: setting a signal's disposition to ignore has no
        // preconditions.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
    // SAFETY: getppid has no preconditions.
    let tool = unsafe { libc::getppid() };
    let mut duties = Vec::new();
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Duty>(&line) {
            Ok(Duty::Done) => return 0,
            Ok(Duty::Withdraw { duty }) => duties.retain(|d| *d != *duty),
            Ok(duty) => duties.push(duty),
            Err(_) => continue,
        }
    }
    if duties.is_empty() {
        return 0;
    }
    let mut said = Vec::new();
    // Containers first: removing them ends their processes through the
    // engine, which then also removes their cgroups.
    said.extend(remove_labelled_containers(&duties));
    for duty in &duties {
        if let Duty::Directory { path } = duty
            && path.exists()
        {
            said.push(match std::fs::remove_dir_all(path) {
                Ok(()) => format!("removed the directory {}", path.display()),
                Err(e) => format!("could not remove the directory {}: {e}", path.display()),
            });
        }
    }
    for duty in &duties {
        // One the tool removed just before it died is gone already.
        if let Duty::Cgroup { path } = duty
            && path.exists()
        {
            said.push(super::cgroup::kill_and_remove(path));
        }
    }
    said.extend(duties.iter().filter_map(|duty| match duty {
        Duty::Announce { text } => Some(text.clone()),
        _ => None,
    }));
    if said.is_empty() {
        said.push("found nothing left to clean up".to_owned());
    }
    let _ = writeln!(
        io::stderr().lock(),
        "syscall-profile: the tool (pid {tool}) ended without cleaning up; its guardian {}",
        said.join("; ")
    );
    // A container the engine was still creating when the tool died is not
    // listed yet; the engine finishes creating it even though its client is
    // gone. Look again for a while, and remove what appears.
    if duties.iter().any(|d| matches!(d, Duty::Containers { .. })) {
        let mut late = Vec::new();
        for _ in 0..LATE_CONTAINER_LOOKS {
            std::thread::sleep(LATE_CONTAINER_INTERVAL);
            late.extend(remove_labelled_containers(&duties));
        }
        if !late.is_empty() {
            let _ = writeln!(
                io::stderr().lock(),
                "syscall-profile: then, once the engine had finished creating it, the guardian {}",
                late.join("; ")
            );
        }
    }
    0
}

/// Removes the containers of every [`Duty::Containers`] of `duties`; what
/// it removed, for the user.
fn remove_labelled_containers(duties: &[Duty]) -> Vec<String> {
    duties
        .iter()
        .filter_map(|duty| match duty {
            Duty::Containers {
                engine,
                cli,
                globals,
                label,
                what,
            } => remove_containers(engine, cli, globals, label, what),
            _ => None,
        })
        .collect()
}

/// Removes (killing first) the containers that carry `label`.
fn remove_containers(
    engine: &str,
    cli: &PathBuf,
    globals: &[OsString],
    label: &str,
    what: &str,
) -> Option<String> {
    let engine = Engine::from_name(engine)?;
    let ids = run_with_timeout(
        Command::new(cli)
            .args(globals)
            .args(engine.list_labelled_args(label)),
    )?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return None;
    }
    for id in &ids {
        for args in engine.remove_args(id) {
            run_with_timeout(Command::new(cli).args(globals).args(args));
        }
    }
    Some(format!("removed the container(s) {} {what}", ids.join(" ")))
}

/// Runs an engine command with a time limit; its standard output, if it
/// succeeded.
fn run_with_timeout(cmd: &mut Command) -> Option<String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                if let Some(mut stdout) = child.stdout.take() {
                    let _ = io::Read::read_to_string(&mut stdout, &mut out);
                }
                return status.success().then_some(out);
            }
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}
