//! The `syscall-profile` command line: a dispatcher. Each subcommand's
//! arguments, run and output are in `cli/<subcommand>.rs`; a failure comes
//! back here as one error that knows its exit status (`--help` of each
//! subcommand lists them).

use std::process::ExitCode;

use clap::Parser;
use syscall_profile::{
    cli::{self, Cli, Command},
    session::guardian,
};

fn main() -> ExitCode {
    fix_malloc_thresholds();
    let result = match Cli::parse().command {
        Command::Record(args) => cli::record::run(args),
        Command::Enforce(args) => cli::enforce::run(args),
        Command::Diff(args) => cli::diff::run(args),
        Command::Merge(args) => cli::merge::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Scan(args) => cli::scan::run(args),
        Command::Export(args) => cli::export::run(args),
        Command::Learn(args) => cli::learn::run(args),
        Command::Agent(args) => cli::agent::run(args),
        Command::Doctor(args) => cli::doctor::run(args),
        Command::Guardian => Ok(guardian::serve()),
        Command::DistAssets { dir } => cli::dist_assets(&dir),
    };
    ExitCode::from(cli::exit_status(result))
}

/// Keeps glibc's malloc from raising its mmap threshold as the process
/// runs. By default, freeing a large mmap'ed block (the kernel BTF that
/// `session::layout` reads, 5.4 MB) raises the threshold to that size, so
/// that the next ones, aya's own parse of the kernel BTF when the eBPF
/// object is loaded, come from the brk heap: there every doubling of a
/// growing Vec leaves its old buffer resident behind it, where mremap would
/// have moved the pages. That made the peak resident set 28.5 MiB instead
/// of 24 (measured on `record -- /bin/true`); steady state is 9 MiB either
/// way. Setting the threshold (to its default, 128 KiB) turns the dynamic
/// adjustment off, and with it that of the trim threshold.
fn fix_malloc_thresholds() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes parameters of the allocator; called
        // before any other thread exists.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
    }
}
