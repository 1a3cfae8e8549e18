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
    let result = match Cli::parse().command {
        Command::Record(args) => cli::record::run(args),
        Command::Enforce(args) => cli::enforce::run(args),
        Command::Diff(args) => cli::diff::run(args),
        Command::Merge(args) => cli::merge::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Scan(args) => cli::scan::run(args),
        Command::Export(args) => cli::export::run(args),
        Command::Guardian => Ok(guardian::serve()),
    };
    ExitCode::from(cli::exit_status(result))
}
