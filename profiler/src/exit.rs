//! The exit statuses of every subcommand, written once. `--help` of each
//! subcommand and the README say which it uses.

/// Success; for `check`, every observed syscall is allowed.
pub(crate) const SUCCESS: i32 = 0;
/// `check`: the run used syscalls outside the policy (or, with `--strict`,
/// did not use some it allows).
pub(crate) const OUTSIDE_POLICY: i32 = 1;
/// `doctor`: something `record` or `enforce` of a native command needs is
/// missing here.
pub(crate) const NOT_READY: i32 = 1;
/// A usage error; for `diff`, `merge` and `check` also an unreadable or
/// invalid profile, an output that cannot be written, a failed recording.
pub(crate) const USAGE: i32 = 2;
/// `check`: the policy check passed, but the recorded command failed.
pub(crate) const COMMAND_FAILED: i32 = 3;
/// `record` and `enforce`: the tool itself failed (as `docker run` uses 125
/// for its own failures), or its watch was incomplete.
pub(crate) const TOOL_FAILED: i32 = 125;
/// The command was found but cannot be executed (as shells say).
pub(crate) const NOT_EXECUTABLE: i32 = 126;
/// The command was not found (as shells say).
pub(crate) const NOT_FOUND: i32 = 127;

/// The status of a process killed by `signal`, as shells report it.
pub(crate) fn after_signal(signal: i32) -> i32 {
    128 + signal
}
