//! `syscall-profile check`: the CI gate's arguments, the run, the reports.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    time::Duration,
};

use super::{Error, block_on, print_stdout, say, warn};
use crate::{
    baseline::Baseline,
    enforcing::{WouldRefuse, live::LiveEvent},
    gating::{CheckError, CheckInput, check, github_annotations, junit_xml, text},
    output::Output,
    profile::Profile,
    profile::eval::EffectivePolicy,
    recording::{self, RecordOptions},
    session::{Until, guardian::Guardian, process::RunAs, redact},
};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 when every observed syscall is allowed by the policy; \
                        1 when the run used syscalls or argument values outside it (or, with \
                        --strict, did not use some syscalls it allows); 2 for a usage error, an unreadable profile or a \
                        failed recording; 3 when the policy check passed but the recorded \
                        command itself failed."
)]
pub struct CheckArgs {
    /// The committed policy (a seccomp profile in Docker's format).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,

    /// The profile of the run to check, e.g. from `syscall-profile record`.
    /// Or give the command to record after `--`.
    #[arg(long, value_name = "FILE", conflicts_with = "command")]
    pub observed: Option<PathBuf>,

    /// Fail also when the policy allows syscalls the run did not use.
    #[arg(long)]
    pub strict: bool,

    /// Write a JUnit XML report to FILE (one test case per new syscall).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write the report as JSON (schema syscall-profile/check/v1) to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// With a command: also keep the profile of its run in FILE.
    #[arg(long, value_name = "FILE", requires = "command")]
    pub save_observed: Option<PathBuf>,

    /// No text report on standard output (the files and annotations are
    /// still written).
    #[arg(short, long)]
    pub quiet: bool,

    /// With a command: fail the gate when the run made less than PCT percent
    /// of the syscalls its programs can reach (see `syscall-profile scan`):
    /// the tests exercised too little of the program.
    #[arg(long, value_name = "PCT", requires = "command", value_parser = parse_percent)]
    pub coverage: Option<f64>,

    /// With a native command: run it as USER (name or uid), with GROUP (or
    /// the user's groups); only the command's syscalls are recorded.
    #[arg(long, value_name = "USER[:GROUP]", value_parser = super::parse_user, requires = "command")]
    pub user: Option<RunAs>,

    /// With a command: end its recording after DURATION (e.g. 30, 90s,
    /// 5m, 1h, 2d): SIGTERM, and SIGKILL after a grace period.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration, requires = "command")]
    pub duration: Option<Duration>,

    /// With a native command: when its recording ends: `tree` (the
    /// default) when every process it started has ended too (what outlived
    /// it is named; Ctrl-C or --duration ends the wait); `command` when it
    /// exits, killing (and naming) what it left running.
    #[arg(long, value_enum, value_name = "WHEN", requires = "command")]
    pub until: Option<Until>,

