//! `syscall-profile enforce`: runs a container under a profile, and says
//! what to do when it fails under it.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use futures_util::StreamExt;
use signal_hook::{
    consts::{SIGHUP, SIGINT, SIGTERM},
    iterator::exfiltrator::WithOrigin,
    low_level::siginfo::Cause,
};
use signal_hook_tokio::SignalsInfo;

use crate::{
    engine::{ContainerRun, EngineError, EngineRun},
    profile::{Profile, ProfileError},
    recording::command,
};

/// Exit status of `enforce` when it fails itself, before the command ran.
pub const EXIT_ENFORCER_FAILED: i32 = 125;

#[derive(Debug, thiserror::Error)]
pub enum EnforceError {
    #[error(
        "no command to run: give it after `--`, e.g. `syscall-profile enforce --profile app.json -- docker run IMAGE`"
    )]
    NoCommand,
    #[error(
        "enforce runs containers for now (`docker run ...`, `podman run ...`); a native \
         command cannot be enforced yet"
    )]
    NotAContainer,
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("cannot resolve the profile's path {path}: {source}")]
    ProfilePath {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot watch for signals: {0}")]
    Signals(std::io::Error),
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("lost track of the command: {0}")]
    Wait(std::io::Error),
}

/// What `enforce` did.
#[derive(Debug)]
pub struct Enforcement {
    /// The container's exit status, as the engine's CLI gave it.
    pub exit_code: i32,
    /// Things said before the run (replaced options).
    pub warnings: Vec<String>,
    /// Where to look when the container failed under the profile.
    pub hint: Option<String>,
}

/// Runs `command` (a container run) under the profile at `profile_path`.
pub async fn enforce(
    profile_path: &Path,
    command: &[OsString],
    quiet: bool,
) -> Result<Enforcement, EnforceError> {
    if command.is_empty() {
        return Err(EnforceError::NoCommand);
    }
    let run = ContainerRun::parse(command).ok_or(EnforceError::NotAContainer)?;
    // The engine gets the file as it is; reading it here first means a
    // malformed profile is reported by this tool, before anything runs.
    Profile::from_file(profile_path)?;
    let absolute =
        std::path::absolute(profile_path).map_err(|source| EnforceError::ProfilePath {
            path: profile_path.to_owned(),
            source,
        })?;
    let engine_run = EngineRun::prepare(run)?;
    let run = &engine_run.run;
    if run.privileged() {
        return Err(EngineError::Privileged.into());
    }

    let mut warnings = Vec::new();
    for option in run.seccomp_options() {
        warnings.push(format!(
            "your `--security-opt {}` is replaced by the profile {}",
            option.value.as_deref().unwrap_or_default(),
            profile_path.display()
        ));
    }
    let seccomp = format!("seccomp={}", absolute.display());
    let argv = run.rewritten(&["--security-opt".into(), seccomp.into()]);
    for warning in &warnings {
        eprintln!("syscall-profile: warning: {warning}");
    }
    if !quiet {
        eprintln!(
            "syscall-profile: running the container under {}",
            profile_path.display()
        );
    }

    let mut signals =
        SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP]).map_err(EnforceError::Signals)?;
    let mut child = tokio::process::Command::new(&engine_run.cli)
        .args(&argv[1..])
        .spawn()
        .map_err(|source| EnforceError::Spawn {
            program: engine_run.cli.display().to_string(),
            source,
        })?;
    let status = loop {
        let pid = child.id();
        tokio::select! {
            status = child.wait() => break status.map_err(EnforceError::Wait)?,
            Some(origin) = signals.next() => {
                // As in `record`: a terminal's Ctrl-C already reached the CLI.
                if origin.cause != Cause::Kernel && let Some(pid) = pid {
                    // SAFETY: kill(2) on our own child, not yet reaped.
                    unsafe { libc::kill(pid as libc::pid_t, origin.signal) };
                }
            }
        }
    };
    let exit_code = command::shell_exit_code(status);
    let hint = (exit_code != 0).then(|| {
        format!(
            "the container exited with status {exit_code} under {}. If a syscall it needs \
             was denied (\"Operation not permitted\" in its output, or the runtime failing to \
             start it), record the code path that failed — `syscall-profile record -o new.json \
             -- {} ...` with the same options — and merge the new profile into this one",
            profile_path.display(),
            run.engine.name()
        )
    });
    Ok(Enforcement {
        exit_code,
        warnings,
        hint,
    })
}
