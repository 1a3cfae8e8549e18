//! `syscall-profile diff`: what a profile needs compared with a baseline
//! (Docker's default unless told otherwise), as Docker would apply both to
//! a container on this host.
//!
//! The findings: what the profile needs that the baseline denies (and
//! what would allow it, the least privilege that does); the argument values
//! it lets through that the baseline refuses; the syscalls the baseline
//! answers so that the C library falls back to another (clone3); the
//! argument values of each syscall either side checks, both sides'; and
//! the attack surface the profile removes, i.e. the baseline's allowed
//! syscalls the profile does without.

use std::{collections::BTreeSet, path::PathBuf};

use serde::Serialize;

use crate::{
    baseline::{
        Access, Baseline, BaselineChoice, BaselineError, DockerContext, EffectivePolicy, notes,
    },
    judge::standing::{self, ValueStanding},
    profile::{Arch, Profile, ProfileError, errno, table},
    syscall_args::allowance::{ArgValue, Comparison, Values},
};

/// The JSON schema's name; see `docs` in README.md (`diff --format json`).
pub(crate) const SCHEMA: &str = "syscall-profile/diff/v1";

/// How many of the removed syscalls the report names as the most dangerous.
const MOST_DANGEROUS: usize = 12;

/// The comparison of a profile with a baseline.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub schema: &'static str,
    pub baseline: BaselineInfo,
    /// The compared profile, as named on the command line.
    pub profile: String,
    pub context: ContextInfo,
    /// Syscalls the profile lets run that the baseline denies.
    pub denied_needed: Vec<DeniedNeed>,
    /// Syscalls the profile lets run that the baseline allows only under
    /// argument conditions.
    pub conditional: Vec<ConditionalUse>,
    /// Argument values the profile lets through that the baseline refuses.
    pub beyond_baseline: Vec<BeyondValue>,
    /// Syscalls the profile lets run that the baseline answers so that the
    /// C library falls back to another: nothing the run needs.
    pub falls_back: Vec<FallBack>,
    /// The argument values of each syscall the profile lets run and either
    /// side checks the arguments of: what each side lets through.
    pub arguments: Vec<ArgumentDiff>,
    pub surface: Surface,
}

/// Argument values the profile lets through that the baseline refuses.
#[derive(Debug, Clone, Serialize)]
pub struct BeyondValue {
    pub name: String,
    /// The values by name (`flags CLONE_NEWUSER`), or `all but …`.
    pub values: String,
    /// The values, argument by argument (empty for `all but`).
    pub args: Vec<Vec<ArgValue>>,
    /// Whether the profile checks the syscall's arguments: when it does,
    /// these are values the run used; when not, values it lets through
    /// unchecked, which nothing says the run needs.
    pub profile_checks_arguments: bool,
    /// What the baseline lets through of the syscall.
    pub baseline_allows: String,
    /// The least privilege that lets these values run under the baseline;
    /// none when the profile does not check the arguments (nothing says
    /// the run needs them).
    pub allow_with: Option<Remedy>,
}

/// A syscall the baseline answers so that the C library calls another.
#[derive(Debug, Clone, Serialize)]
pub struct FallBack {
    pub name: String,
    /// What the baseline answers (`denied with ENOSYS (38)`).
    pub baseline_verdict: String,
    /// The syscall the C library calls instead.
    pub falls_back_to: &'static str,
    /// What the profile does about it.
    pub advice: String,
}

/// One syscall's argument values under the profile and the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct ArgumentDiff {
    pub name: String,
    /// `socket: AF_INET, AF_UNIX — the default allows all but AF_ALG, AF_VSOCK`.
    pub summary: String,
    pub profile_allows: Values,
    pub baseline_allows: Values,
    /// What the profile lets through that the baseline does not (with two
    /// profiles: what the second adds).
    pub added: Values,
    /// What the baseline lets through that the profile does not (with two
    /// profiles: what the second removes).
    pub removed: Values,
    pub profile_checks_arguments: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BaselineInfo {
    pub name: String,
    pub docker_default: bool,
    /// The engine default it is (`docker`, `docker-20.10`, `podman`,
    /// `containerd`), when it is one.
    pub engine_default: Option<String>,
    /// Why it was chosen.
    pub reason: String,
}

