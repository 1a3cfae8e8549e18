//! A Docker-format profile evaluated the way Docker evaluates it for one
//! container: which rules it keeps (by capability, architecture and kernel
//! version), and so what each syscall gets.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Arch, ArgCondition, Capability, ENOSYS, Filter, KernelVersion, Profile, Verdict, table,
};

/// What Docker evaluates a profile against: the daemon's native
/// architecture, the container's capability set, the running kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerContext {
    pub native: Arch,
    pub caps: BTreeSet<Capability>,
    pub kernel: KernelVersion,
}

/// One kept rule's effect on a syscall: the verdict, when all of `args`
/// hold (always, when there are none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub args: Vec<ArgCondition>,
    pub verdict: Verdict,
}

/// What a syscall gets under a profile, summed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Runs, whatever its arguments.
    Allowed,
    /// Never runs: every call gets this verdict.
    Denied(Verdict),
    /// Depends on the arguments: `when` lists argument checks (each an AND
    /// of conditions, the list an OR) with their verdicts; calls matching
    /// none get `otherwise`.
    Conditional {
        when: Vec<Grant>,
        otherwise: Verdict,
    },
}

impl Access {
    pub(crate) fn is_allowed(&self) -> bool {
        matches!(self, Access::Allowed)
    }

    /// The verdict for one call with arguments `args`: the first argument
    /// check that holds decides, else `otherwise`.
    pub(crate) fn verdict(&self, args: &[u64; 6]) -> Verdict {
        match self {
            Access::Allowed => Verdict::ALLOW,
            Access::Denied(verdict) => *verdict,
            Access::Conditional { when, otherwise } => when
                .iter()
                .find(|grant| {
                    grant.args.iter().all(|cond| {
                        args.get(cond.index as usize)
                            .is_some_and(|&arg| cond.holds_for(arg))
                    })
                })
                .map_or(*otherwise, |grant| grant.verdict),
        }
    }
}

/// What the C libraries (glibc, musl) do when a syscall is answered with
/// ENOSYS: `clone3` falls back to `clone` (moby/moby#42680), whose flags
/// are in registers, where a filter can check them.
const FALLBACKS: &[(&str, &str)] = &[("clone3", "clone")];

/// A profile as Docker applies it to one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicy {
    /// The architectures of the filter (the native one first).
    pub arches: Vec<Arch>,
    /// What a syscall no kept rule names gets.
    pub default: Verdict,
    /// The kept rules, per syscall name, in the profile's order.
    pub grants: BTreeMap<String, Vec<Grant>>,
}

/// `profile` as Docker hands it to the runtime for a container in
/// `context`: the rules whose `includes`/`excludes` do not hold there
/// dropped, the others without them (the runtime spec has no such fields).
pub(crate) fn resolved(profile: &Profile, context: &DockerContext) -> Profile {
    let mut resolved = profile.clone();
    resolved
        .syscalls
        .retain(|rule| keeps(&rule.includes, &rule.excludes, context));
    for rule in &mut resolved.syscalls {
        rule.includes = Filter::default();
        rule.excludes = Filter::default();
    }
    resolved
}

/// Whether Docker keeps a rule with these filters, as moby's profile code
/// decides: every `includes` condition holds and no `excludes` one does.
pub(crate) fn keeps(includes: &Filter, excludes: &Filter, context: &DockerContext) -> bool {
    let go_arch = context.native.go_arch();
    let names_native = |filter: &Filter| {
        filter
            .arches
            .iter()
            .any(|arch| Some(arch.as_str()) == go_arch)
    };
    if names_native(excludes) {
        return false;
    }
    if excludes.caps.iter().any(|cap| context.caps.contains(cap)) {
        return false;
    }
    if excludes.min_kernel.is_some_and(|min| context.kernel >= min) {
        return false;
    }
    if !includes.arches.is_empty() && !names_native(includes) {
        return false;
    }
    if !includes.caps.iter().all(|cap| context.caps.contains(cap)) {
        return false;
    }
    if includes.min_kernel.is_some_and(|min| context.kernel < min) {
        return false;
    }
    true
}

