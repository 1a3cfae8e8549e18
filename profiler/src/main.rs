//! The `syscall-profile` command line: a dispatcher, one function per
//! subcommand. Errors end up in `main`, which prints them and picks the exit
//! status (see `--help` for what each status means).

use std::{ffi::OsString, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use syscall_profile::{
    diffing,
    enforcing::{self, EnforceOptions},
    gating, merging,
    recording::{self, RecordOptions, Recording, hook::Hook},
    session::{guardian, process::RunAs},
};

#[derive(Parser)]
#[command(
    name = "syscall-profile",
    version,
    about = "Learn the least privilege a program or container needs at the kernel boundary",
    after_help = "Exit status of `record`: the recorded command's own (128+N when a signal N \
                  killed it); 125 when the recorder failed, 126 when the command cannot be \
                  executed, 127 when it was not found, 2 for a usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command and write the minimal seccomp profile of what it did.
    Record(RecordArgs),
    /// Run a command or a container (`-- docker run ...`, `-- podman run ...`)
    /// under a profile, and explain every syscall it denied.
    Enforce(EnforceArgs),
    /// Compare a profile with Docker's default (or --baseline FILE), or two profiles.
    Diff(diffing::cli::DiffArgs),
    /// Merge profiles into one that allows what any of them allows.
    Merge(merging::cli::MergeArgs),
    /// The CI gate: check a run (`--observed FILE` or `-- CMD...`) against a policy.
    Check(gating::cli::CheckArgs),
    /// The syscalls a program can reach: its machine code and its libraries'.
    Scan(syscall_profile::scan::cli::ScanArgs),
    /// (internal) The guardian that cleans up should the tool be killed.
    #[command(name = guardian::SUBCOMMAND, hide = true)]
    Guardian,
}

#[derive(Args)]
struct EnforceArgs {
    /// The seccomp profile to run under (Docker's JSON format).
    #[arg(long, value_name = "FILE")]
    profile: PathBuf,

    /// Block nothing: run the command, and report what the profile would
    /// have denied.
    #[arg(long)]
    complain: bool,

    /// Write a profile allowing what was (or would have been) denied to
    /// FILE, ready to merge into the policy (with or without --complain).
    #[arg(long, value_name = "FILE")]
    suggest: Option<PathBuf>,

    /// Run a native command as USER (name or uid), with GROUP (or the user's
    /// groups); the tool itself stays privileged.
    #[arg(long, value_name = "USER[:GROUP]", value_parser = parse_user)]
    user: Option<RunAs>,

    /// No live report and no message before the run (the final report,
    /// warnings and errors still show).
    #[arg(short, long)]
    quiet: bool,

    /// The command: a native program, or `docker run ...` / `podman run ...`.
    #[arg(value_name = "CMD", trailing_var_arg = true)]
    command: Vec<OsString>,
}

#[derive(Args)]
struct RecordArgs {
    /// Write the profile to FILE (written atomically; checked before the
    /// command starts). Default: standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Also write the per-syscall counts to FILE, as JSON.
    #[arg(long, value_name = "FILE")]
    stats: Option<PathBuf>,

    /// No live progress line and no summary (warnings and errors still show).
    #[arg(short, long)]
    quiet: bool,

    /// The kind of hook on raw_syscalls:sys_enter that counts.
    #[arg(long, value_enum, default_value_t = Hook::RawTracepoint)]
    hook: Hook,

    /// End the recording after DURATION (e.g. 30, 90s, 5m, 1h): the command
    /// is sent SIGTERM; a detached container (`run -d`) is left running.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    duration: Option<Duration>,

    /// For a container: leave out the runtime's base set (the syscalls runc
    /// or crun make after installing the filter, in any run).
    #[arg(long)]
    no_runtime_base: bool,

    /// Run a native command as USER (name or uid), with GROUP (or the user's
    /// groups), from its first instruction; the recorder stays privileged
    /// and only the command's syscalls are recorded.
    #[arg(long, value_name = "USER[:GROUP]", value_parser = parse_user)]
    user: Option<RunAs>,

    /// The profile's comment (default: the recorded command line, with
    /// environment values and secrets taken out).
    #[arg(long, value_name = "TEXT")]
    comment: Option<String>,

    /// For a container still running when the recording ends (`run -d`
    /// with --duration): leave it running, under the recording profile,
    /// which allows every syscall. Without it, such a container is stopped.
    #[arg(long)]
    keep_running: bool,

