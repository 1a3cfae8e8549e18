//! `syscall-profile check`: the CI gate. A run's observed syscalls against
//! a committed policy: a syscall the policy does not allow fails the gate,
//! each with its risk and the command that updates the policy, and so does
//! an argument value the run used that the policy refuses (a new ioctl
//! request is a regression like a new syscall); syscalls the
//! policy allows but the run did not use are information (the policy could
//! be tightened), or a failure with `--strict`.
//!
//! Reports: text on standard output, JUnit XML (one test case per new
//! syscall, so CI systems list them in their test views), JSON
//! (`syscall-profile/check/v1`), and GitHub Actions annotations when
//! `GITHUB_ACTIONS` is set.

mod run;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::{
    baseline::{Access, Baseline, DockerContext, EffectivePolicy, notes},
    exit,
    judge::standing::{self, ValueStanding},
    profile::Profile,
    syscall_args::allowance::{ArgValue, Comparison, Values},
};

pub(crate) use run::{CheckRequest, Checked, run};

/// Why a check could not be made (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(
        "nothing to check: give --observed FILE, or the command to record after `--`, e.g. \
         `syscall-profile check --policy policy.json -- ./run-tests`"
    )]
    NothingToCheck,
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    #[error(transparent)]
    Baseline(#[from] crate::baseline::BaselineError),
    #[error("recording failed: {0}")]
    Record(#[from] crate::record::RecordError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(
        "the recording is incomplete: a process left the recorded cgroup (see above), so the \
         run cannot be checked"
    )]
    Incomplete,
    #[error(
        "--coverage needs the programs of the run, and none could be scanned (see the \
         warnings above)"
    )]
    NoCoverage,
}

/// The JSON report's schema name.
pub(crate) const SCHEMA: &str = "syscall-profile/check/v1";

/// The outcome of a check.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CheckReport {
    pub schema: &'static str,
    pub policy: String,
    /// The observed profile's file, when one was given or saved.
    pub observed: Option<String>,
    /// The recorded command, when `check` recorded one.
    pub command: Option<Vec<String>>,
    /// Its exit status.
    pub command_exit_code: Option<i32>,
    pub strict: bool,
    /// The engine default the new syscalls are set against, and why it is
    /// that one (`podman's default (...), the default of `podman run``).
    pub baseline: String,
    pub passed: bool,
    pub exit_code: i32,
    /// How many syscalls the run used.
    pub observed_count: usize,
    /// Syscalls the run used that the policy does not allow.
    pub new_syscalls: Vec<NewSyscall>,
    /// Argument values the run used that the policy refuses, for syscalls
    /// it allows under argument conditions.
    pub new_values: Vec<NewValue>,
    /// Syscalls the run used that the policy allows only under argument
    /// conditions, which a recording of names cannot confirm.
    pub conditional: Vec<ConditionalSyscall>,
    /// Syscalls the policy allows that the run did not use.
    pub unused: Vec<String>,
    /// Argument values the policy allows that the run did not use, of
    /// syscalls both check the arguments of (information: the policy could
    /// be tightened).
    pub unused_values: Vec<UnusedValues>,
    /// The command that updates the policy to allow what the run used.
    pub update_command: Option<String>,
    /// With `--coverage PCT`: the run's coverage of what its programs can
    /// reach, against the threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageCheck>,
}

/// The coverage gate: a run that exercised less than `threshold` percent of
/// the syscalls its programs can reach fails, however its syscalls fit the
/// policy.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CoverageCheck {
    pub percent: f64,
    pub threshold: f64,
    pub passed: bool,
    pub covered: usize,
    pub reachable: usize,
    /// Reachable but not observed, the riskiest first.
    pub unobserved: Vec<String>,
    /// The shared objects scanned that the run loaded at run time
    /// (`dlopen`), not through its executables' DT_NEEDED entries.
    pub loaded_at_run_time: Vec<std::path::PathBuf>,
}

