//! What learning argument rules works with and makes: the learning's
//! inputs ([`Learning`], [`Widening`]), the choice of how much is checked
//! ([`Granularity`]), and what comes out ([`Learned`], the values beyond
//! the engine's default, the syscalls widened to fit the kernel's limit).

use crate::choice::choice;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::profile::{
    Action, Arch, Profile, SyscallRule, SyscallSet,
    eval::{Access, EffectivePolicy},
};

choice! {
    /// How much of the arguments a learned profile checks (`record --args`).
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Granularity {
        Names => ("names", "Syscall names only: any argument values"),
        Baseline => (
            "baseline",
            "The engine default's own conditions, for the syscalls used (natively: names \
             only); `clone3` answered with ENOSYS"
        ),
        #[default]
        Values => (
            "values",
            "Exactly the argument values the run used, within the engine's default"
        ),
    }
}

/// What a learned profile is made from, besides the recording.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Learning<'a> {
    pub arch: Arch,
    pub granularity: Granularity,
    /// For a container: the engine's default, as it applies to the run's
    /// capabilities; `None` natively.
    pub baseline: Option<&'a EffectivePolicy>,
    /// The default's name, for notes.
    pub baseline_name: &'a str,
    /// With `--include reachable`: the default a syscall's learned values
    /// are widened to (see [`Widening`]).
    pub widening: Option<Widening<'a>>,
}

/// `--include reachable` for argument values: the scan resolves which
/// syscalls a program can make, not the values it passes them, so a
/// syscall whose values were learned is widened to the default's own
/// conditions for it (the default allowing it whatever its arguments: any
/// value), as the values a path the run did not take may pass; the values
/// the run used and the default refuses are kept on top, and a syscall the
/// default refuses keeps its learned rules. A risky syscall
/// ([`crate::baseline::notes::WITHHELD_FROM_REACHABLE`]) keeps its learned
/// values but where `risky` names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Widening<'a> {
    /// The default (natively Docker's, or `--baseline`'s; a container's
    /// engine's), as it applies to the run.
    pub policy: &'a EffectivePolicy,
    /// Its name, for notes and rule comments.
    pub name: &'a str,
    /// The risky syscalls widened too (`--include-risky`).
    pub risky: &'a [String],
}

impl<'a> Learning<'a> {
    /// This learning with `widening`'s default as the one whose own
    /// conditions a syscall keeps.
    pub(super) fn within(&self, widening: &Widening<'a>) -> Learning<'a> {
        Learning {
            baseline: Some(widening.policy),
            baseline_name: widening.name,
            ..*self
        }
    }
}

/// A value (or a whole syscall) the run used that the engine's default
/// refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeyondDefault {
    pub syscall: String,
    /// What the default refuses: the syscall by name, whatever its
    /// arguments, or only the `values` named. (Stats written before this
    /// field had names only where `values` is absent.)
    #[serde(default)]
    pub kind: BeyondKind,
    /// The values by name (`PER_LINUX|READ_IMPLIES_EXEC`); `None` when the
    /// default refuses the syscall whatever its arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<String>,
    /// What the default does to them (`denied with EPERM (1)`).
    pub default: String,
}

/// What of a syscall the engine's default refuses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BeyondKind {
    /// The syscall itself, by name.
    #[default]
    Name,
    /// Argument values of a syscall it allows with others.
    Values,
}

/// The syscalls of `names` that `default` refuses whatever their
/// arguments.
pub(crate) fn names_beyond<'a>(
    default: &EffectivePolicy,
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<BeyondDefault> {
    names
        .into_iter()
        .filter_map(|name| match default.access(name) {
            Access::Denied(verdict) => Some(BeyondDefault {
                syscall: name.to_owned(),
                kind: BeyondKind::Name,
                values: None,
                default: verdict.to_string(),
            }),
            _ => None,
        })
        .collect()
}

impl std::fmt::Display for BeyondDefault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.values {
            Some(values) => write!(f, "{} with {values}", self.syscall),
            None => f.write_str(&self.syscall),
        }
    }
}

/// A syscall whose learned values were given up to fit the filter in the
/// kernel's limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Widened {
    pub syscall: String,
    /// How many rules its learned values took.
    pub rules: usize,
    /// What it allows instead (`the default's conditions`, `any value`).
    pub to: String,
}

/// What a recording's values became.
#[derive(Debug, Clone, Default)]
pub(crate) struct Learned {
    /// Syscalls whose learned values `--include reachable` widened to the
    /// default's own conditions ([`Widening`]).
    pub widened_reachable: Vec<Widened>,
    /// Allowed whatever the arguments.
    pub unconditional: SyscallSet,
    /// Rules with conditions, or with an errno of their own (`clone3`).
    pub rules: Vec<SyscallRule>,
    pub beyond_default: Vec<BeyondDefault>,
    pub widened: Vec<Widened>,
    /// What the user should know about how a syscall's rule was made.
    pub notes: Vec<String>,
    /// The compiled filter's length, where libseccomp compiled it.
    pub instructions: Option<usize>,
}

/// What one syscall gets in the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Plan {
    Unconditional,
    Rules {
        rules: Vec<SyscallRule>,
        /// Made of learned values (so it can be widened).
        learned: bool,
    },
}

impl Learned {
    /// The syscalls the profile lets run, by name (whatever their
    /// arguments, or under conditions): not clone3 answered with ENOSYS.
    pub(crate) fn allowed_names(&self) -> SyscallSet {
        let mut names = self.unconditional.clone();
        for rule in self.rules.iter().filter(|r| r.action == Action::Allow) {
            for name in &rule.names {
                names.insert(name.as_str());
            }
        }
        names
    }

    /// The profile: everything else fails with EPERM, as under Docker's
    /// default; the unconditional names in one rule commented `comment`.
    pub(crate) fn profile(&self, arch: Arch, comment: Option<String>) -> Profile {
        let mut profile = Profile::allow_list(arch, &self.unconditional, comment);
        if self.unconditional.is_empty() {
            profile.syscalls.clear();
        }
        profile.syscalls.extend(self.rules.iter().cloned());
        profile
    }

    /// How many syscalls have argument rules.
    pub(crate) fn conditional_syscalls(&self) -> usize {
        self.rules
            .iter()
            .flat_map(|r| r.names.iter())
            .collect::<BTreeSet<_>>()
            .len()
    }
}