    /// The command to record, with its arguments.
    #[arg(value_name = "CMD", trailing_var_arg = true)]
    command: Vec<OsString>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Record(args) => record(args),
        Command::Enforce(args) => enforce(args),
        Command::Diff(args) => diffing::cli::run(args),
        Command::Merge(args) => merging::cli::run(args),
        Command::Check(args) => gating::cli::run(args),
        Command::Scan(args) => syscall_profile::scan::cli::run(args),
        Command::Guardian => syscall_profile::session::guardian::serve(),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Entry point of `syscall-profile record`.
fn record(args: RecordArgs) -> i32 {
    let quiet = args.quiet;
    let options = RecordOptions {
        command: args.command,
        output: args.output,
        discard_profile: false,
        stats: args.stats,
        quiet,
        hook: args.hook,
        duration: args.duration,
        no_runtime_base: args.no_runtime_base,
        user: args.user,
        comment: args.comment,
        keep_running: args.keep_running,
    };
    match run_async(recording::record(options)) {
        Ok(Ok(recording)) => {
            report_recording(&recording, quiet);
            if recording.observation.events.lost_track() && recording.exit_code == 0 {
                eprintln!(
                    "syscall-profile: error: the recording is incomplete: a process left the \
                     recorded cgroup (see above); the profile was written, but may lack what it \
                     did after that"
                );
                return recording::EXIT_RECORDER_FAILED;
            }
            recording.exit_code
        }
        Ok(Err(e)) => {
            eprintln!("syscall-profile: error: {e}");
            e.exit_code()
        }
        Err(e) => {
            eprintln!("syscall-profile: error: {e:#}");
            recording::EXIT_RECORDER_FAILED
        }
    }
}

/// Entry point of `syscall-profile enforce`.
fn enforce(args: EnforceArgs) -> i32 {
    let options = EnforceOptions {
        profile: args.profile,
        command: args.command,
        quiet: args.quiet,
        complain: args.complain,
        suggest: args.suggest,
        user: args.user,
    };
    match run_async(enforcing::enforce(options.clone())) {
        Ok(Ok(enforcement)) => {
            for warning in &enforcement.warnings {
                eprintln!("syscall-profile: warning: {warning}");
            }
            enforcing::report_denials(&enforcement.denials, &options, enforcement.complain);
            if !enforcement.base_denied.is_empty() {
                eprintln!(
                    "syscall-profile: the profile would also deny what the container runtime needs \
                     after installing the filter (its base set): {}",
                    enforcement.base_denied.join(" ")
                );
            }
            if !enforcement.conditional.is_empty() {
                eprintln!(
                    "syscall-profile: the profile allows these only under argument conditions, \
                     which complain mode does not check: {}",
                    enforcement.conditional.join(" ")
                );
            }
            if let Some(path) = &enforcement.suggestion {
                eprintln!(
                    "syscall-profile: a profile allowing them is in {}; to add it to the policy: \
                     syscall-profile merge {} {} -o {}",
                    path.display(),
                    options.profile.display(),
                    path.display(),
                    options.profile.display()
                );
            } else if !enforcement.denials.is_empty() || !enforcement.base_denied.is_empty() {
                eprintln!(
                    "syscall-profile: to allow them, add this rule to {} (or give --suggest FILE \
                     for a profile to merge): {}",
                    options.profile.display(),
                    enforcing::allow_rule(&enforcement)
                );
            }
            if enforcement.exit_code != 0
                && !enforcement.complain
                && enforcement.denials.is_empty()
                && enforcement.escapes.is_empty()
            {
                eprintln!(
                    "syscall-profile: the command exited with status {} and the profile denied \
                     nothing, so the failure is its own",
                    enforcement.exit_code
                );
            }
            if !enforcement.escapes.is_empty() {
                eprintln!(
                    "syscall-profile: error: the watch is incomplete: a process left the watched \
                     cgroup (see above), and what the profile denied it after that was not seen"
                );
                if enforcement.exit_code == 0 {
                    return enforcing::EXIT_ENFORCER_FAILED;
                }
            }
            enforcement.exit_code
        }
        Ok(Err(e)) => {
            eprintln!("syscall-profile: error: {e}");
            e.exit_code()
        }
        Err(e) => {
            eprintln!("syscall-profile: error: {e:#}");
            enforcing::EXIT_ENFORCER_FAILED
        }
    }
}

fn report_recording(recording: &Recording, quiet: bool) {
    for warning in &recording.warnings {
        eprintln!("syscall-profile: warning: {warning}");
    }
    if quiet {
        return;
    }
    if let Some(runtime) = &recording.runtime {
        let mut line = format!(
            "syscall-profile: the runtime ({}) made {} syscalls after installing the filter",
            runtime.name,
            runtime.observed.len()
        );
        if !runtime.base.is_empty() {
            let added: Vec<&str> = runtime.added_by_base.iter().collect();
            line.push_str(&format!(
                "; its base set ({} syscalls) added {}{}",
                runtime.base.len(),
                added.len(),
                if added.is_empty() {
                    String::new()
                } else {
                    format!(": {}", added.join(" "))
                }
            ));
        }
        eprintln!("{line}");
    }
    let target = match &recording.written_to {
        Some(path) => format!("profile written to {}", path.display()),
        None => "profile written to standard output".to_owned(),
    };
    eprintln!(
        "syscall-profile: {} distinct syscalls, {} calls; {target}",
        recording.syscalls.len(),
        recording.observation.total_calls(),
    );
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

/// Runs a future on a single-threaded runtime: the recorder mostly waits.
fn run_async<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}