impl CheckReport {
    /// Applies the coverage gate: below the threshold, a passing check fails
    /// (exit status 1).
    pub(crate) fn gate_coverage(&mut self, coverage: &crate::coverage::Coverage, threshold: f64) {
        let passed = coverage.percent() >= threshold;
        self.coverage = Some(CoverageCheck {
            percent: coverage.percent(),
            threshold,
            passed,
            covered: coverage.covered,
            reachable: coverage.reachable,
            unobserved: coverage.unobserved.clone(),
            loaded_at_run_time: coverage.loaded_at_run_time.clone(),
        });
        if !passed {
            self.passed = false;
            if self.exit_code == exit::SUCCESS || self.exit_code == exit::COMMAND_FAILED {
                self.exit_code = exit::OUTSIDE_POLICY;
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct NewSyscall {
    pub name: String,
    pub risk: String,
    /// What the engine's default profile (the report's `baseline`) does
    /// with it on this host: `allowed`, `conditional` or `denied`.
    pub engine_default: &'static str,
    /// The same under its first name (v1 only ever gains fields): it was
    /// Docker's default when that was the only baseline.
    pub docker_default: &'static str,
}

/// An argument value the run used that the policy refuses.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NewValue {
    pub name: String,
    /// The value by name and number: `request TIOCSTI (0x5412)`.
    pub value: String,
    /// The same, argument by argument (empty when `value` is a range:
    /// `all but …`).
    pub args: Vec<ArgValue>,
    /// What the policy lets through of the syscall (`FIONREAD, TCGETS`).
    pub policy_allows: String,
    /// What the engine's default profile (the report's `baseline`) does
    /// with this value on this host: `allowed` or `refused`.
    pub engine_default: &'static str,
}

/// The values of a syscall the policy allows and the run did not use.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UnusedValues {
    pub name: String,
    /// By name: `TCGETS, TIOCGWINSZ`.
    pub values: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ConditionalSyscall {
    pub name: String,
    pub policy_allows_when: Vec<String>,
}

/// What was checked against what.
pub(crate) struct CheckInput<'a> {
    pub policy: &'a Profile,
    pub policy_name: &'a str,
    pub observed: &'a Profile,
    pub observed_name: Option<&'a str>,
    pub command: Option<Vec<String>>,
    pub command_exit_code: Option<i32>,
    pub strict: bool,
    /// The engine default new syscalls are set against: the one the
    /// command's engine applies, Docker's for a native command.
    pub baseline: &'a Baseline,
    /// How to produce the observed profile again, for the update command:
    /// the `record` command and the file it writes (`None`: the observed
    /// profile is the file `observed_name`).
    pub record_again: Option<(String, String)>,
}

/// Checks `input.observed` against `input.policy`, both evaluated as the
/// engine would apply them on this host (`context`).
pub(crate) fn check(input: &CheckInput<'_>, context: &DockerContext) -> CheckReport {
    let policy = EffectivePolicy::evaluate(input.policy, context);
    let observed_policy = EffectivePolicy::evaluate(input.observed, context);
    let observed = observed_policy.runnable_names();
    let baseline = input.baseline;
    let default = baseline.evaluate(context);

    let mut new_syscalls = Vec::new();
    let mut new_values = Vec::new();
    let mut unused_values = Vec::new();
    let mut conditional = Vec::new();
    for (name, standing) in standing::stand_profile(&policy, &observed_policy) {
        match (standing.access, standing.values) {
            // A run recorded with its argument values: each value the
            // policy refuses is new (with too many conditions to compare,
            // a note, as for a run of names).
            (Access::Conditional { .. }, Some(ValueStanding::Compared(comparison)))
                if comparison.ours_checks && comparison.too_many_conditions.is_none() =>
            {
                new_values.extend(values_beyond(&comparison, &default));
                if !comparison.dropped.is_nothing() {
                    unused_values.push(UnusedValues {
                        name,
                        values: comparison.dropped.to_string(),
                    });
                }
            }
            (Access::Allowed, _) => {}
            (Access::Denied(_), _) => {
                let engine_default = match default.access(&name) {
                    Access::Allowed => "allowed",
                    Access::Conditional { .. } => "conditional",
                    Access::Denied(_) => "denied",
                };
                let risk = match notes::note_for(&name) {
                    Some(note) => note.risk.to_owned(),
                    None => match engine_default {
                        "allowed" => {
                            format!("low: {} allows it in every container", baseline.name)
                        }
                        "conditional" => {
                            format!("{} allows it only for some arguments", baseline.name)
                        }
                        _ => format!(
                            "{} denies it: {}",
                            baseline.name,
                            baseline.why_denied(&name)
                        ),
                    },
                };
                new_syscalls.push(NewSyscall {
                    name,
                    risk,
                    engine_default,
                    docker_default: engine_default,
                });
            }
            (Access::Conditional { when, .. }, _) => conditional.push(ConditionalSyscall {
                name,
                policy_allows_when: when
                    .iter()
                    .filter(|g| g.verdict.runs())
                    .map(|g| {
                        g.args
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(" && ")
                    })
                    .collect(),
            }),
        }
    }
    let allowed: BTreeSet<String> = policy.runnable_names();
    let unused: Vec<String> = allowed.difference(&observed).cloned().collect();

    let outside =
        !new_syscalls.is_empty() || !new_values.is_empty() || (input.strict && !unused.is_empty());
    let command_failed = input.command_exit_code.is_some_and(|code| code != 0);
    let exit_code = if outside {
        exit::OUTSIDE_POLICY
    } else if command_failed {
        exit::COMMAND_FAILED
    } else {
        exit::SUCCESS
    };
    let update_command = (!new_syscalls.is_empty() || !new_values.is_empty()).then(|| {
        let merge = |observed: &str| {
            format!(
                "syscall-profile merge {} {} -o {}",
                crate::text::shell_quote(input.policy_name),
                crate::text::shell_quote(observed),
                crate::text::shell_quote(input.policy_name)
            )
        };
        match (&input.record_again, input.observed_name) {
            (Some((record, file)), _) => format!("{record} && {}", merge(file)),
            (None, Some(observed)) => merge(observed),
            (None, None) => merge("observed.json"),
        }
    });
    CheckReport {
        schema: SCHEMA,
        policy: input.policy_name.to_owned(),
        observed: input.observed_name.map(str::to_owned),
        command: input.command.clone(),
        command_exit_code: input.command_exit_code,
        strict: input.strict,
        baseline: baseline.describe(),
        passed: exit_code == exit::SUCCESS,
        exit_code,
        observed_count: observed.len(),
        new_syscalls,
        new_values,
        conditional,
        unused,
        unused_values,
        update_command,
        coverage: None,
    }
}

/// The values the run used that the policy refuses (`comparison` is the
/// run's against the policy's), each with what the engine's default does
/// with it.
fn values_beyond(comparison: &Comparison, default: &EffectivePolicy) -> Vec<NewValue> {
    let name = comparison.syscall.as_str();
    let engine_default = |calls: &[[u64; 6]]| {
        if calls.iter().all(|call| default.verdict(name, call).runs()) {
            "allowed"
        } else {
            "refused"
        }
    };
    let new_value = |value: String, args: Vec<ArgValue>, calls: &[[u64; 6]]| NewValue {
        name: name.to_owned(),
        value,
        args,
        policy_allows: comparison.theirs.to_string(),
        engine_default: engine_default(calls),
    };
    match &comparison.beyond {
        Values::Nothing => Vec::new(),
        Values::Only(items) => items
            .iter()
            .map(|item| new_value(item.describe(), item.args.clone(), &item.calls))
            .collect(),
        values => vec![new_value(
            format!("values: {values}"),
            Vec::new(),
            &comparison.beyond_calls,
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        baseline::docker_capabilities,
        profile::{Arch, KernelVersion, SyscallSet},
    };

    fn context() -> DockerContext {
        DockerContext {
            native: Arch::X86_64,
            caps: docker_capabilities(&[], &[]).unwrap(),
            kernel: KernelVersion { major: 6, minor: 1 },
        }
    }

    fn allow(names: &[&str]) -> Profile {
        let set: SyscallSet = names.iter().copied().collect();
        Profile::allow_list(Arch::X86_64, &set, None)
    }

    fn input<'a>(policy: &'a Profile, observed: &'a Profile, strict: bool) -> CheckInput<'a> {
        static DOCKER: std::sync::LazyLock<Baseline> =
            std::sync::LazyLock::new(Baseline::docker_default);
        CheckInput {
            baseline: &DOCKER,
            policy,
            policy_name: "policy.json",
            observed,
            observed_name: Some("new run.json"),
            command: None,
            command_exit_code: None,
            strict,
            record_again: None,
        }
    }

    #[test]
    fn new_syscall_fails_with_risk_and_update_command() {
        let policy = allow(&["read", "write", "exit_group"]);
        let observed = allow(&["read", "write", "exit_group", "ptrace"]);
        let report = check(&input(&policy, &observed, false), &context());
        assert_eq!(report.exit_code, exit::OUTSIDE_POLICY);
        assert!(!report.passed);
        assert_eq!(report.new_syscalls.len(), 1);
        assert_eq!(report.new_syscalls[0].name, "ptrace");
        assert_eq!(report.new_syscalls[0].engine_default, "allowed");
        assert!(report.new_syscalls[0].risk.contains("other processes"));
        assert_eq!(
            report.update_command.as_deref(),
            Some("syscall-profile merge policy.json 'new run.json' -o policy.json")
        );
    }

    /// New syscalls are set against the engine default given: io_uring is
    /// allowed by Docker 20.10's built-in profile, denied by moby's.
    #[test]
    fn new_syscalls_are_set_against_the_engine_default_given() {
        use crate::{baseline::EngineDefault, engine::Engine};
        let policy = allow(&["read"]);
        let observed = allow(&["read", "io_uring_setup"]);
        let verdict = |baseline: &Baseline| {
            let mut input = input(&policy, &observed, false);
            input.baseline = baseline;
            let report = check(&input, &context());
            (report.new_syscalls[0].engine_default, report.baseline)
        };
        let old = Baseline::for_engine(Engine::Docker, Some("20.10.24+dfsg1"));
        assert_eq!(old.engine_default, Some(EngineDefault::Docker2010));
        let (said, named) = verdict(&old);
        assert_eq!(said, "allowed");
        assert!(named.contains("Docker engine 20.10"), "{named}");
        let (said, named) = verdict(&Baseline::for_engine(Engine::Docker, Some("28.2.2")));
        assert_eq!(said, "denied");
        assert!(named.contains("28.2.2"), "{named}");
    }

    #[test]
    fn unused_is_information_unless_strict() {
        let policy = allow(&["read", "write", "exit_group", "openat"]);
        let observed = allow(&["read", "write", "exit_group"]);
        let report = check(&input(&policy, &observed, false), &context());
        assert_eq!(report.exit_code, exit::SUCCESS);
        assert_eq!(report.unused, ["openat"]);
        assert!(report.update_command.is_none());
        let strict = check(&input(&policy, &observed, true), &context());
        assert_eq!(strict.exit_code, exit::OUTSIDE_POLICY);
    }

    fn with_ioctls(requests: &[u64]) -> Profile {
        let mut profile = allow(&["read", "exit_group"]);
        for &request in requests {
            let mut rule = crate::profile::SyscallRule::new(
                vec!["ioctl".to_owned()],
                crate::profile::Action::Allow,
            );
            rule.args = vec![crate::profile::ArgCondition {
                index: 1,
                value: request,
                value_two: 0,
                op: crate::profile::CompareOp::Equal,
            }];
            profile.syscalls.push(rule);
        }
        profile
    }

    #[test]
    fn a_new_argument_value_fails_like_a_new_syscall() {
        const FIONREAD: u64 = 0x541b;
        const TIOCSTI: u64 = 0x5412;
        let policy = with_ioctls(&[FIONREAD]);
        let observed = with_ioctls(&[FIONREAD, TIOCSTI]);
        let report = check(&input(&policy, &observed, false), &context());
        assert_eq!(report.exit_code, exit::OUTSIDE_POLICY);
        assert!(report.new_syscalls.is_empty());
        assert_eq!(report.new_values.len(), 1);
        assert_eq!(report.new_values[0].value, "request TIOCSTI (0x5412)");
        assert_eq!(report.new_values[0].policy_allows, "FIONREAD");
        assert!(report.unused_values.is_empty());
        // The other way round: TIOCSTI allowed and unused, information.
        let tighter = check(&input(&observed, &policy, false), &context());
        assert_eq!(tighter.exit_code, exit::SUCCESS);
        assert_eq!(tighter.unused_values[0].name, "ioctl");
        assert_eq!(tighter.unused_values[0].values, "TIOCSTI");
        assert!(report.conditional.is_empty());
        assert!(report.update_command.is_some());
        // The same values pass; a run of names only is a note, as before.
        let same = check(&input(&policy, &policy, false), &context());
        assert_eq!(same.exit_code, exit::SUCCESS);
        let names = allow(&["read", "exit_group", "ioctl"]);
        let unchecked = check(&input(&policy, &names, false), &context());
        assert_eq!(unchecked.exit_code, exit::SUCCESS);
        assert_eq!(unchecked.conditional[0].name, "ioctl");
    }

    #[test]
    fn a_failed_command_is_its_own_exit_status() {
        let policy = allow(&["read"]);
        let mut failed = input(&policy, &policy, false);
        failed.command_exit_code = Some(1);
        assert_eq!(check(&failed, &context()).exit_code, exit::COMMAND_FAILED);
    }

    #[test]
    fn quoting_round_trips_through_a_shell() {
        assert_eq!(crate::text::shell_quote("policy.json"), "policy.json");
        assert_eq!(crate::text::shell_quote("it's here"), r"'it'\''s here'");
        assert_eq!(crate::text::shell_quote(""), "''");
    }
}
