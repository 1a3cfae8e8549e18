//! Syscalls a profile needs although a recording sees them only by chance.
//!
//! The kernel, the C library and language runtimes make some syscalls on a
//! program's behalf depending on timing rather than on the program's code:
//! `restart_syscall` only when a stop or a freeze interrupts a sleep,
//! `rt_sigreturn` only when a signal comes, the Go runtime's preemption and
//! polling calls only when its monitor thread happens to act. A profile
//! learned from a run where they did not happen makes a later run fail. The
//! rules that add them when their trigger was seen are data, each with its
//! evidence: `profiler/data/implied-syscalls.json`.

mod elf;

use std::{path::PathBuf, sync::OnceLock};

use serde::{Deserialize, Serialize};

pub use self::elf::{DetectError, Runtime, detect_runtime};
use crate::profile::{Arch, SyscallSet, table};

const DATA: &str = include_str!("../../data/implied-syscalls.json");

/// The data file as shipped.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub about: String,
    /// What the kernel and the C library add, for any program.
    pub kernel: Vec<Rule>,
    /// What a recognised language runtime adds.
    pub runtimes: Vec<RuntimeRules>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeRules {
    /// Matches [`Runtime::key`].
    pub runtime: String,
    pub name: String,
    pub recognised_by: String,
    pub rules: Vec<Rule>,
}

/// One implied syscall.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub syscall: String,
    pub when_seen: When,
    /// What the summary says about it.
    pub reason: String,
    /// Why the rule holds: sources and measurements.
    pub evidence: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum When {
    /// `"always"`.
    Always(AlwaysTag),
    /// When any of these names was seen (or added by another rule).
    AnyOf(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlwaysTag {
    Always,
}

/// The shipped rules, parsed once.
pub fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        serde_json::from_str(DATA).expect("the shipped implied-syscalls.json parses (unit-tested)")
    })
}

/// A syscall added to a profile, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Added {
    pub name: String,
    /// A sentence for the summary and `--stats`.
    pub reason: String,
    /// For a runtime's rule: the runtime (`Go (go1.19.8)`) and the
    /// executable it was recognised in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<PathBuf>,
}

/// A runtime recognised in one of the recorded executables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recognised {
    pub runtime: Runtime,
    pub executable: PathBuf,
}

/// What [`complete`] found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Implied {
    /// Names added, in the order the rules added them (none was observed).
    pub added: Vec<Added>,
    /// Runtimes recognised, by executable.
    pub runtimes: Vec<Recognised>,
    /// Things the user should know: executables that could not be read,
    /// implied names the host's libseccomp does not know (left out).
    pub warnings: Vec<String>,
}

impl Implied {
    /// The added names.
    #[cfg(test)]
    pub(crate) fn names(&self) -> SyscallSet {
        self.added.iter().map(|a| a.name.as_str()).collect()
    }
}

