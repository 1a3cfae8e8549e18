//! The command line: one file per subcommand, each going the same way:
//! arguments (clap) → the capability's options → its run → what the user
//! sees. What they share is here: the parsers of shared argument kinds, the
//! terminal helpers, and the one error type that every subcommand's failure
//! becomes, which knows its exit status (see [`crate::exit`]).

pub mod agent;
mod assets;
pub mod check;
mod choices;
pub mod diff;
pub mod doctor;
pub mod enforce;
pub mod export;
pub mod learn;
mod live;
pub mod merge;
pub mod record;
pub mod scan;

use std::{io::IsTerminal, time::Duration};

use clap::{Parser, Subcommand};

use crate::{
    check::CheckError,
    diff::DiffError,
    enforce::EnforceError,
    exit,
    learn::LearnError,
    merge::MergeError,
    record::RecordError,
    session::{guardian, process::RunAs},
};

/// `--version`: the version, the commit built (`unknown` where it was
/// built without git) and the SHA-256 of the eBPF object it embeds.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SYSCALL_PROFILE_GIT_COMMIT"),
    ", eBPF object sha256 ",
    env!("SYSCALL_PROFILE_EBPF_SHA256"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "syscall-profile",
    version = VERSION,
    about = "Learn the least privilege a program or container needs at the kernel boundary",
    after_long_help = "\
Examples:
  syscall-profile doctor
  syscall-profile record -o app.json -- ./app --serve
  syscall-profile enforce --profile app.json -- ./app --serve
  syscall-profile diff app.json

Exit status: each subcommand's `--help` ends with its own; 2 for a usage error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a command and write the minimal seccomp profile of what it did.
    Record(record::RecordArgs),
    /// Run a command or container under a profile; explain each denial.
    ///
    /// The command is a native program or an engine's run (`-- docker run
    /// ...`, `-- podman run ...`, `-- ctr run ...`).
    Enforce(enforce::EnforceArgs),
    /// Compare a profile with an engine's default, or two profiles.
    ///
    /// The default is Docker's, or --baseline ENGINE|FILE.
    Diff(diff::DiffArgs),
    /// Merge profiles into one that allows what any of them allows.
    Merge(merge::MergeArgs),
    /// The CI gate: check a run against a policy.
    ///
    /// The run is `--observed FILE`, or a command recorded now (`-- CMD...`).
    Check(check::CheckArgs),
    /// The syscalls a program can reach: its code and its libraries'.
    Scan(scan::ScanArgs),
    /// Write a profile for podman, OCI, Kubernetes or systemd.
    ///
    /// podman, an OCI bundle (runc, crun), Kubernetes (the Security
    /// Profiles Operator, or a Localhost profile), systemd.
    Export(export::ExportArgs),
    /// What a profile lacks, from the kernel's seccomp log.
    ///
    /// The log of workloads run under its complain form (`export
    /// --complain`).
    Learn(learn::LearnArgs),
    /// Record every container of the node, one profile per workload.
    ///
    /// Replicas are folded into one profile; it runs until a signal or
    /// --duration.
    Agent(agent::AgentArgs),
    /// What works on this host, and why not.
    ///
    /// The kernel and its BTF, cgroups, privileges, tracefs, the counting
    /// program, the seccomp listener, the engines, systemd.
    Doctor(doctor::DoctorArgs),
    /// (internal) The guardian that cleans up should the tool be killed.
    #[command(name = guardian::SUBCOMMAND, hide = true)]
    Guardian,
    /// (internal) Writes the shell completions and man pages a release
    /// ships into DIR (`cargo xtask dist`).
    #[command(name = assets::SUBCOMMAND, hide = true)]
    DistAssets {
        /// Where `completions/` and `man/man1/` are written.
        dir: std::path::PathBuf,
    },
}

/// `__dist-assets DIR`: the completions and man pages of a release.
pub fn dist_assets(dir: &std::path::Path) -> Result<i32, Error> {
    assets::write(dir).map_err(|e| {
        Error::Usage(format!(
            "cannot write completions and man pages into {}: {e}",
            dir.display()
        ))
    })?;
    Ok(0)
}

/// Why a subcommand failed; each knows its exit status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Enforce(#[from] EnforceError),
    #[error(transparent)]
    Diff(#[from] DiffError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error(transparent)]
    Scan(#[from] scan::ScanCliError),
    #[error(transparent)]
    Export(#[from] export::ExportCliError),
    #[error(transparent)]
    Learn(#[from] LearnError),
    #[error(transparent)]
    Agent(crate::agent::AgentError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The command ran, but the tool could not watch all of it.
    #[error("{0}")]
    Incomplete(&'static str),
    /// Options that do not go together, beyond what clap checks.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// The exit status this failure ends the tool with.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Error::Record(e) => e.exit_code(),
            Error::Enforce(e) => e.exit_code(),
            Error::Diff(_)
            | Error::Merge(_)
            | Error::Check(_)
            | Error::Scan(_)
            | Error::Export(_)
            | Error::Learn(_)
            | Error::Usage(_) => exit::USAGE,
            Error::Runtime(_) | Error::Incomplete(_) | Error::Agent(_) => exit::TOOL_FAILED,
        }
    }
}

/// The exit status of a subcommand's result; a failure is said first, in
/// one line.
pub fn exit_status(result: Result<i32, Error>) -> u8 {
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("syscall-profile: error: {e}");
            e.exit_code()
        }
    };
    u8::try_from(code).unwrap_or(1)
}

/// A notice of the library, rendered: notes and warnings on standard
/// error, the workload's own output on standard output.
pub(crate) fn notice(notice: crate::notice::Notice) {
    use crate::notice::Notice;
    match notice {
        Notice::Note(text) => say(&text),
        Notice::Warning(text) => warn(&text),
        Notice::Stdout(text) => print_stdout(&text),
    }
}

/// What a run says while it goes on, on standard error.
pub(crate) fn say(text: &str) {
    eprintln!("syscall-profile: {text}");
}

/// A warning on standard error.
pub(crate) fn warn(text: &str) {
    eprintln!("syscall-profile: warning: {text}");
}

/// Writes `text` to standard output. A reader that closed the pipe early
/// (`| head`) wanted no more: that is not an error, and not a panic.
pub(crate) fn print_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        warn(&format!("cannot write to standard output: {e}"));
    }
}

/// Whether standard output gets colours: a terminal, and no `NO_COLOR`.
pub(crate) fn colour_stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Runs a future on a single-threaded runtime: the tool mostly waits.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, std::io::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(future))
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Runtime(e)
    }
}

/// The longest `--duration`: a year. Longer is a mistake (and would
/// overflow the clock arithmetic of the deadline).
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// `30`, `30s`, `5m`, `1h`, `2d`: a whole number of seconds, minutes, hours
/// or days, at most a year.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        _ => {
            return Err(format!(
                "unknown unit {unit:?}: use s, m, h or d, e.g. 90s or 5m"
            ));
        }
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: give e.g. 30, 90s, 5m or 1h"))?;
    match number
        .checked_mul(seconds_per_unit)
        .map(Duration::from_secs)
    {
        Some(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(format!("{text} is too long: at most 366d")),
    }
}

/// `USER[:GROUP]`, looked up on this host.
fn parse_user(text: &str) -> Result<RunAs, String> {
    RunAs::parse(text).map_err(|e| e.to_string())
}
