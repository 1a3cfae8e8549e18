//! What `enforce` makes of its denials beyond its lines: the rules to add
//! for what was denied, and the suggestion file that allows it.

use super::*;

/// What a suggestion adds to the policy: whole syscalls, and argument rules
/// for the syscalls whose refused values are all known.
#[derive(Debug, Default)]
pub(super) struct Additions {
    pub(super) names: SyscallSet,
    pub(super) rules: Vec<SyscallRule>,
}

impl Additions {
    /// What allows exactly `denials`: the refused values of a syscall whose
    /// privilege is in an argument, else the syscall.
    pub(super) fn of(denials: &[DeniedSyscall]) -> Additions {
        let mut additions = Additions::default();
        for denial in denials {
            if denial.falls_back_to.is_some() {
                continue;
            }
            let rules = denial
                .values_complete()
                .then(|| values::allow_rules(&denial.name, &denial.values))
                .flatten();
            match rules {
                Some(rules) => {
                    for rule in rules {
                        if !additions
                            .rules
                            .iter()
                            .any(|r| r.names == rule.names && r.args == rule.args)
                        {
                            additions.rules.push(rule);
                        }
                    }
                }
                None => {
                    additions.names.insert(denial.name.as_str());
                }
            }
        }
        // A syscall allowed whole needs no rule for its values.
        let names = &additions.names;
        additions
            .rules
            .retain(|rule| !rule.names.iter().any(|n| names.contains(n)));
        additions
    }

    pub(super) fn is_empty(&self) -> bool {
        self.names.is_empty() && self.rules.is_empty()
    }

    /// The rules, each as one line of JSON to add to a profile's `syscalls`:
    /// the whole syscalls first.
    pub(super) fn json_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let whole = (!self.names.is_empty()).then(|| {
            SyscallRule::new(
                self.names.iter().map(str::to_owned).collect(),
                Action::Allow,
            )
        });
        for rule in whole.iter().chain(&self.rules) {
            // A rule is strings, integers and lists: it always serializes.
            lines.push(serde_json::to_string(rule).unwrap_or_default());
        }
        lines
    }
}

/// The rules that allow what a run had denied (the refused values where
/// they are known), each as one line of JSON to add to the profile's
/// `syscalls`.
pub(crate) fn allow_rules(enforcement: &Enforcement) -> Vec<String> {
    let mut additions = Additions::of(&enforcement.denials);
    for name in &enforcement.base_denied {
        additions.names.insert(name.as_str());
    }
    additions.json_lines()
}

/// The syscalls of the container runtime's base set that the profile
/// refuses (the runtime makes them under the filter, before the
/// entrypoint runs).
pub(super) fn runtime_denials(
    profile: &Profile,
    run: &EngineRun,
    engine_default: &Baseline,
) -> Result<Vec<String>, EnforceError> {
    let Some(base) = run
        .runtime()
        .and_then(|name| runtime_base::for_runtime(run.run.engine, &name))
    else {
        return Ok(Vec::new());
    };
    let context = container_context(&run.run, engine_default)?;
    let policy = EffectivePolicy::evaluate(profile, &context);
    Ok(base
        .syscalls()
        .iter()
        .filter(|name| matches!(policy.access(name), Access::Denied(_)))
        .map(str::to_owned)
        .collect())
}

/// A profile allowing exactly what was denied (the refused values of a
/// syscall whose privilege is in an argument, else the syscall), to merge
/// into the policy: it keeps the policy's default action and
/// architectures, so the two merge.
pub(super) fn write_suggestion(
    output: Output,
    policy: &Profile,
    arch: Arch,
    additions: &Additions,
    options: &EnforceOptions,
) -> Result<PathBuf, EnforceError> {
    let comment = format!(
        "syscalls {} denied while running `{}` under {}",
        if options.complain {
            "that would have been"
        } else {
            ""
        },
        redact::command_line(
            &options
                .command
                .iter()
                .map(|w| w.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        )
        .join(" "),
        options.profile.display()
    )
    .replace("  ", " ");
    let mut profile = Profile::allow_list(arch, &additions.names, Some(comment));
    if additions.names.is_empty() {
        profile.syscalls.clear();
    }
    profile.syscalls.extend(additions.rules.iter().cloned());
    profile.default_action = policy.default_action;
    profile.default_errno_ret = policy.default_errno_ret;
    profile.architectures = policy.architectures.clone();
    profile.arch_map = policy.arch_map.clone();
    let path = output
        .commit(&profile.to_json())?
        .unwrap_or_else(|| PathBuf::from("-"));
    Ok(path)
}