/// The syscalls `observed` implies: the kernel's rules for any program, and
/// the rules of each runtime recognised in `executables` (the recorded
/// command's, when it is known; empty for a container). Rules apply until
/// nothing changes, so a runtime's `nanosleep` brings `restart_syscall`.
/// Names the host's table or libseccomp does not know are left out with a
/// warning.
pub(crate) fn complete(arch: Arch, observed: &SyscallSet, executables: &[PathBuf]) -> Implied {
    let mut implied = Implied::default();
    let rules = rules();
    let mut active: Vec<(&Rule, Option<&Recognised>)> = Vec::new();
    for executable in executables {
        match detect_runtime(executable) {
            Ok(Some(runtime)) => implied.runtimes.push(Recognised {
                runtime,
                executable: executable.clone(),
            }),
            Ok(None) => {}
            Err(e) => implied.warnings.push(e.to_string()),
        }
    }
    for recognised in &implied.runtimes {
        let own = rules
            .runtimes
            .iter()
            .filter(|r| r.runtime == recognised.runtime.key());
        for runtime_rules in own {
            active.extend(
                runtime_rules
                    .rules
                    .iter()
                    .map(|rule| (rule, Some(recognised))),
            );
        }
    }
    active.extend(rules.kernel.iter().map(|rule| (rule, None)));

    let mut known = observed.clone();
    let mut left_out = SyscallSet::new();
    let mut added = Vec::new();
    let mut warnings = Vec::new();
    loop {
        let mut changed = false;
        for (rule, recognised) in &active {
            if known.contains(&rule.syscall) || left_out.contains(&rule.syscall) {
                continue;
            }
            let because = match &rule.when_seen {
                When::Always(_) => None,
                When::AnyOf(triggers) => match triggers.iter().find(|t| known.contains(t)) {
                    Some(trigger) => Some(trigger),
                    None => continue,
                },
            };
            if table::knows(arch, &rule.syscall) != Some(true)
                || !table::libseccomp_knows(arch, &rule.syscall)
            {
                warnings.push(format!(
                    "`{}` is implied ({}), but the syscall table or the libseccomp on this host \
                     does not know it on {}: left out of the profile",
                    rule.syscall,
                    rule.reason,
                    arch.short_name()
                ));
                left_out.insert(rule.syscall.as_str());
                continue;
            }
            let mut reason = rule.reason.clone();
            if let Some(trigger) = because {
                if observed.contains(trigger) {
                    reason.push_str(&format!(": {trigger} was seen"));
                } else {
                    reason.push_str(&format!(": {trigger} was added"));
                }
            }
            added.push(Added {
                name: rule.syscall.clone(),
                reason,
                runtime: recognised.map(|r| r.runtime.describe()),
                executable: recognised.map(|r| r.executable.clone()),
            });
            known.insert(rule.syscall.as_str());
            changed = true;
        }
        if !changed {
            break;
        }
    }
    implied.added = added;
    implied.warnings.extend(warnings);
    implied
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> SyscallSet {
        names.iter().copied().collect()
    }

    fn host() -> Arch {
        Arch::host().expect("a supported host")
    }

    #[test]
    fn shipped_rules_parse_and_name_real_syscalls() {
        let rules = rules();
        let all = rules
            .kernel
            .iter()
            .chain(rules.runtimes.iter().flat_map(|r| &r.rules));
        for rule in all {
            assert!(!rule.evidence.is_empty() && !rule.reason.is_empty());
            let names = std::iter::once(&rule.syscall).chain(match &rule.when_seen {
                When::AnyOf(triggers) => triggers.iter(),
                When::Always(_) => [].iter(),
            });
            for name in names {
                let known = [Arch::X86_64, Arch::X86, Arch::Aarch64, Arch::Arm]
                    .iter()
                    .any(|&arch| table::knows(arch, name) == Some(true));
                assert!(known, "{name} is in no syscall table");
            }
        }
        assert!(rules.runtimes.iter().any(|r| r.runtime == "go"));
    }

    #[test]
    fn a_sleep_implies_restart_syscall_and_a_handler_rt_sigreturn() {
        let implied = complete(
            host(),
            &set(&["nanosleep", "rt_sigaction", "exit_group"]),
            &[],
        );
        let names = implied.names();
        assert_eq!(names, set(&["restart_syscall", "rt_sigreturn", "exit"]));
        let restart = &implied.added[0];
        assert_eq!(restart.name, "restart_syscall");
        assert!(
            restart.reason.ends_with("nanosleep was seen"),
            "{}",
            restart.reason
        );
        assert_eq!(restart.runtime, None);
    }

    #[test]
    fn untriggered_rules_add_only_the_exits() {
        // ppoll is resumed by repeating ppoll itself, not by restart_syscall.
        let implied = complete(host(), &set(&["ppoll", "write"]), &[]);
        assert_eq!(implied.names(), set(&["exit", "exit_group"]));
        assert!(implied.warnings.is_empty());
    }

    #[test]
    fn nothing_observed_twice() {
        let observed = set(&["futex", "restart_syscall", "exit", "exit_group"]);
        assert!(complete(host(), &observed, &[]).added.is_empty());
    }

    #[test]
    fn a_script_is_no_runtime_and_no_error() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\nexec true\n").unwrap();
        let implied = complete(host(), &SyscallSet::new(), &[script]);
        assert!(implied.runtimes.is_empty());
        assert!(implied.warnings.is_empty());
    }

    #[test]
    fn an_unreadable_executable_is_a_warning() {
        let implied = complete(host(), &SyscallSet::new(), &["/nonexistent/app".into()]);
        assert_eq!(implied.warnings.len(), 1, "{:?}", implied.warnings);
        assert!(implied.warnings[0].contains("/nonexistent/app"));
        assert_eq!(implied.names(), set(&["exit", "exit_group"]));
    }
}
