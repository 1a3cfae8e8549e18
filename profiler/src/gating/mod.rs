//! `syscall-profile check`: the CI gate. A run's observed syscalls against
//! a committed policy: a syscall the policy does not allow fails the gate,
//! each with its risk and the command that updates the policy; syscalls the
//! policy allows but the run did not use are information (the policy could
//! be tightened), or a failure with `--strict`.
//!
//! Reports: text on standard output, JUnit XML (one test case per new
//! syscall, so CI systems list them in their test views), JSON
//! (`syscall-profile/check/v1`), and GitHub Actions annotations when
//! `GITHUB_ACTIONS` is set.

mod report;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::{
    baseline::{Access, Baseline, DockerContext, EffectivePolicy, notes},
    exit,
    profile::Profile,
};

pub use report::{github_annotations, junit_xml, text};

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
    Record(#[from] crate::recording::RecordError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(
        "the recording is incomplete: a process left the recorded cgroup (see above), so the \
         run cannot be checked"
    )]
    Incomplete,
    #[error(
        "--coverage needs the programs of the run, and none could be scanned (a container's \
         are in its image: `syscall-profile scan --image IMAGE`)"
    )]
    NoCoverage,
}

/// The JSON report's schema name.
pub const SCHEMA: &str = "syscall-profile/check/v1";

/// The outcome of a check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
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
    /// Syscalls the run used that the policy allows only under argument
    /// conditions, which a recording of names cannot confirm.
    pub conditional: Vec<ConditionalSyscall>,
    /// Syscalls the policy allows that the run did not use.
    pub unused: Vec<String>,
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
pub struct CoverageCheck {
    pub percent: f64,
    pub threshold: f64,
    pub passed: bool,
    pub covered: usize,
    pub reachable: usize,
    /// Reachable but not observed, the riskiest first.
    pub unobserved: Vec<String>,
}

impl CheckReport {
    /// Applies the coverage gate: below the threshold, a passing check fails
    /// (exit status 1).
    pub fn gate_coverage(&mut self, coverage: &crate::coverage::Coverage, threshold: f64) {
        let passed = coverage.percent() >= threshold;
        self.coverage = Some(CoverageCheck {
            percent: coverage.percent(),
            threshold,
            passed,
            covered: coverage.covered,
            reachable: coverage.reachable,
            unobserved: coverage.unobserved.clone(),
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
pub struct NewSyscall {
    pub name: String,
    pub risk: String,
    /// What the engine's default profile (the report's `baseline`) does
    /// with it on this host: `allowed`, `conditional` or `denied`.
    pub engine_default: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConditionalSyscall {
    pub name: String,
    pub policy_allows_when: Vec<String>,
}

/// What was checked against what.
pub struct CheckInput<'a> {
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
pub fn check(input: &CheckInput<'_>, context: &DockerContext) -> CheckReport {
    let policy = EffectivePolicy::evaluate(input.policy, context);
    let observed = EffectivePolicy::evaluate(input.observed, context).runnable_names();
    let baseline = input.baseline;
    let default = baseline.evaluate(context);

    let mut new_syscalls = Vec::new();
    let mut conditional = Vec::new();
    for name in &observed {
        match policy.access(name) {
            Access::Allowed => {}
            Access::Denied(_) => {
                let engine_default = match default.access(name) {
                    Access::Allowed => "allowed",
                    Access::Conditional { .. } => "conditional",
                    Access::Denied(_) => "denied",
                };
                let risk = match notes::note_for(name) {
                    Some(note) => note.risk.to_owned(),
                    None => match engine_default {
                        "allowed" => {
                            format!("low: {} allows it in every container", baseline.name)
                        }
                        "conditional" => {
                            format!("{} allows it only for some arguments", baseline.name)
                        }
                        _ => format!("{} denies it: {}", baseline.name, baseline.why_denied(name)),
                    },
                };
                new_syscalls.push(NewSyscall {
                    name: name.clone(),
                    risk,
                    engine_default,
                });
            }
            Access::Conditional { when, .. } => conditional.push(ConditionalSyscall {
                name: name.clone(),
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

    let outside = !new_syscalls.is_empty() || (input.strict && !unused.is_empty());
    let command_failed = input.command_exit_code.is_some_and(|code| code != 0);
    let exit_code = if outside {
        exit::OUTSIDE_POLICY
    } else if command_failed {
        exit::COMMAND_FAILED
    } else {
        exit::SUCCESS
    };
    let update_command = (!new_syscalls.is_empty()).then(|| {
        let merge = |observed: &str| {
            format!(
                "syscall-profile merge {} {} -o {}",
                shell_quote(input.policy_name),
                shell_quote(observed),
                shell_quote(input.policy_name)
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
        conditional,
        unused,
        update_command,
        coverage: None,
    }
}

/// `word` as a POSIX shell reads it back: bare when it is plainly safe,
/// else single-quoted.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:=@%+-,".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
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

    #[test]
    fn a_failed_command_is_its_own_exit_status() {
        let policy = allow(&["read"]);
        let mut failed = input(&policy, &policy, false);
        failed.command_exit_code = Some(1);
        assert_eq!(check(&failed, &context()).exit_code, exit::COMMAND_FAILED);
    }

    #[test]
    fn quoting_round_trips_through_a_shell() {
        assert_eq!(shell_quote("policy.json"), "policy.json");
        assert_eq!(shell_quote("it's here"), r"'it'\''s here'");
        assert_eq!(shell_quote(""), "''");
    }
}
