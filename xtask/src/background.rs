//! A build started beside the tests at the lowest CPU priority, so that it
//! takes what the tests leave of the cores (they wait on engines and
//! workloads much of the time) rather than adding its minutes after them.
//! Once it is needed, [`Background::wait`] gives it the normal priority
//! back: on a machine busy with other work, the lowest priority would
//! starve it. In a process group of its own (cargo and its compilers),
//! killed whole if dropped before it is waited for. Its output goes to a
//! log file, shown only if it fails.

use std::{
    ffi::OsStr,
    fs::File,
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::workspace;

pub struct Background {
    child: Option<Child>,
    log: PathBuf,
    what: String,
}

/// `nice -n 19 PROGRAM`: a command at the lowest CPU priority.
pub fn niced(program: impl AsRef<OsStr>) -> Command {
    let mut nice = Command::new("nice");
    nice.args(["-n", "19"]).arg(program);
    nice
}

impl Background {
    /// Starts `cmd` (made with [`niced`]), its output to `log`; `what` names
    /// it in what is said.
    pub fn spawn(mut cmd: Command, log: PathBuf, what: &str) -> Result<Background> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot make {}", dir.display()))?;
        }
        let file = File::create(&log).with_context(|| format!("cannot write {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone().context("cannot share the build's log")?)
            .stderr(file);
        eprintln!(
            "xtask: {what}: started beside the tests, at the lowest priority (log: {})",
            log.display()
        );
        let child = cmd
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot run `{}`", workspace::display(&cmd)))?;
        Ok(Background {
            child: Some(child),
            log,
            what: what.to_owned(),
        })
    }

    /// Waits for the build, at the normal priority from now; fails with its
    /// log if it failed.
    pub fn wait(mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let what = &self.what;
        if child.try_wait().ok().flatten().is_none() {
            let group = child.id() as libc::id_t;
            // SAFETY: setpriority(2) on the build's own process group; it
            // may fail (not permitted), and the build then goes on as it was.
            let raised = unsafe { libc::setpriority(libc::PRIO_PGRP, group, 0) } == 0;
            eprintln!(
                "xtask: {what}: needed now; {}",
                if raised {
                    "it goes on at the normal priority"
                } else {
                    "waiting for it (its priority could not be raised)"
                }
            );
        }
        let status = child
            .wait()
            .with_context(|| format!("waiting for {what}"))?;
        if !status.success() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            bail!("{what} failed ({status}):\n{log}");
        }
        Ok(())
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // SAFETY: kill(2) on the build's own process group (its leader
            // not yet reaped, so the group id is not reused).
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.wait();
        }
    }
}
