//! The recorded command: finding it, starting it inside the recording's
//! cgroup, and turning its end into an exit status the way shells do.

use signal_hook::{
    iterator::exfiltrator::WithOrigin,
    low_level::siginfo::{Cause, Origin},
};
use std::{
    ffi::{OsStr, OsString},
    fs::File,
    io,
    os::unix::{ffi::OsStrExt, fs::PermissionsExt, io::AsRawFd, process::ExitStatusExt},
    path::{Path, PathBuf},
    process::ExitStatus,
};

/// Exit status when the command could not be found (as in shells).
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit status when the command was found but cannot be executed.
pub const EXIT_NOT_EXECUTABLE: i32 = 126;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("command not found: {0} (check the name, or give its path)")]
    NotFound(String),
    #[error("cannot execute {0}: not an executable file (check its permissions)")]
    NotExecutable(String),
    #[error("cannot start {program}: {source}")]
    Spawn { program: String, source: io::Error },
}

impl CommandError {
    /// The exit status a shell would give for the same failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::NotFound(_) => EXIT_NOT_FOUND,
            CommandError::NotExecutable(_) | CommandError::Spawn { .. } => EXIT_NOT_EXECUTABLE,
        }
    }
}

/// Finds `program` the way `execvp` would (a name with a slash is a path,
/// anything else is looked up in `PATH`), so that a missing command is
/// reported before anything is traced, and so the child makes exactly one
/// `execve`, as a shell's child would.
pub fn resolve(program: &OsStr) -> Result<PathBuf, CommandError> {
    let shown = program.to_string_lossy().into_owned();
    if program.is_empty() {
        return Err(CommandError::NotFound(shown));
    }
    let candidates: Vec<PathBuf> = if program.as_bytes().contains(&b'/') {
        vec![PathBuf::from(program)]
    } else {
        let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .collect()
    };
    let mut found_not_executable = false;
    for candidate in candidates {
        match candidate.metadata() {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return Ok(candidate),
            Ok(_) => found_not_executable = true,
            Err(_) => {}
        }
    }
    if found_not_executable {
        Err(CommandError::NotExecutable(shown))
    } else {
        Err(CommandError::NotFound(shown))
    }
}

/// Builds the command so that the child moves itself into the cgroup whose
/// `cgroup.procs` is open as `procs`, as the very last step before `execve`:
/// everything from the `execve` on is inside, nothing of the recorder is.
pub fn command_in_cgroup(
    program: &Path,
    args: &[OsString],
    procs: &File,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    let fd = procs.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec and only calls
    // write(2), which is async-signal-safe. The standard library runs pre_exec
    // closures after its own set-up (stdio, signal mask), right before
    // execvp, so no other syscall of the child falls between the two.
    unsafe {
        cmd.pre_exec(move || {
            // Writing "0" to cgroup.procs moves the writing process.
            if libc::write(fd, b"0".as_ptr().cast(), 1) == 1 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        });
    }
    cmd.kill_on_drop(true);
    cmd
}

/// The signals the recorder and the enforcer catch and pass on.
pub const FORWARDED_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Catches [`FORWARDED_SIGNALS`], with where each came from.
pub fn catch_signals() -> io::Result<signal_hook_tokio::SignalsInfo<WithOrigin>> {
    signal_hook_tokio::SignalsInfo::<WithOrigin>::new(FORWARDED_SIGNALS)
}

/// Passes a caught signal on to the child `pid` (not yet reaped), unless it
/// came from the terminal: Ctrl-C goes to the whole foreground process
/// group, the child included, and sending it again would deliver it twice.
pub fn forward_signal(origin: &Origin, pid: Option<u32>) {
    if origin.cause == Cause::Kernel {
        return;
    }
    if let Some(pid) = pid.and_then(|p| libc::pid_t::try_from(p).ok()) {
        // SAFETY: kill(2) on our own child, which only we reap.
        unsafe { libc::kill(pid, origin.signal) };
    }
}

/// The exit status a shell would report for `status`: the exit code, or 128
/// plus the number of the signal that killed the process.
pub fn shell_exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_through_path() {
        let path = resolve(OsStr::new("sh")).unwrap();
        assert!(path.is_absolute());
        assert!(path.ends_with("sh"));
    }

    #[test]
    fn missing_command_is_127() {
        let err = resolve(OsStr::new("no-such-command-4711")).unwrap_err();
        assert_eq!(err.exit_code(), 127);
        assert!(err.to_string().contains("no-such-command-4711"));
    }

    #[test]
    fn non_executable_file_is_126() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = resolve(file.path().as_os_str()).unwrap_err();
        assert_eq!(err.exit_code(), 126);
    }

    #[test]
    fn signal_deaths_map_to_128_plus_signal() {
        assert_eq!(shell_exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(shell_exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(shell_exit_code(ExitStatus::from_raw(libc::SIGKILL)), 137);
    }
}
