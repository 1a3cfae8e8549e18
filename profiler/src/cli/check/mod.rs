//! `syscall-profile check`: the CI gate's arguments, the run, the reports.

pub(super) mod report;

use std::{ffi::OsString, path::PathBuf, time::Duration};

use self::report::{github_annotations, junit_xml, text};
use super::{Error, block_on, print_stdout};
use crate::{
    check::{self, CheckError, CheckRequest, Checked},
    judge::live::LiveEvent,
    output::Output,
    session::{Until, process::RunAs},
};

#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct CheckArgs {
    /// The committed policy (a seccomp profile in Docker's format).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,

    /// The profile of the run to check (or give a command after --).
    ///
    /// E.g. from `syscall-profile record`.
    #[arg(long, value_name = "FILE", conflicts_with = "command")]
    pub observed: Option<PathBuf>,

    /// Fail also when the policy allows syscalls the run did not use.
    #[arg(long)]
    pub strict: bool,

    /// Write a JUnit XML report to FILE (a test case a new syscall).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write the report as JSON to FILE.
    ///
    /// Schema syscall-profile/check/v1.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// With a command: also keep the profile of its run in FILE.
    #[arg(long, value_name = "FILE", requires = "command")]
    pub save_observed: Option<PathBuf>,

    /// No text report on standard output.
    ///
    /// The files and annotations are still written.
    #[arg(short, long)]
    pub quiet: bool,

    /// With a command: fail below PCT percent coverage.
    ///
    /// Fails the gate when the run made less than PCT percent of the
    /// syscalls its programs can reach (see `syscall-profile scan`): the
    /// tests exercised too little of the program.
    #[arg(long, value_name = "PCT", requires = "command", value_parser = parse_percent)]
    pub coverage: Option<f64>,

    /// With a native command: run it as USER[:GROUP].
    ///
    /// USER is a name or uid, with GROUP (or the user's groups); only the
    /// command's syscalls are recorded.
    #[arg(long, value_name = "USER[:GROUP]", value_parser = super::parse_user, requires = "command")]
    pub user: Option<RunAs>,

    /// With a command: end its recording after DURATION.
    ///
    /// E.g. 30, 90s, 5m, 1h, 2d: SIGTERM, and SIGKILL after a grace period.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration, requires = "command")]
    pub duration: Option<Duration>,

    /// With a native command: when its run ends: tree or command.
    ///
    /// `tree` (the default) when every process it started has ended too
    /// (what outlived it is named; Ctrl-C or --duration ends the wait);
    /// `command` when it exits, killing (and naming) what it left running.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        requires = "command",
        hide_possible_values = true
    )]
    pub until: Option<Until>,

    /// The command to record and check.
    ///
    /// A native program, or `docker run ...` / `podman run ...` / `ctr run
    /// ...`; a container's new syscalls are set against its engine's
    /// default.
    #[arg(value_name = "CMD", last = true)]
    pub command: Vec<OsString>,
}

const AFTER_LONG_HELP: &str = "\
Examples:
  syscall-profile check --policy app.json --observed run.json
  syscall-profile check --policy app.json --junit gate.xml -- ./run-tests
  syscall-profile check --policy web.json -- docker run --rm web:2

Exit status: 0 when every observed syscall is allowed by the policy; 1 when the run used
syscalls or argument values outside it (or, with --strict, did not use some syscalls it
allows); 2 for a usage error, an unreadable profile or a failed recording; 3 when the policy
check passed but the recorded command itself failed.";

/// Entry point of `syscall-profile check`: 0 passed, 1 outside the policy,
/// 3 passed but the command failed.
pub fn run(args: CheckArgs) -> Result<i32, Error> {
    check_run(args).map_err(Error::Check)
}

fn check_run(args: CheckArgs) -> Result<i32, CheckError> {
    if args.observed.is_none() && args.command.is_empty() {
        return Err(CheckError::NothingToCheck);
    }
    // Report files are checked before anything runs.
    Output::check_distinct(&[
        ("--junit", args.junit.as_deref()),
        ("--json", args.json.as_deref()),
        ("--save-observed", args.save_observed.as_deref()),
    ])?;
    let junit = Output::prepare_if_given(args.junit.as_deref())?;
    let json = Output::prepare_if_given(args.json.as_deref())?;
    let request = CheckRequest {
        policy: args.policy,
        observed: args.observed,
        command: args.command,
        strict: args.strict,
        save_observed: args.save_observed,
        coverage: args.coverage,
        user: args.user,
        duration: args.duration,
        until: args.until,
        say: super::notice,
    };
    let quiet = args.quiet;
    let mut say_live = |event: LiveEvent| {
        super::enforce::say_live(&event, quiet, "outside the policy");
    };
    // The guardian is held until the reports are written.
    let Checked {
        report,
        guardian: _guardian,
    } = block_on(check::run(&request, &mut say_live)).map_err(CheckError::Runtime)??;
    if !quiet {
        print_stdout(&text(&report));
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        print_stdout(&github_annotations(&report));
    }
    if let Some(out) = junit {
        out.commit(&junit_xml(&report))?;
    }
    if let Some(out) = json {
        // Strings, numbers and lists only: serializing cannot fail.
        let mut text = serde_json::to_string_pretty(&report).expect("a check report serializes");
        text.push('\n');
        out.commit(&text)?;
    }
    Ok(report.exit_code)
}

/// A percentage, 0 to 100.
fn parse_percent(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("{text:?} is not a percentage: give e.g. 40"))?;
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{text} is not between 0 and 100"))
    }
}
