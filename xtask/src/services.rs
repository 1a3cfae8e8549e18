//! Processes that run in the background while something else is measured or
//! tested, and are stopped when their guard goes, on success and on failure.

use std::{
    process::{Child, Command, ExitStatus},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};

use crate::workspace::{Workspace, display};

/// How long a stopped process gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(10);

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped.
pub struct BackgroundProcess {
    name: String,
    child: Child,
    finished: Option<ExitStatus>,
}

impl BackgroundProcess {
    pub fn spawn(name: impl Into<String>, cmd: &mut Command) -> Result<Self> {
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start `{}`", display(cmd)))?;
        Ok(Self {
            name: name.into(),
            child,
            finished: None,
        })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the process has ended.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.finished.is_none() {
            self.finished = self
                .child
                .try_wait()
                .with_context(|| format!("cannot check on {}", self.name))?;
        }
        Ok(self.finished)
    }

    /// Sends SIGTERM, waits up to [`GRACE`] for the process to end, then
    /// kills it. Returns how it ended.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        let pid = libc::pid_t::try_from(self.child.id())
            .with_context(|| format!("pid of {} out of range", self.name))?;
        // SAFETY: kill(2) on our own child, not yet reaped (only we wait for it).
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "xtask: {} did not end within {GRACE:?} of SIGTERM; killing it",
            self.name
        );
        self.child
            .kill()
            .with_context(|| format!("cannot kill {}", self.name))?;
        let status = self
            .child
            .wait()
            .with_context(|| format!("cannot wait for {}", self.name))?;
        self.finished = Some(status);
        Ok(status)
    }
}

impl Drop for BackgroundProcess {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("xtask: error: stopping {}: {e:#}", self.name);
        }
    }
}

/// The services the integration tests need, running for as long as this
/// guard lives; dropping it stops them, newest first, also when the tests
/// failed or xtask is unwinding with an error.
pub struct Services {
    running: Vec<BackgroundProcess>,
}

impl Services {
    /// Starts the services the tests need. None yet: a dockerd for the
    /// container tests will be started here.
    pub fn start(_ws: &Workspace) -> Result<Self> {
        Ok(Self {
            running: Vec::new(),
        })
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        while let Some(service) = self.running.pop() {
            eprintln!("xtask: stopping {}", service.name);
            drop(service);
        }
    }
}
