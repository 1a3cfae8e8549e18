//! `check` as one run: the policy and the observed profile read, or the
//! command recorded (what the policy refuses said as the run makes it),
//! then the check against the default the command's engine applies, and
//! the coverage gate. The command line only renders what comes back.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    time::Duration,
};

use super::{CheckError, CheckInput, CheckReport, check};
use crate::{
    baseline::Baseline,
    coverage::Coverage,
    judge::{self, live::LiveEvent},
    notice::{self, Notice},
    profile::{Profile, eval::EffectivePolicy},
    record::RecordOptions,
    session::{Until, guardian::Guardian, process::RunAs, redact},
    text::shell_quote,
};

/// What `check` was asked.
#[derive(Debug, Clone)]
pub(crate) struct CheckRequest {
    pub policy: PathBuf,
    /// The observed profile's file; or `command` is recorded.
    pub observed: Option<PathBuf>,
    pub command: Vec<OsString>,
    pub strict: bool,
    /// Where the recorded profile is kept, if anywhere.
    pub save_observed: Option<PathBuf>,
    /// The coverage gate's threshold, in percent.
    pub coverage: Option<f64>,
    pub user: Option<RunAs>,
    pub duration: Option<Duration>,
    pub until: Option<Until>,
    /// Where the notes and warnings of reading and recording go.
    pub say: notice::Sink,
}

/// A check made.
pub(crate) struct Checked {
    pub report: CheckReport,
    /// The recording's guardian, to hold until the reports are written: a
    /// recorded container the engine kept, with the recording profile, is
    /// removed should the tool be killed before then.
    pub guardian: Option<Guardian>,
}

/// Makes the check `request` asks for; what the policy would refuse of a
/// recorded run goes to `live` as the run makes it.
pub(crate) async fn run(
    request: &CheckRequest,
    live: &mut dyn FnMut(LiveEvent),
) -> Result<Checked, CheckError> {
    if request.observed.is_none() && request.command.is_empty() {
        return Err(CheckError::NothingToCheck);
    }
    let policy = load(&request.policy, request.say)?;
    // The default the command's engine applies (from its version), with
    // the capabilities that engine gives; Docker's for a native command.
    let baseline = crate::engine::engine_of_command(&request.command)
        .map(|(engine, version)| Baseline::for_engine(engine, version.as_deref()))
        .unwrap_or_else(Baseline::docker_default);
    let context = baseline.context(&[], &[])?;
    let policy_name = request.policy.display().to_string();

    // Written into reports that CI keeps: secrets taken out.
    let words: Vec<String> = redact::command_line(
        &request
            .command
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
    );
    let mut run_coverage = None;
    let mut guardian = None;
    let (observed, observed_name, exit_code, record_again) = match &request.observed {
        Some(path) => (
            load(path, request.say)?,
            Some(path.display().to_string()),
            None,
            None,
        ),
        None => {
            let policy = EffectivePolicy::evaluate(&policy, &context);
            let recorded = record(request, policy, live).await?;
            run_coverage = recorded.coverage;
            guardian = Some(recorded.guardian);
            let quoted: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
            let record_again = match &request.save_observed {
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
                recorded.profile,
                request
                    .save_observed
                    .as_ref()
                    .map(|p| p.display().to_string()),
                Some(recorded.exit_code),
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
            strict: request.strict,
            baseline: &baseline,
            record_again,
        },
        &context,
    );
    if let Some(threshold) = request.coverage {
        // A run none of whose programs could be scanned has no coverage
        // (not a vacuous 100 %).
        let coverage = run_coverage
            .filter(|c| !c.programs.is_empty())
            .ok_or(CheckError::NoCoverage)?;
        report.gate_coverage(&coverage, threshold);
    }
    Ok(Checked { report, guardian })
}

fn load(path: &Path, say: notice::Sink) -> Result<Profile, CheckError> {
    let parsed = Profile::load(path)?;
    for warning in &parsed.warnings {
        say(Notice::Warning(format!("{}: {warning}", path.display())));
    }
    Ok(parsed.profile)
}

/// What a recorded run gave the check.
struct Recorded {
    profile: Profile,
    exit_code: i32,
    coverage: Option<Coverage>,
    guardian: Guardian,
}

/// Records the command of `request` with the tool's recorder, writing its
/// profile to `--save-observed` if given (kept in memory otherwise), what
/// `policy` refuses said to `live` as it happens.
async fn record(
    request: &CheckRequest,
    policy: EffectivePolicy,
    live: &mut dyn FnMut(LiveEvent),
) -> Result<Recorded, CheckError> {
    let mut options = RecordOptions::new(request.command.clone());
    // Scanned only for the gate (a container's image is exported for it).
    options.coverage = request.coverage.is_some();
    options.discard_profile = request.save_observed.is_none();
    options.output = request.save_observed.clone();
    options.quiet = true;
    options.user = request.user.clone();
    options.duration = request.duration;
    options.until = request.until;
    options.say = request.say;
    // The same profile `record` writes (so `check -- CMD` equals `record`
    // then `check --observed`): implied names, which a policy learned by
    // `record` holds, are then neither new nor unused.
    options.no_implied = false;
    let recording = judge::record_judged(options, policy, live).await?;
    for warning in &recording.warnings {
        (request.say)(Notice::Warning(warning.clone()));
    }
    if let Some(outlived) = &recording.outlived {
        (request.say)(Notice::Note(outlived.said()));
    }
    if recording.observation.events.lost_track() {
        return Err(CheckError::Incomplete);
    }
    Ok(Recorded {
        profile: recording.profile,
        exit_code: recording.exit_code,
        coverage: recording.coverage,
        guardian: recording.guardian,
    })
}
