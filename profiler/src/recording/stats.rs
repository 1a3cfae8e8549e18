//! The per-syscall counts of a recording, as JSON (`--stats FILE`).

use serde::{Deserialize, Serialize};

/// Version tag of the stats format; bumped on any incompatible change.
pub const STATS_SCHEMA: &str = "syscall-profile/stats/v1";

/// What `--stats` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub schema: String,
    /// The recorded command and its arguments.
    pub command: Vec<String>,
    /// The host's architecture (`x86_64`, `aarch64`).
    pub arch: String,
    /// The command's exit status, as a shell reports it.
    pub exit_code: i32,
    /// Wall time from the start of the command to its end.
    pub duration_ms: u64,
    /// Every syscall entry counted, including out-of-range numbers.
    pub total_calls: u64,
    /// Counts by syscall, sorted by name, then architecture. For a container:
    /// the workload's, from the entrypoint's `execve` on.
    pub syscalls: Vec<SyscallCount>,
    /// For a container: the runtime's, after it installed the seccomp filter
    /// and up to the entrypoint's `execve` (empty for a native command).
    #[serde(default)]
    pub runtime_syscalls: Vec<SyscallCount>,
    /// Numbers inside the table's range that the table has no name for.
    pub unknown: Vec<NumberCount>,
    /// Numbers outside the table's range (negative, x32, or past its end).
    pub out_of_range: OutOfRange,
    /// Syscalls the profile holds although they were not observed, because
    /// the kernel or the program's runtime makes them by timing (`name`,
    /// `reason`, and for a runtime's rule `runtime` and `executable`).
    #[serde(default)]
    pub implied: Vec<crate::implied::Added>,
    /// What the recorded programs can reach, against what the run made
    /// (native commands; absent with `--no-coverage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<crate::coverage::Coverage>,
    /// With `--include reachable`: the reachable syscalls Docker's default
    /// allows that the profile holds although the run did not make them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_reachable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallCount {
    pub name: String,
    /// The table the number belongs to (`x86_64`, or `i386` for 32-bit tasks).
    pub arch: String,
    pub nr: u64,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberCount {
    pub arch: String,
    pub nr: i64,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfRange {
    /// Exact total of such calls.
    pub total: u64,
    /// The same by number, as far as the kernel side could keep them apart.
    pub numbers: Vec<NumberCount>,
    /// Calls the kernel counted in `total` but had no room to split by number.
    pub unattributed: u64,
}
