//! The `syscall-profile` command line: a dispatcher, one function per
//! subcommand. Errors end up in `main`, which prints them and picks the exit
//! status (see `--help` for what each status means).

use std::{ffi::OsString, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use syscall_profile::recording::{self, RecordError, RecordOptions, Recording, hook::Hook};

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

    /// The command to record, with its arguments.
    #[arg(value_name = "CMD", trailing_var_arg = true)]
    command: Vec<OsString>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Record(args) => record(args),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Entry point of `syscall-profile record`.
fn record(args: RecordArgs) -> i32 {
    let quiet = args.quiet;
    let options = RecordOptions {
        command: args.command,
        output: args.output,
        stats: args.stats,
        quiet,
        hook: args.hook,
    };
    match run_async(recording::record(options)) {
        Ok(Ok(recording)) => {
            report_recording(&recording, quiet);
            recording.exit_code
        }
        Ok(Err(RecordError::NoCommand)) => {
            eprintln!("syscall-profile: error: {}", RecordError::NoCommand);
            2
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

fn report_recording(recording: &Recording, quiet: bool) {
    for warning in &recording.warnings {
        eprintln!("syscall-profile: warning: {warning}");
    }
    if quiet {
        return;
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

/// Runs a future on a single-threaded runtime: the recorder mostly waits.
fn run_async<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}
