//! syscall-profile: learns the least privilege a program or container needs
//! at the kernel boundary.
//!
//! - [`record`]: runs a command in a fresh cgroup with an eBPF program
//!   counting its syscalls in the kernel, and makes a profile of them.
//! - [`syscall_args`]: the syscalls whose arguments carry privilege,
//!   captured by the kernel side and learned as argument conditions.
//! - [`profile`]: seccomp profiles in Docker's format, and the syscall tables.
//! - [`engine`]: Docker and podman command lines and queries.
//! - [`enforce`]: running a command or a container under a profile;
//!   [`filter`]: a profile compiled to a seccomp filter (which learning
//!   argument rules checks its candidates with too).
//! - [`baseline`]: Docker's default profile as data, evaluated as Docker does.
//! - [`diff`]: a profile compared with a baseline (`diff`).
//! - [`coverage`]: a recording set against what its programs can reach
//!   ([`scan`]).
//! - [`check`]: the CI gate, a run checked against a policy (`check`).
//! - [`judge`]: a run judged against a policy, live and at its end
//!   (`enforce --complain`, `check -- CMD`), and denials in one vocabulary.
//! - `learn`: what a profile lacks, from the kernel's seccomp log of
//!   workloads run under its complain form (`learn --from-log`).
//! - [`implied`]: syscalls the kernel and language runtimes make by timing,
//!   added to a learned profile when their trigger was seen.
//! - [`merge`]: the union of several profiles (`merge`).
//! - `doctor`: what works on this host and why not, as a report of checks.
//! - [`cli`]: the command line, a file per subcommand; [`exit`]: its
//!   exit statuses.
//! - [`output`]: result files, checked before the work and written atomically;
//!   [`input`]: every file the tool reads, opened as data.
//! - [`session`]: a supervised run of a command in a watched cgroup, which
//!   `record`, `enforce` and `check` share.

//!
//! Everything is `pub(crate)` unless the binary, the integration tests or
//! the fuzz targets use it (`unreachable_pub` keeps it so); a module is
//! public for them only:

#![warn(unreachable_pub)]

/// The engines' defaults: the tests compare them with the engines and
/// with upstream's files; the fuzz target evaluates profiles with them.
mod agent;
pub mod baseline;
mod check;
mod choice;
/// The command line, which `main.rs` runs.
pub mod cli;
mod coverage;
/// `diff`, which the fuzz target runs on any profile.
pub mod diff;
mod doctor;
mod enforce;
/// The engines' names, for the tests of learned arguments.
pub mod engine;
mod exit;
/// The OCI object, which the fuzz target writes into any `config.json`.
pub mod export;
mod filter;
/// The implied syscalls' rules, which the tests check against the kernel.
pub mod implied;
/// Input limits, which the fuzz target reads images with.
pub mod input;
mod judge;
mod learn;
/// `merge`, which the fuzz target runs on any profile.
pub mod merge;
mod notice;
mod output;
/// Profiles and the syscall tables: the tests and every fuzz target.
pub mod profile;
mod program;
/// The stats format, which the fuzz target reads back.
pub mod record;
/// The scan of an object, an image and a cache entry: the fuzz targets.
pub mod scan;
/// The guardian, which `main.rs` runs as its own process.
pub mod session;
mod syscall_args;
mod text;

/// The build script's decision about the eBPF object, checked by the
/// unit tests (build.rs includes the same file).
#[cfg(test)]
#[path = "../build/plan.rs"]
mod build_plan;
