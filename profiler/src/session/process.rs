//! The command of a run: finding it, starting it inside the run's cgroup
//! (as another user, on request), passing signals on, and turning its end
//! into an exit status the way shells do.

use crate::exit;
use signal_hook::{
    iterator::exfiltrator::WithOrigin,
    low_level::siginfo::{Cause, Origin},
};
use std::{
    ffi::{OsStr, OsString},
    fs::File,
    io,
    os::unix::{io::AsRawFd, process::ExitStatusExt},
    path::{Path, PathBuf},
    process::ExitStatus,
};

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
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            CommandError::NotFound(_) => exit::NOT_FOUND,
            CommandError::NotExecutable(_) | CommandError::Spawn { .. } => exit::NOT_EXECUTABLE,
        }
    }
}

/// Finds `program` the way `execvp` would (a name with a slash is a path,
/// anything else is looked up in `PATH`), so that a missing command is
/// reported before anything is traced, and so the child makes exactly one
/// `execve`, as a shell's child would.
pub(crate) fn resolve(program: &OsStr) -> Result<PathBuf, CommandError> {
    crate::program::find(program).map_err(|missing| match missing {
        crate::program::Missing::NotFound(name) => CommandError::NotFound(name),
        crate::program::Missing::NotExecutable(name) => CommandError::NotExecutable(name),
    })
}

/// Builds the command so that the child moves itself into the cgroup whose
/// `cgroup.procs` is open as `procs`, as the very last step before `execve`:
/// everything from the `execve` on is inside, nothing of the tool is.
///
/// Before that, in the child: the user's identity is taken on (`--user`),
/// so the command runs as that user from its first instruction and the
/// switch itself is not recorded; and the parent-death signal is set, so
/// the command does not outlive a tool killed with SIGKILL (the guardian
/// then kills the rest of its tree). The cgroup file was opened by the
/// tool as root, and the kernel checks a migration against the opener's
/// credentials, so the move works after the switch too.
pub(crate) fn command_in_cgroup(
    program: &Path,
    args: &[OsString],
    procs: &File,
    user: Option<&RunAs>,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    if let Some(user) = user {
        cmd.env("HOME", &user.home)
            .env("USER", &user.name)
            .env("LOGNAME", &user.name);
        let (uid, gid, groups) = (user.uid, user.gid, user.groups.clone());
        // SAFETY: setgroups, setresgid and setresuid are async-signal-safe
        // syscalls; the group list was allocated before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                    || libc::setresgid(gid, gid, gid) != 0
                    || libc::setresuid(uid, uid, uid) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    // SAFETY: getpid is async-signal-safe; read before the fork.
    let tool = unsafe { libc::getpid() };
    let fd = procs.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec and only
    // calls prctl(2), getppid(2) and write(2), which are async-signal-safe.
    // The standard library runs pre_exec closures after its own set-up
    // (stdio, signal mask) and in the order they were added, right before
    // execvp, so no other syscall of the child falls between the move and
    // the execve.
    unsafe {
        cmd.pre_exec(move || {
            // Set after the identity switch, which would clear it.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The tool may have died before the signal was armed.
            if libc::getppid() != tool {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
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

/// The user a command runs as (`--user USER[:GROUP]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// Supplementary groups: the user's own (as login would set them), or
    /// just GROUP when one is given.
    pub groups: Vec<libc::gid_t>,
    pub home: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum UserError {
    #[cfg_attr(
        not(target_feature = "crt-static"),
        error(
            "--user {0}: no such user on this host (see /etc/passwd; a number is taken as a uid)"
        )
    )]
    #[cfg_attr(
        target_feature = "crt-static",
        error(
            "--user {0}: no such user in /etc/passwd, the only user database this static build \
             reads (a number is taken as a uid)"
        )
    )]
    NoUser(String),
    #[cfg_attr(
        not(target_feature = "crt-static"),
        error(
            "--user {0}: no such group on this host (see /etc/group; a number is taken as a gid)"
        )
    )]
    #[cfg_attr(
        target_feature = "crt-static",
        error(
            "--user {0}: no such group in /etc/group, the only group database this static build \
             reads (a number is taken as a gid)"
        )
    )]
    NoGroup(String),
    #[error("--user {given}: cannot look it up: {source}")]
    Lookup { given: String, source: nix::Error },
}

impl RunAs {
    /// Parses `USER[:GROUP]` (names or numbers) against this host's user
    /// and group databases.
    pub(crate) fn parse(given: &str) -> Result<RunAs, UserError> {
        use super::users;
        let (user_part, group_part) = match given.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (given, None),
        };
        let lookup = |source| UserError::Lookup {
            given: given.to_owned(),
            source,
        };
        let user = match user_part.parse::<u32>() {
            Ok(uid) => users::user_by_uid(uid).map_err(lookup)?,
            Err(_) => users::user_by_name(user_part).map_err(lookup)?,
        };
        let (name, uid, mut gid, home) = match (user, user_part.parse::<u32>()) {
            (Some(u), _) => (u.name, u.uid, u.gid, u.home),
            // A numeric uid without an entry runs as that uid, as
            // `docker run --user` does.
            (None, Ok(uid)) => (uid.to_string(), uid, uid, PathBuf::from("/")),
            (None, Err(_)) => return Err(UserError::NoUser(user_part.to_owned())),
        };
        let groups = match group_part {
            Some(group) => {
                gid = match group.parse::<u32>() {
                    Ok(gid) => gid,
                    Err(_) => users::group_by_name(group)
                        .map_err(lookup)?
                        .ok_or_else(|| UserError::NoGroup(group.to_owned()))?,
                };
                vec![gid]
            }
            None => users::groups_of(&name, gid),
        };
        Ok(RunAs {
            name,
            uid,
            gid,
            groups,
            home,
        })
    }
}

/// The signals the tool catches and passes on.
pub(crate) const FORWARDED_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Catches [`FORWARDED_SIGNALS`], with where each came from.
pub(crate) fn catch_signals() -> io::Result<signal_hook_tokio::SignalsInfo<WithOrigin>> {
    signal_hook_tokio::SignalsInfo::<WithOrigin>::new(FORWARDED_SIGNALS)
}

/// Passes a caught signal on to the child `pid` (not yet reaped), unless it
/// came from the terminal: Ctrl-C goes to the whole foreground process
/// group, the child included, and sending it again would deliver it twice.
pub(crate) fn forward_signal(origin: &Origin, pid: Option<u32>) {
    if origin.cause == Cause::Kernel {
        return;
    }
    if let Some(pid) = pid.and_then(|p| libc::pid_t::try_from(p).ok()) {
        // SAFETY: kill(2) on our own child, which only we reap.
        unsafe { libc::kill(pid, origin.signal) };
    }
}

/// Sends `signal` to the child `pid` (not yet reaped), if there is one.
pub(crate) fn send_signal(pid: Option<u32>, signal: i32) {
    if let Some(pid) = pid.and_then(|p| libc::pid_t::try_from(p).ok()) {
        // SAFETY: kill(2) on our own child, which only we reap.
        unsafe { libc::kill(pid, signal) };
    }
}

/// The exit status a shell would report for `status`: the exit code, or 128
/// plus the number of the signal that killed the process.
pub(crate) fn shell_exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => exit::after_signal(signal),
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

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