/// The container the baseline was evaluated for.
#[derive(Debug, Clone, Serialize)]
pub struct ContextInfo {
    pub arch: String,
    pub arches: Vec<String>,
    pub capabilities: Vec<String>,
    pub kernel: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeniedNeed {
    pub name: String,
    /// What the baseline answers, e.g. "denied with EPERM (1)".
    pub baseline_verdict: String,
    /// The errno a denied call gets, when it is an errno.
    pub errno: Option<u32>,
    pub errno_name: Option<&'static str>,
    /// Why the baseline denies it (Docker's default: the tool's own words).
    pub why: String,
    pub risk: &'static str,
    pub allow_with: Remedy,
}

/// What would let a denied syscall run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Remedy {
    /// `docker run --cap-add CAP` (any one of `caps`), which also turns on
    /// Docker's rule for the syscall.
    CapAdd { caps: Vec<String> },
    /// No capability does: only a custom profile
    /// (`--security-opt seccomp=FILE`) allows it.
    CustomProfile,
}

impl std::fmt::Display for Remedy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Remedy::CapAdd { caps } => {
                let flags: Vec<String> = caps
                    .iter()
                    .map(|c| format!("--cap-add {}", c.trim_start_matches("CAP_")))
                    .collect();
                write!(f, "{}", flags.join(" or "))
            }
            Remedy::CustomProfile => {
                f.write_str("only a custom profile (--security-opt seccomp=FILE)")
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ConditionalUse {
    pub name: String,
    /// The argument checks under which the baseline allows it, each an AND
    /// of conditions, e.g. "arg0 < 38"; any one suffices.
    pub baseline_allows_when: Vec<String>,
    /// What other calls get.
    pub otherwise: String,
    /// The profile's own conditions on it, if it has any (empty: the
    /// profile allows it whatever the arguments).
    pub profile_conditions: Vec<String>,
    pub risk: &'static str,
}

/// The baseline's allowed syscalls of the native table that the profile
/// does without.
#[derive(Debug, Clone, Serialize)]
pub struct Surface {
    /// The table counted (the native architecture's).
    pub arch: String,
    /// How many of the table's syscalls the baseline lets run (with or
    /// without argument conditions).
    pub baseline_allowed: usize,
    /// How many of those the profile lets run too.
    pub kept: usize,
    /// How many the profile removes, and their share of `baseline_allowed`.
    pub removed: usize,
    pub removed_share: f64,
    /// The most dangerous of the removed ones, most dangerous first.
    pub most_dangerous: Vec<RemovedSyscall>,
    /// All removed ones, sorted.
    pub removed_names: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemovedSyscall {
    pub name: String,
    pub risk: &'static str,
}

/// What `syscall-profile diff` was asked.
#[derive(Debug, Clone, Default)]
pub(crate) struct DiffRequest {
    /// `APP` (against the baseline) or `OLD NEW` (the first is the baseline).
    pub profiles: Vec<PathBuf>,
    /// `--baseline docker|docker-20.10|podman|containerd|FILE`: compare
    /// with this instead of Docker's default.
    pub baseline: Option<BaselineChoice>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(
        "give one profile (compared with Docker's default, or --baseline FILE) or two \
         (`diff OLD NEW`); got {0}"
    )]
    ProfileCount(usize),
    #[error("--baseline and a second profile both name a baseline: give one of them")]
    TwoBaselines,
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// Loads what `request` names and compares; the warnings are the parser's
/// about the files read, each prefixed with its file.
pub(crate) fn compare(request: &DiffRequest) -> Result<(DiffReport, Vec<String>), DiffError> {
    let mut warnings = Vec::new();
    let (baseline, profile_path) = match (request.profiles.as_slice(), &request.baseline) {
        ([profile], None) => (Baseline::docker_default(), profile),
        ([profile], Some(choice)) => {
            let (baseline, file_warnings) = Baseline::choose(choice)?;
            warnings.extend(file_warnings);
            (baseline, profile)
        }
        ([path, profile], None) => {
            let (mut baseline, parsed) = Baseline::from_file(path)?;
            baseline.reason = "the first of the two profiles".to_owned();
            warnings.extend(
                parsed
                    .warnings
                    .iter()
                    .map(|w| format!("{}: {w}", path.display())),
            );
            (baseline, profile)
        }
        ([_, _], Some(_)) => return Err(DiffError::TwoBaselines),
        (other, _) => return Err(DiffError::ProfileCount(other.len())),
    };
    let context = baseline.context(&request.cap_add, &request.cap_drop)?;
    let parsed = Profile::load(profile_path)?;
    warnings.extend(
        parsed
            .warnings
            .iter()
            .map(|w| format!("{}: {w}", profile_path.display())),
    );
    let report = diff(
        &baseline,
        &parsed.profile,
        &profile_path.display().to_string(),
        &context,
    );
    Ok((report, warnings))
}

/// Compares `profile` (named `profile_name`) with `baseline` for `context`.
pub fn diff(
    baseline: &Baseline,
    profile: &Profile,
    profile_name: &str,
    context: &DockerContext,
) -> DiffReport {
    let base = baseline.evaluate(context);
    let ours = EffectivePolicy::evaluate(profile, context);
    let needed = ours.runnable_names();

    let mut denied_needed = Vec::new();
    let mut conditional = Vec::new();
    let mut falls_back = Vec::new();
    let mut arguments = Vec::new();
    let mut beyond_baseline = Vec::new();
    let two_profiles = baseline.engine_default.is_none();
    for (name, standing) in standing::stand_profile(&base, &ours) {
        let name = &name;
        if let Some(ValueStanding::Compared(comparison)) = standing.values {
            let (diff, beyond) = argument_diff(baseline, context, comparison);
            arguments.push(diff);
            beyond_baseline.extend(beyond);
        }
        match standing.access {
            Access::Allowed => {}
            Access::Denied(verdict) if base.falls_back_to(name).is_some() => {
                let to = base.falls_back_to(name).unwrap_or_default();
                let advice = if two_profiles {
                    format!("nothing to allow: {to}'s values are compared below")
                } else {
                    format!(
                        "nothing to allow. The profile lets {name} run, and no filter can \
                         check what it asks for (its flags are in memory): answer it with \
                         ENOSYS too (a rule {{\"names\": [\"{name}\"], \"action\": \
                         \"SCMP_ACT_ERRNO\", \"errnoRet\": 38}})"
                    )
                };
                falls_back.push(FallBack {
                    name: name.clone(),
                    baseline_verdict: verdict.to_string(),
                    falls_back_to: to,
                    advice,
                });
            }
            Access::Denied(verdict) => {
                let caps = baseline.capabilities_allowing(name, context);
                let allow_with = if caps.is_empty() {
                    Remedy::CustomProfile
                } else {
                    Remedy::CapAdd {
                        caps: caps.iter().map(|c| c.scmp_name().to_owned()).collect(),
                    }
                };
                let why = baseline.why_denied(name);
                denied_needed.push(DeniedNeed {
                    name: name.clone(),
                    baseline_verdict: verdict.to_string(),
                    errno: verdict.errno,
                    errno_name: verdict.errno.and_then(errno::name),
                    why,
                    risk: notes::risk(name),
                    allow_with,
                });
            }
            Access::Conditional { when, otherwise } => {
                let allows: Vec<String> = when
                    .iter()
                    .filter(|g| g.verdict.runs())
                    .map(|g| conditions_text(&g.args))
                    .collect();
                let profile_conditions = match ours.access(name) {
                    Access::Conditional { when, .. } => when
                        .iter()
                        .filter(|g| g.verdict.runs())
                        .map(|g| conditions_text(&g.args))
                        .collect(),
                    Access::Allowed | Access::Denied(_) => Vec::new(),
                };
                conditional.push(ConditionalUse {
                    name: name.clone(),
                    baseline_allows_when: allows,
                    otherwise: otherwise.to_string(),
                    profile_conditions,
                    risk: notes::risk(name),
                });
            }
        }
    }

    DiffReport {
        schema: SCHEMA,
        baseline: BaselineInfo {
            name: baseline.name.clone(),
            docker_default: baseline.is_docker_default,
            engine_default: baseline.engine_default.map(|d| d.key().to_owned()),
            reason: baseline.reason.clone(),
        },
        profile: profile_name.to_owned(),
        context: ContextInfo {
            arch: context.native.short_name().to_owned(),
            arches: base
                .arches
                .iter()
                .map(|a| a.short_name().to_owned())
                .collect(),
            capabilities: context
                .caps
                .iter()
                .map(|c| c.scmp_name().to_owned())
                .collect(),
            kernel: context.kernel.to_string(),
        },
        denied_needed,
        conditional,
        beyond_baseline,
        falls_back,
        arguments,
        surface: surface(&base, &needed, context.native),
    }
}

/// A syscall's argument values under the profile and the baseline (their
/// `comparison`, from the judgement), and those of the profile's the
/// baseline refuses, each with the least privilege that lets it run.
fn argument_diff(
    baseline: &Baseline,
    context: &DockerContext,
    comparison: Comparison,
) -> (ArgumentDiff, Vec<BeyondValue>) {
    let name = comparison.syscall.as_str();
    let who = if baseline.engine_default.is_some() {
        "the default".to_owned()
    } else {
        baseline.name.clone()
    };
    let summary = match comparison.too_many_conditions {
        // Not compared: nothing named, nothing beyond.
        Some(conditions) => format!(
            "{name}: {conditions} argument conditions in the profile and {who}, too many to \
             compare value by value"
        ),
        None => {
            let unchecked = if comparison.ours_checks {
                ""
            } else {
                " (the profile does not check the arguments)"
            };
            let mut summary = format!(
                "{name}: {}{unchecked} — {who} allows {}",
                comparison.ours, comparison.theirs
            );
            if baseline.engine_default.is_none() {
                if !comparison.beyond.is_nothing() {
                    summary.push_str(&format!("; added: {}", comparison.beyond));
                }
                if !comparison.dropped.is_nothing() {
                    summary.push_str(&format!("; removed: {}", comparison.dropped));
                }
            }
            summary
        }
    };
    let remedy = |calls: &[[u64; 6]]| {
        let caps = baseline.capabilities_allowing_calls(name, context, calls);
        if caps.is_empty() {
            Remedy::CustomProfile
        } else {
            Remedy::CapAdd {
                caps: caps.iter().map(|c| c.scmp_name().to_owned()).collect(),
            }
        }
    };
    let beyond_value = |values: String, args: Vec<Vec<ArgValue>>, calls: &[[u64; 6]]| BeyondValue {
        name: name.to_owned(),
        values,
        args,
        profile_checks_arguments: comparison.ours_checks,
        baseline_allows: comparison.theirs.to_string(),
        allow_with: comparison.ours_checks.then(|| remedy(calls)),
    };
    let beyond = match &comparison.beyond {
        Values::Nothing => Vec::new(),
        Values::Only(items) if comparison.ours_checks => items
            .iter()
            .map(|item| beyond_value(item.describe(), vec![item.args.clone()], &item.calls))
            .collect(),
        values => vec![beyond_value(
            values.to_string(),
            Vec::new(),
            &comparison.beyond_calls,
        )],
    };
    (
        ArgumentDiff {
            name: name.to_owned(),
            summary,
            profile_allows: comparison.ours,
            baseline_allows: comparison.theirs,
            added: comparison.beyond,
            removed: comparison.dropped,
            profile_checks_arguments: comparison.ours_checks,
        },
        beyond,
    )
}

fn surface(base: &EffectivePolicy, needed: &BTreeSet<String>, native: Arch) -> Surface {
    let native_names: BTreeSet<&str> = table::all(native).into_iter().map(|(_, n)| n).collect();
    let allowed: Vec<&str> = native_names
        .iter()
        .copied()
        .filter(|name| !matches!(base.access(name), Access::Denied(_)))
        .collect();
    let removed: Vec<&str> = allowed
        .iter()
        .copied()
        .filter(|name| !needed.contains(*name))
        .collect();
    let mut dangerous: Vec<&str> = removed
        .iter()
        .copied()
        // Danger 1 notes (landlock, seccomp…) are worth a word when a run
        // starts using them, not a place among the most dangerous.
        .filter(|name| notes::danger(name) >= 2)
        .collect();
    // Most dangerous first, then by name: a stable order.
    dangerous.sort_by_key(|name| (std::cmp::Reverse(notes::danger(name)), *name));
    dangerous.truncate(MOST_DANGEROUS);
    let share = if allowed.is_empty() {
        0.0
    } else {
        removed.len() as f64 / allowed.len() as f64
    };
    Surface {
        arch: native.short_name().to_owned(),
        baseline_allowed: allowed.len(),
        kept: allowed.len() - removed.len(),
        removed: removed.len(),
        // Three decimals: enough for a percentage with one, and stable.
        removed_share: (share * 1000.0).round() / 1000.0,
        most_dangerous: dangerous
            .into_iter()
            .map(|name| RemovedSyscall {
                name: name.to_owned(),
                risk: notes::risk(name),
            })
            .collect(),
        removed_names: removed.into_iter().map(str::to_owned).collect(),
    }
}

fn conditions_text(args: &[crate::profile::ArgCondition]) -> String {
    let parts: Vec<String> = args.iter().map(ToString::to_string).collect();
    parts.join(" && ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        baseline::docker_capabilities,
        profile::{KernelVersion, SyscallSet},
    };

    fn context() -> DockerContext {
        DockerContext {
            native: Arch::X86_64,
            caps: docker_capabilities(&[], &[]).unwrap(),
            kernel: KernelVersion { major: 6, minor: 1 },
        }
    }

    fn app(names: &[&str]) -> Profile {
        let set: SyscallSet = names.iter().copied().collect();
        Profile::allow_list(Arch::X86_64, &set, None)
    }

    #[test]
    fn denied_needs_come_with_reason_and_remedy() {
        let report = diff(
            &Baseline::docker_default(),
            &app(&["read", "write", "mount", "kexec_load", "clone3", "socket"]),
            "app.json",
            &context(),
        );
        let names: Vec<&str> = report
            .denied_needed
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        // clone3 answered ENOSYS: the C library falls back to clone, so
        // nothing is needed, least of all CAP_SYS_ADMIN.
        assert_eq!(names, ["kexec_load", "mount"]);
        assert_eq!(report.falls_back.len(), 1);
        assert_eq!(report.falls_back[0].falls_back_to, "clone");
        assert!(report.falls_back[0].advice.contains("ENOSYS too"));
        let mount = &report.denied_needed[1];
        assert_eq!(
            mount.allow_with,
            Remedy::CapAdd {
                caps: vec!["CAP_SYS_ADMIN".to_owned()]
            }
        );
        assert_eq!(mount.allow_with.to_string(), "--cap-add SYS_ADMIN");
        assert_eq!(mount.errno_name, Some("EPERM"));
        assert!(mount.why.contains("mount"), "{}", mount.why);
        assert_eq!(report.denied_needed[0].allow_with, Remedy::CustomProfile);
        assert_eq!(report.conditional.len(), 1);
        assert_eq!(report.conditional[0].name, "socket");
        assert_eq!(
            report.conditional[0].baseline_allows_when,
            ["arg0 < 38", "arg0 == 39", "arg0 > 40"]
        );
    }

    #[test]
    fn surface_counts_what_the_profile_leaves_out() {
        let report = diff(
            &Baseline::docker_default(),
            &app(&["read", "write", "exit_group", "socket"]),
            "app.json",
            &context(),
        );
        let surface = &report.surface;
        assert_eq!(surface.kept, 4);
        assert_eq!(surface.removed, surface.baseline_allowed - 4);
        assert!(surface.removed_share > 0.98, "{}", surface.removed_share);
        let dangerous: Vec<&str> = surface
            .most_dangerous
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert!(dangerous.contains(&"ptrace"), "{dangerous:?}");
        assert!(
            !dangerous.contains(&"io_uring_setup"),
            "Docker denies io_uring"
        );
        assert!(!surface.removed_names.contains(&"read".to_owned()));
    }

    #[test]
    fn two_profiles_compare_as_baseline_and_profile() {
        let old = Baseline::from_profile(
            "old.json".to_owned(),
            app(&["read", "write"]),
            String::new(),
        );
        let report = diff(
            &old,
            &app(&["read", "write", "ptrace"]),
            "new.json",
            &context(),
        );
        assert_eq!(report.denied_needed.len(), 1);
        assert_eq!(report.denied_needed[0].why, "old.json does not allow it");
        assert_eq!(report.denied_needed[0].allow_with, Remedy::CustomProfile);
        assert_eq!(report.surface.baseline_allowed, 2);
        assert_eq!(report.surface.removed, 0);
    }
}