impl EffectivePolicy {
    /// `profile` as Docker applies it in `context`.
    pub fn evaluate(profile: &Profile, context: &DockerContext) -> EffectivePolicy {
        let mut grants: BTreeMap<String, Vec<Grant>> = BTreeMap::new();
        for rule in &profile.syscalls {
            if !keeps(&rule.includes, &rule.excludes, context) {
                continue;
            }
            let verdict = Verdict::of(rule.action, rule.errno_ret);
            for name in &rule.names {
                grants.entry(name.clone()).or_default().push(Grant {
                    args: rule.args.clone(),
                    verdict,
                });
            }
        }
        EffectivePolicy {
            arches: profile.effective_arches(context.native),
            default: Verdict::of(profile.default_action, profile.default_errno_ret),
            grants,
        }
    }

    /// What syscall `name` gets.
    pub fn access(&self, name: &str) -> Access {
        let Some(grants) = self.grants.get(name) else {
            return self.default_access();
        };
        // libseccomp gives a syscall's unconditional rule to every call
        // that no argument-checked rule of it matches.
        let otherwise = grants
            .iter()
            .find(|g| g.args.is_empty())
            .map_or(self.default, |g| g.verdict);
        let when: Vec<Grant> = grants
            .iter()
            .filter(|g| !g.args.is_empty() && g.verdict != otherwise)
            .cloned()
            .collect();
        match (when.is_empty(), otherwise.runs()) {
            (true, true) => Access::Allowed,
            (true, false) => Access::Denied(otherwise),
            (false, _) => Access::Conditional { when, otherwise },
        }
    }

    fn default_access(&self) -> Access {
        if self.default.runs() {
            Access::Allowed
        } else {
            Access::Denied(self.default)
        }
    }

    /// The verdict for one call of `name` with arguments `args`.
    pub fn verdict(&self, name: &str, args: &[u64; 6]) -> Verdict {
        self.access(name).verdict(args)
    }

    /// The syscall the C library calls instead of `name` when this policy
    /// answers `name` as it does (`clone` for `clone3` answered ENOSYS): a
    /// deliberate refusal, which a program gets past without anything more.
    pub(crate) fn falls_back_to(&self, name: &str) -> Option<&'static str> {
        let enosys = Verdict::of(crate::profile::Action::Errno, Some(ENOSYS));
        FALLBACKS
            .iter()
            .find(|(from, _)| *from == name)
            .filter(|_| matches!(self.access(name), Access::Denied(v) if v == enosys))
            .map(|(_, to)| *to)
    }

    /// The syscalls the profile lets run at all (unconditionally or under
    /// conditions); with a default action that lets everything run, every
    /// name of the filter's architectures' tables.
    pub fn runnable_names(&self) -> BTreeSet<String> {
        let policy = self;
        // A name no table of the filter's architectures knows is skipped by the
        // runtime (the parser warns about it): it is nothing the profile needs.
        let checkable: Vec<Arch> = policy
            .arches
            .iter()
            .copied()
            .filter(|arch| table::has_table(*arch))
            .collect();
        let is_syscall = |name: &str| {
            checkable.is_empty()
                || checkable
                    .iter()
                    .any(|arch| table::knows(*arch, name) == Some(true))
        };
        let mut names: BTreeSet<String> = policy
            .grants
            .keys()
            .filter(|name| is_syscall(name))
            .filter(|name| !matches!(policy.access(name), Access::Denied(_)))
            .cloned()
            .collect();
        if policy.default.runs() {
            for arch in &policy.arches {
                for (_, name) in table::all(*arch) {
                    if !matches!(policy.access(name), Access::Denied(_)) {
                        names.insert(name.to_owned());
                    }
                }
            }
        }
        names
    }
}