    /// The command to record and check (a native program, or `docker run
    /// ...` / `podman run ...` / `ctr run ...`); a container's new syscalls
    /// are set against its engine's default.
    #[arg(value_name = "CMD", trailing_var_arg = true)]
    pub command: Vec<OsString>,
}

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
    let junit = args
        .junit
        .as_deref()
        .map(|p| Output::prepare(Some(p)))
        .transpose()?;
    let json = args
        .json
        .as_deref()
        .map(|p| Output::prepare(Some(p)))
        .transpose()?;
    let policy = load(&args.policy)?;
    // The default the command's engine applies (from its version), with
    // the capabilities that engine gives; Docker's for a native command.
    let baseline = crate::engine::engine_of_command(&args.command)
        .map(|(engine, version)| Baseline::for_engine(engine, version.as_deref()))
        .unwrap_or_else(Baseline::docker_default);
    let context = baseline.context(&[], &[])?;
    let policy_name = args.policy.display().to_string();

    // Written into reports that CI keeps: secrets taken out.
    let words: Vec<String> = redact::command_line(
        &args
            .command
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
    );
    let mut run_coverage = None;
    // The recording's guardian, held until the check is done: a recorded
    // container the engine kept, with the recording profile, is removed
    // should the tool be killed before then.
    let mut _guardian = None;
    let (observed, observed_name, exit_code, record_again) = match &args.observed {
        Some(path) => (load(path)?, Some(path.display().to_string()), None, None),
        None => {
            let quiet = args.quiet;
            let mut say_live = |event: LiveEvent| {
                super::enforce::say_live(&event, quiet, "outside the policy");
            };
            let mut said =
                WouldRefuse::new(EffectivePolicy::evaluate(&policy, &context), &mut say_live);
            let recording = record(&args, args.coverage.is_some(), &mut said)?;
            run_coverage = recording.2;
            _guardian = Some(recording.3);
            let quoted: Vec<String> = words.iter().map(|w| crate::text::shell_quote(w)).collect();
            let record_again = match &args.save_observed {
                Some(_) => None,
                None => Some((
                    format!(
                        "syscall-profile record -o observed.json -- {}",
                        quoted.join(" ")
                    ),
                    "observed.json".to_owned(),
                )),
            };
            (
                recording.0,
                args.save_observed.as_ref().map(|p| p.display().to_string()),
                Some(recording.1),
                record_again,
            )
        }
    };
    let mut report = check(
        &CheckInput {
            policy: &policy,
            policy_name: &policy_name,
            observed: &observed,
            observed_name: observed_name.as_deref(),
            command: (!words.is_empty()).then_some(words),
            command_exit_code: exit_code,
            strict: args.strict,
            baseline: &baseline,
            record_again,
        },
        &context,
    );
    if let Some(threshold) = args.coverage {
        // A run none of whose programs could be scanned has no coverage
        // (not a vacuous 100 %).
        let coverage = run_coverage
            .filter(|c| !c.programs.is_empty())
            .ok_or(CheckError::NoCoverage)?;
        report.gate_coverage(&coverage, threshold);
    }
    if !args.quiet {
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

fn load(path: &Path) -> Result<Profile, CheckError> {
    let parsed = Profile::load(path)?;
    for warning in &parsed.warnings {
        warn(&format!("{}: {warning}", path.display()));
    }
    Ok(parsed.profile)
}

/// Records the command of `args` with the tool's recorder, writing its
/// profile to `--save-observed` if given (kept in memory otherwise), what
/// the policy refuses said to `said` as it happens; the profile, the
/// command's exit status, its coverage and the run's guardian (see
/// [`recording::Recording::guardian`]).
fn record(
    args: &CheckArgs,
    coverage: bool,
    said: &mut WouldRefuse<'_>,
) -> Result<(Profile, i32, Option<crate::coverage::Coverage>, Guardian), CheckError> {
    let mut options = RecordOptions::new(args.command.clone());
    // Scanned only for the gate (a container's image is exported for it).
    options.coverage = coverage;
    options.discard_profile = args.save_observed.is_none();
    options.output = args.save_observed.clone();
    options.quiet = true;
    options.user = args.user.clone();
    options.duration = args.duration;
    options.until = args.until;
    options.say = super::notice;
    // The same profile `record` writes (so `check -- CMD` equals `record`
    // then `check --observed`): implied names, which a policy learned by
    // `record` holds, are then neither new nor unused.
    options.no_implied = false;
    // What the policy refuses is said as the run makes it.
    let mut observer = |observation: &recording::tracer::Observation| said.observe(observation);
    let recording = block_on(recording::record_observed(options, Some(&mut observer)))
        .map_err(CheckError::Runtime)??;
    for warning in &recording.warnings {
        warn(warning);
    }
    if let Some(outlived) = &recording.outlived {
        say(&outlived.said());
    }
    if recording.observation.events.lost_track() {
        return Err(CheckError::Incomplete);
    }
    Ok((
        recording.profile,
        recording.exit_code,
        recording.coverage,
        recording.guardian,
    ))
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
