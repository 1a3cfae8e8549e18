//! syscall-profile: learns the least privilege a program or container needs
//! at the kernel boundary.
//!
//! - [`recording`]: runs a command in a fresh cgroup with an eBPF program
//!   counting its syscalls in the kernel, and makes a profile of them.
//! - [`arguments`]: the syscalls whose arguments carry privilege, captured
//!   by the kernel side and learned as argument conditions.
//! - [`profile`]: seccomp profiles in Docker's format, and the syscall tables.
//! - [`engine`]: Docker and podman command lines and queries.
//! - [`enforcing`]: running a container under a profile.
//! - [`baseline`]: Docker's default profile as data, evaluated as Docker does.
//! - [`diffing`]: a profile compared with a baseline (`diff`).
//! - [`coverage`]: a recording set against what its programs can reach
//!   ([`scan`]).
//! - [`gating`]: the CI gate, a run checked against a policy (`check`).
//! - [`implied`]: syscalls the kernel and language runtimes make by timing,
//!   added to a learned profile when their trigger was seen.
//! - [`merging`]: the union of several profiles (`merge`).
//! - [`cli`]: the command line, a file per subcommand; [`exit`]: its
//!   exit statuses.
//! - [`output`]: result files, checked before the work and written atomically;
//!   [`input`]: every file the tool reads, opened as data.
//! - [`session`]: a supervised run of a command in a watched cgroup, which
//!   `record`, `enforce` and `check` share.

pub mod arguments;
pub mod baseline;
pub mod choice;
pub mod cli;
pub mod coverage;
pub mod diffing;
pub mod enforcing;
pub mod engine;
pub mod exit;
pub mod export;
pub mod gating;
pub mod implied;
pub mod input;
pub mod merging;
pub mod notice;
pub mod output;
pub mod profile;
pub mod recording;
pub mod scan;
pub mod session;
pub mod text;
