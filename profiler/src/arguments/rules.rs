//! Learned argument rules: what a recording's captured values become in
//! its profile.
//!
//! For each syscall the run used: one not in [`super::CAPTURED`] is allowed
//! whatever its arguments; one whose values are all known is allowed with
//! exactly those values (an equality per enumerated value, a masked
//! equality on the privileged bits of a flag word; one rule per distinct
//! tuple, its conditions ANDed, the rules ORed, as runc, crun and libseccomp
//! read them). For a container, every learned value is set against the
//! engine's default for the run's capabilities: one the default refuses is
//! still allowed (the run needed it) but named as beyond the default; where
//! values were lost, or the default's conditions look at what is not
//! captured, the syscall keeps the default's own conditions. `clone3`,
//! whose flags no filter can read, is answered with ENOSYS, so that the
//! libc falls back to `clone`, whose flags are checked. Finally the profile
//! is compiled with libseccomp: past the kernel's 4096 instructions, the
//! syscall with the most rules is widened (to the default's conditions, or
//! natively to any value), until it fits.

use crate::choice::choice;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{CLONE_NAMESPACES, NAMESPACES_WITH_TIME, Source, captured};
use crate::{
    baseline::notes,
    filter::{self, FilterError},
    profile::{
        Action, Arch, EPERM, Profile, SyscallRule, SyscallSet, Verdict,
        eval::{Access, EffectivePolicy},
    },
};

use super::CapturedCalls;

/// `ENOSYS`: what `clone3` is answered with, so that the libc falls back to
/// `clone`.
pub(crate) const ENOSYS: u32 = 38;

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
    fn within(&self, widening: &Widening<'a>) -> Learning<'a> {
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
enum Plan {
    Unconditional,
    Rules {
        rules: Vec<SyscallRule>,
        /// Made of learned values (so it can be widened).
        learned: bool,
    },
}

/// Captured values per syscall name, over every table and phase: the
/// workload's, the runtime's, and a runtime base set's (with no count).
pub(crate) fn values_by_name<'a>(
    observations: impl IntoIterator<Item = &'a super::ArgObservations>,
    base: Option<&BTreeMap<String, BTreeSet<Vec<u64>>>>,
) -> BTreeMap<String, CapturedCalls> {
    let mut out: BTreeMap<String, CapturedCalls> = BTreeMap::new();
    for observation in observations {
        for (&(arch, nr), calls) in observation {
            let Some(name) = crate::profile::table::name_of(arch, nr) else {
                continue;
            };
            let entry = out.entry(name.to_owned()).or_default();
            for (tuple, count) in &calls.values {
                *entry.values.entry(tuple.clone()).or_default() += count;
            }
            entry.lost += calls.lost;
        }
    }
    for (name, tuples) in base.into_iter().flatten() {
        let entry = out.entry(name.clone()).or_default();
        for tuple in tuples {
            entry.values.entry(tuple.clone()).or_default();
        }
    }
    out
}

/// A note per syscall of the values in `all` that the workload (`workload`)
/// never passed: the container runtime's, which it makes after installing
/// the filter, so the profile must allow them to the workload too.
pub(crate) fn runtime_only_values(
    workload: &BTreeMap<String, CapturedCalls>,
    all: &BTreeMap<String, CapturedCalls>,
    runtime: &str,
) -> Vec<String> {
    let mut notes = Vec::new();
    for (name, calls) in all {
        let Some(captured) = captured(name).filter(|c| c.source == Source::Registers) else {
            continue;
        };
        let own = workload.get(name);
        let only: Vec<String> = calls
            .values
            .keys()
            .filter(|t| !own.is_some_and(|o| o.values.contains_key(*t)))
            .map(|t| captured.describe(t))
            .collect();
        if !only.is_empty() {
            notes.push(format!(
                "{name}: {} allowed for the runtime ({runtime}), which makes these calls after \
                 installing the filter (the workload did not)",
                only.join("; ")
            ));
        }
    }
    notes
}

/// The learned rules for `syscalls`, the syscalls the profile holds, from
/// the values the run used.
pub(crate) fn learn(
    learning: &Learning,
    syscalls: &SyscallSet,
    values: &BTreeMap<String, CapturedCalls>,
) -> Learned {
    let mut learned = Learned::default();
    let mut values = values.clone();
    let mut syscalls = syscalls.clone();
    if let Some(baseline) = learning.baseline {
        // clone3 is answered with ENOSYS below, as the defaults answer it.
        learned.beyond_default = names_beyond(baseline, syscalls.iter().filter(|&n| n != "clone3"));
    }
    let mut plans: BTreeMap<String, Plan> = BTreeMap::new();
    if learning.granularity != Granularity::Names || learning.baseline.is_some() {
        clone3(
            learning,
            &mut syscalls,
            &mut values,
            &mut plans,
            &mut learned,
        );
    }
    for name in &syscalls {
        if plans.contains_key(name) {
            continue;
        }
        let plan = match learning.granularity {
            Granularity::Names => Plan::Unconditional,
            Granularity::Baseline => keep_baseline(learning, name, values.get(name), &mut learned),
            Granularity::Values => {
                let plan = by_values(learning, name, values.get(name), &mut learned);
                match &learning.widening {
                    Some(widening) => widen(
                        learning,
                        widening,
                        name,
                        plan,
                        values.get(name),
                        &mut learned,
                    ),
                    None => plan,
                }
            }
        };
        plans.insert(name.to_owned(), plan);
    }
    fit(learning, &values, &mut plans, &mut learned);
    for (name, plan) in plans {
        match plan {
            Plan::Unconditional => {
                learned.unconditional.insert(name);
            }
            Plan::Rules { rules, .. } => learned.rules.extend(rules),
        }
    }
    learned
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

/// `clone3`: answered with ENOSYS (the libc then calls `clone`, whose
/// flags a filter can check), its namespace flags folded into `clone`'s
/// values; natively allowed when the run asked for namespaces through it.
fn clone3(
    learning: &Learning,
    syscalls: &mut SyscallSet,
    values: &mut BTreeMap<String, CapturedCalls>,
    plans: &mut BTreeMap<String, Plan>,
    learned: &mut Learned,
) {
    let used = syscalls.contains("clone3");
    let calls = values.get("clone3").cloned().unwrap_or_default();
    let namespaces: BTreeSet<u64> = calls
        .values
        .keys()
        .filter_map(|t| t.first())
        .map(|flags| flags & NAMESPACES_WITH_TIME)
        .collect();
    let asked_namespaces = namespaces.iter().any(|&n| n != 0);
    if learning.baseline.is_none() {
        if !used {
            return;
        }
        if !calls.complete() || asked_namespaces {
            let why = if calls.complete() {
                "the run asked for namespaces through it"
            } else {
                "the flags of some of its calls were lost"
            };
            learned.notes.push(format!(
                "clone3 is allowed whatever its flags: {why}, and no seccomp filter can read \
                 clone3's flags (they are in memory)"
            ));
            plans.insert("clone3".to_owned(), Plan::Unconditional);
            return;
        }
    }
    let mut rule = SyscallRule::new(vec!["clone3".to_owned()], Action::Errno);
    rule.errno_ret = Some(ENOSYS);
    rule.comment = Some(
        "clone3: answered with ENOSYS, so that the libc falls back to clone, whose flags the \
         filter checks (no filter can read clone3's, in memory)"
            .to_owned(),
    );
    plans.insert(
        "clone3".to_owned(),
        Plan::Rules {
            rules: vec![rule],
            learned: false,
        },
    );
    // What the run did through clone3 it will do through clone.
    if used || !calls.values.is_empty() {
        let clone = values.entry("clone".to_owned()).or_default();
        for bits in &namespaces {
            clone
                .values
                .entry(vec![bits & CLONE_NAMESPACES])
                .or_default();
        }
        clone.lost += calls.lost;
        if used && syscalls.insert("clone") {
            learned.notes.push(
                "clone is allowed although the run did not call it: clone3 is answered with \
                 ENOSYS, and the libc then makes the same call through clone"
                    .to_owned(),
            );
        }
    }
    if learning.baseline.is_none() && used {
        learned.notes.push(
            "clone3 is answered with ENOSYS (the libc falls back to clone, whose namespace flags \
             the filter checks); the run asked for no namespace through it"
                .to_owned(),
        );
    }
}

/// The rules of syscall `name` from its learned values.
fn by_values(
    learning: &Learning,
    name: &str,
    calls: Option<&CapturedCalls>,
    learned: &mut Learned,
) -> Plan {
    let Some(captured) = captured(name) else {
        return Plan::Unconditional;
    };
    if captured.source != Source::Registers {
        // clone3 is planned apart; anything else read from memory cannot
        // be filtered.
        return Plan::Unconditional;
    }
    let fallback = match learning.baseline {
        Some(_) => "the default's conditions for it are kept",
        None => "it is allowed whatever its arguments",
    };
    let Some(calls) = calls.filter(|c| !c.values.is_empty()) else {
        // Natively with --include reachable: the default's own conditions,
        // not any value.
        let learning = match (&learning.widening, learning.baseline) {
            (Some(widening), None) => &learning.within(widening),
            _ => learning,
        };
        let fallback = match learning.baseline.map(|b| b.access(name)) {
            Some(Access::Conditional { .. }) => {
                format!(
                    "it keeps the conditions of {} for it",
                    learning.baseline_name
                )
            }
            _ => "it is allowed whatever its arguments".to_owned(),
        };
        learned.notes.push(format!(
            "{name}: no argument values were recorded (it is in the profile by a base set, as \
             implied, or by --include reachable); {fallback}"
        ));
        return keep_baseline(learning, name, None, learned);
    };
    if !calls.complete() {
        learned.notes.push(format!(
            "{name}: the values of {} call(s) were lost in the kernel; {fallback}",
            calls.lost
        ));
        return keep_baseline(learning, name, Some(calls), learned);
    }
    if let Some(baseline) = learning.baseline
        && let Some(why) = unreadable_conditions(baseline, name)
    {
        learned.notes.push(format!(
            "{name}: the default's conditions look at {why}, which is not captured; {fallback}"
        ));
        return keep_baseline(learning, name, Some(calls), learned);
    }
    let rules = value_rules(learning, name, calls.values.keys(), learned);
    // A flag word of which every combination of the privileged bits was
    // used (mmap with and without PROT_EXEC): the rules allow any value.
    if let [arg] = captured.args
        && matches!(arg.shape, super::Shape::Flags { .. })
        && arg.constrained_bits().count_ones() < 8
        && rules.len() == 1usize << arg.constrained_bits().count_ones()
    {
        return Plan::Unconditional;
    }
    Plan::Rules {
        rules,
        learned: true,
    }
}

/// `plan`, syscall `name`'s from its learned values, widened as
/// [`Widening`] says: to the default's own conditions for it, with the
/// learned values the default refuses kept on top (as where values were
/// lost, [`keep_baseline`]). A syscall the default refuses, and a risky one
/// `--include-risky` does not name, keep their learned rules (said in a
/// note).
fn widen(
    learning: &Learning,
    widening: &Widening,
    name: &str,
    plan: Plan,
    calls: Option<&CapturedCalls>,
    learned: &mut Learned,
) -> Plan {
    let Plan::Rules {
        rules,
        learned: true,
    } = &plan
    else {
        return plan;
    };
    if let Access::Denied(verdict) = widening.policy.access(name) {
        learned.notes.push(format!(
            "{name}: --include reachable keeps its learned values: {} refuses it ({verdict})",
            widening.name
        ));
        return plan;
    }
    if notes::withheld_from_reachable(name) && !widening.risky.iter().any(|r| r == name) {
        learned.notes.push(format!(
            "{name}: --include reachable keeps its learned values, it being risky ({}); \
             --include-risky {name} widens it to the conditions of {}",
            notes::risk(name),
            widening.name
        ));
        return plan;
    }
    let count = rules.len();
    // The learned values were set against the default already (by_values):
    // what keep_baseline would say of them again is not kept.
    let widened = keep_baseline(
        &learning.within(widening),
        name,
        calls,
        &mut Learned::default(),
    );
    let to = match &widened {
        Plan::Unconditional => "any value",
        Plan::Rules { .. } => "the default's conditions",
    };
    learned.widened_reachable.push(Widened {
        syscall: name.to_owned(),
        rules: count,
        to: to.to_owned(),
    });
    widened
}

/// One rule per distinct set of conditions of `tuples` (tuples that only
/// differ in bits no condition looks at share one), commented with their
/// values by name; the values the baseline refuses listed as beyond it.
fn value_rules<'t>(
    learning: &Learning,
    name: &str,
    tuples: impl IntoIterator<Item = &'t Vec<u64>>,
    learned: &mut Learned,
) -> Vec<SyscallRule> {
    let Some(captured) = captured(name) else {
        return Vec::new();
    };
    let mut by_conditions: BTreeMap<Vec<crate::profile::ArgCondition>, Vec<String>> =
        BTreeMap::new();
    for tuple in tuples {
        let conditions = captured
            .args
            .iter()
            .zip(tuple)
            .map(|(arg, &value)| arg.condition(value))
            .collect::<Vec<_>>();
        // What the condition lets through, by name (for a flag word, the
        // privileged bits only).
        let kept: Vec<u64> = conditions
            .iter()
            .map(|c| match c.op {
                crate::profile::CompareOp::MaskedEqual => c.value_two,
                _ => c.value,
            })
            .collect();
        let described = captured.describe(&kept);
        if let Some(baseline) = learning.baseline
            && matches!(baseline.access(name), Access::Conditional { .. })
        {
            let verdict = baseline.verdict(name, &super::allowance::place(captured, tuple));
            if !verdict.runs() {
                learned.beyond_default.push(BeyondDefault {
                    syscall: name.to_owned(),
                    kind: BeyondKind::Values,
                    values: Some(captured.describe(tuple)),
                    default: verdict.to_string(),
                });
            }
        }
        let names = by_conditions.entry(conditions).or_default();
        if !names.contains(&described) {
            names.push(described);
        }
    }
    by_conditions
        .into_iter()
        .map(|(args, names)| {
            let mut rule = SyscallRule::new(vec![name.to_owned()], Action::Allow);
            rule.args = args;
            rule.comment = Some(format!("{name}: {}", names.join("; ")));
            rule
        })
        .collect()
}

/// What the baseline's conditions of `name` look at that the learned rule
/// does not constrain (another argument, other bits), if anything: the
/// learned values could not be held inside the default.
fn unreadable_conditions(baseline: &EffectivePolicy, name: &str) -> Option<String> {
    let captured = captured(name)?;
    let Access::Conditional { when, .. } = baseline.access(name) else {
        return None;
    };
    for cond in when.iter().flat_map(|g| g.args.iter()) {
        let Some(arg) = captured
            .args
            .iter()
            .find(|a| u32::from(a.index) == cond.index)
        else {
            return Some(format!("argument {}", cond.index));
        };
        let seen = match cond.op {
            crate::profile::CompareOp::MaskedEqual => cond.value,
            _ => u64::MAX,
        };
        let outside = seen & !arg.constrained_bits();
        if outside != 0 {
            return Some(format!("bits {outside:#x} of its {}", arg.name));
        }
    }
    None
}

/// Syscall `name` with the baseline's own conditions (natively: allowed
/// whatever its arguments). Known values the baseline refuses are allowed
/// on top (the run needed them) and named as beyond the default.
fn keep_baseline(
    learning: &Learning,
    name: &str,
    calls: Option<&CapturedCalls>,
    learned: &mut Learned,
) -> Plan {
    let Some(baseline) = learning.baseline else {
        return Plan::Unconditional;
    };
    let (when, otherwise) = match baseline.access(name) {
        // The run needed it: allowed (and named as beyond the default).
        Access::Allowed | Access::Denied(_) => return Plan::Unconditional,
        Access::Conditional { when, otherwise } => (when, otherwise),
    };
    let mut rules: Vec<SyscallRule> = when
        .iter()
        .map(|grant| {
            let mut rule = SyscallRule::new(vec![name.to_owned()], grant.verdict.action);
            rule.errno_ret = grant.verdict.errno;
            rule.args = grant.args.clone();
            rule.comment = Some(format!("{name}: as {}", learning.baseline_name));
            rule
        })
        .collect();
    if otherwise.runs() {
        let mut rule = SyscallRule::new(vec![name.to_owned()], Action::Allow);
        rule.comment = Some(format!("{name}: as {}", learning.baseline_name));
        rules.push(rule);
    } else if otherwise != Verdict::of(Action::Errno, Some(EPERM)) {
        let mut rule = SyscallRule::new(vec![name.to_owned()], otherwise.action);
        rule.errno_ret = otherwise.errno;
        rule.comment = Some(format!("{name}: as {}", learning.baseline_name));
        rules.push(rule);
    }
    if let Some(captured) = captured(name).filter(|c| c.source == Source::Registers)
        && let Some(calls) = calls
    {
        let refused: Vec<&Vec<u64>> = calls
            .values
            .keys()
            .filter(|t| {
                !baseline
                    .verdict(name, &super::allowance::place(captured, t))
                    .runs()
            })
            .collect();
        rules.extend(value_rules(learning, name, refused, learned));
    }
    Plan::Rules {
        rules,
        learned: false,
    }
}

/// Compiles the profile with libseccomp; while it is past the kernel's
/// limit, widens the syscall with the most learned rules.
fn fit(
    learning: &Learning,
    values: &BTreeMap<String, CapturedCalls>,
    plans: &mut BTreeMap<String, Plan>,
    learned: &mut Learned,
) {
    loop {
        let mut attempt = Learned::default();
        for (name, plan) in plans.iter() {
            match plan {
                Plan::Unconditional => {
                    attempt.unconditional.insert(name.as_str());
                }
                Plan::Rules { rules, .. } => attempt.rules.extend(rules.iter().cloned()),
            }
        }
        let error = match filter::compile(&attempt.profile(learning.arch, None), learning.arch) {
            Ok(compiled) => {
                learned.instructions = Some(compiled.program.len());
                return;
            }
            Err(e @ (FilterError::TooLarge { .. } | FilterError::TooLong { .. })) => e,
            Err(e) => {
                learned.notes.push(format!(
                    "the learned profile could not be compiled here to count its \
                     instructions: {e}"
                ));
                return;
            }
        };
        let widest = plans
            .iter()
            .filter_map(|(name, plan)| match plan {
                Plan::Rules {
                    rules,
                    learned: true,
                } => Some((rules.len(), name.clone())),
                _ => None,
            })
            .max();
        let Some((count, name)) = widest else {
            learned.notes.push(format!(
                "the learned profile is past the kernel's limit and has no learned values left \
                 to widen: {error}"
            ));
            return;
        };
        // Its values were set against the default already.
        let plan = keep_baseline(learning, &name, values.get(&name), &mut Learned::default());
        let to = match (&plan, learning.baseline.is_some()) {
            (Plan::Unconditional, _) => "any value".to_owned(),
            (Plan::Rules { .. }, _) => format!("the conditions of {}", learning.baseline_name),
        };
        learned.widened.push(Widened {
            syscall: name.clone(),
            rules: count,
            to,
        });
        plans.insert(name, plan);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        arguments::ArgObservations,
        baseline::{Baseline, DockerContext},
        profile::{Capability, CompareOp, KernelVersion, table},
    };

    fn docker_default(caps: &[Capability]) -> EffectivePolicy {
        let baseline = Baseline::docker_default();
        baseline.evaluate(&DockerContext {
            native: Arch::X86_64,
            caps: caps.iter().copied().collect(),
            kernel: KernelVersion { major: 6, minor: 1 },
        })
    }

    fn observed(calls: &[(&str, &[&[u64]], u64)]) -> ArgObservations {
        calls
            .iter()
            .map(|(name, tuples, lost)| {
                let nr = table::number_of(Arch::X86_64, name).unwrap();
                let values = tuples.iter().map(|t| (t.to_vec(), 1)).collect();
                (
                    (Arch::X86_64, nr),
                    CapturedCalls {
                        values,
                        lost: *lost,
                    },
                )
            })
            .collect()
    }

    fn learn_from(
        baseline: Option<&EffectivePolicy>,
        names: &[&str],
        calls: &[(&str, &[&[u64]], u64)],
    ) -> Learned {
        let learning = Learning {
            arch: Arch::X86_64,
            granularity: Granularity::Values,
            baseline,
            baseline_name: "Docker's default",
            widening: None,
        };
        let values = values_by_name([&observed(calls)], None);
        learn(&learning, &names.iter().copied().collect(), &values)
    }

    /// As [`learn_from`] natively, with `--include reachable`'s widening
    /// to Docker's default (`risky`: `--include-risky`).
    fn learn_widened(
        default: &EffectivePolicy,
        risky: &[String],
        names: &[&str],
        calls: &[(&str, &[&[u64]], u64)],
    ) -> Learned {
        let learning = Learning {
            arch: Arch::X86_64,
            granularity: Granularity::Values,
            baseline: None,
            baseline_name: "",
            widening: Some(Widening {
                policy: default,
                name: "Docker's default",
                risky,
            }),
        };
        let values = values_by_name([&observed(calls)], None);
        learn(&learning, &names.iter().copied().collect(), &values)
    }

    fn rules_of<'a>(learned: &'a Learned, name: &str) -> Vec<&'a SyscallRule> {
        learned
            .rules
            .iter()
            .filter(|r| r.names.iter().any(|n| n == name))
            .collect()
    }

    #[test]
    fn values_become_equalities_and_flag_words_masked_equalities() {
        let learned = learn_from(
            None,
            &["socket", "clone", "read"],
            &[
                ("socket", &[&[2, 1, 0], &[1, 2, 0]], 0),
                ("clone", &[&[0x3d0f00], &[0x1200011]], 0),
            ],
        );
        assert!(learned.unconditional.contains("read"));
        let socket = rules_of(&learned, "socket");
        assert_eq!(socket.len(), 2);
        assert!(socket.iter().any(
            |r| r.comment.as_deref() == Some("socket: AF_INET, SOCK_STREAM, default protocol")
        ));
        // Two flag words without namespace bits: one rule, Docker's mask.
        let clone = rules_of(&learned, "clone");
        assert_eq!(clone.len(), 1);
        assert_eq!(clone[0].args[0].op, CompareOp::MaskedEqual);
        assert_eq!(clone[0].args[0].value, CLONE_NAMESPACES);
        assert_eq!(clone[0].args[0].value_two, 0);
        assert!(learned.instructions.is_some_and(|i| i <= 4096));
    }

    #[test]
    fn values_the_default_refuses_are_kept_and_named() {
        let default = docker_default(&[]);
        let learned = learn_from(
            Some(&default),
            &["personality", "clone"],
            &[
                ("personality", &[&[0x40_0000], &[0xffff_ffff]], 0),
                ("clone", &[&[0x1000_0011]], 0),
            ],
        );
        let named: Vec<String> = learned
            .beyond_default
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            named,
            [
                "clone with CLONE_NEWUSER|0x11",
                "personality with PER_LINUX|READ_IMPLIES_EXEC"
            ]
        );
        assert_eq!(rules_of(&learned, "personality").len(), 2);
        // clone3 is answered with ENOSYS in a container, whatever was seen.
        let clone3 = rules_of(&learned, "clone3");
        assert_eq!(clone3[0].errno_ret, Some(ENOSYS));
    }

    #[test]
    fn lost_values_keep_the_default_s_conditions() {
        let default = docker_default(&[]);
        let learned = learn_from(Some(&default), &["socket"], &[("socket", &[&[2, 1, 0]], 5)]);
        let socket = rules_of(&learned, "socket");
        // Docker's three family rules, as they are.
        let expected: Vec<_> = default.grants["socket"].iter().map(|g| &g.args).collect();
        assert_eq!(socket.iter().map(|r| &r.args).collect::<Vec<_>>(), expected);
        assert!(learned.notes.iter().any(|n| n.contains("were lost")));
        // Natively, any value.
        let learned = learn_from(None, &["socket"], &[("socket", &[&[2, 1, 0]], 5)]);
        assert!(learned.unconditional.contains("socket"));
    }

    #[test]
    fn natively_clone3_is_answered_with_enosys_and_its_flags_go_to_clone() {
        let learned = learn_from(None, &["clone3"], &[("clone3", &[&[0x3d0f00]], 0)]);
        assert_eq!(rules_of(&learned, "clone3")[0].errno_ret, Some(ENOSYS));
        let clone = rules_of(&learned, "clone");
        assert_eq!(clone.len(), 1, "the libc falls back to clone");
        assert_eq!(clone[0].args[0].value_two, 0);
        // Namespaces asked through clone3: it stays allowed, and says so.
        let learned = learn_from(None, &["clone3"], &[("clone3", &[&[0x1000_0000]], 0)]);
        assert!(learned.unconditional.contains("clone3"));
        assert!(learned.notes.iter().any(|n| n.contains("namespaces")));
    }

    #[test]
    fn the_baseline_level_keeps_the_default_s_rules_and_what_the_run_needed() {
        let default = docker_default(&[]);
        let learning = Learning {
            arch: Arch::X86_64,
            granularity: Granularity::Baseline,
            baseline: Some(&default),
            baseline_name: "Docker's default",
            widening: None,
        };
        let values = values_by_name(
            [&observed(&[(
                "personality",
                &[&[0x40_0000], &[0xffff_ffff]],
                0,
            )])],
            None,
        );
        let learned = learn(
            &learning,
            &["personality", "ioctl"].into_iter().collect(),
            &values,
        );
        assert!(learned.unconditional.contains("ioctl"));
        // Docker's five values, and the one the run needed beyond them.
        let personality = rules_of(&learned, "personality");
        assert_eq!(personality.len(), 6);
        assert_eq!(learned.beyond_default.len(), 1);
    }

    #[test]
    fn with_cap_sys_admin_clone_keeps_the_learned_bits_only() {
        let default = docker_default(&[Capability::SysAdmin]);
        let learned = learn_from(Some(&default), &["clone"], &[("clone", &[&[0x11]], 0)]);
        assert!(learned.beyond_default.is_empty());
        assert_eq!(rules_of(&learned, "clone")[0].args[0].value_two, 0);
    }

    #[test]
    fn include_reachable_widens_learned_values_to_the_default_s_own_conditions() {
        let default = docker_default(&[]);
        let learned = learn_widened(
            &default,
            &[],
            &["fcntl", "socket", "clone"],
            &[
                ("fcntl", &[&[6]], 0),
                ("socket", &[&[1, 1, 0]], 0),
                // CLONE_NEWUSER: refused by the default, needed by the run.
                ("clone", &[&[0x1000_0011], &[0x11]], 0),
            ],
        );
        // The default allows fcntl whatever its arguments: so does the
        // profile.
        assert_eq!(default.access("fcntl"), Access::Allowed);
        assert!(learned.unconditional.contains("fcntl"), "{learned:?}");
        // socket: the default's family rules, as they are.
        let expected: Vec<_> = default.grants["socket"].iter().map(|g| &g.args).collect();
        let socket: Vec<_> = rules_of(&learned, "socket")
            .iter()
            .map(|r| &r.args)
            .collect();
        assert_eq!(socket, expected);
        // clone: the default's conditions, and the learned value it refuses
        // kept on top; nothing else.
        let clone = rules_of(&learned, "clone");
        let mut expected: Vec<_> = default.grants["clone"].iter().map(|g| &g.args).collect();
        assert!(
            clone.len() == expected.len() + 1,
            "the default's {} rule(s) and CLONE_NEWUSER: {clone:?}",
            expected.len()
        );
        let newuser = clone
            .iter()
            .find(|r| {
                r.comment
                    .as_deref()
                    .is_some_and(|c| c.contains("CLONE_NEWUSER"))
            })
            .expect("the learned CLONE_NEWUSER rule kept");
        expected.push(&newuser.args);
        assert_eq!(clone.iter().map(|r| &r.args).collect::<Vec<_>>(), expected);
        let widened: Vec<(&str, &str)> = learned
            .widened_reachable
            .iter()
            .map(|w| (w.syscall.as_str(), w.to.as_str()))
            .collect();
        assert_eq!(
            widened,
            [
                ("clone", "the default's conditions"),
                ("fcntl", "any value"),
                ("socket", "the default's conditions")
            ]
        );
        // A syscall with no values (added by --include reachable): the
        // default's conditions, not any value.
        let learned = learn_widened(&default, &[], &["socket"], &[]);
        let socket: Vec<_> = rules_of(&learned, "socket")
            .iter()
            .map(|r| &r.args)
            .collect();
        let expected: Vec<_> = default.grants["socket"].iter().map(|g| &g.args).collect();
        assert_eq!(socket, expected);
    }

    #[test]
    fn include_reachable_keeps_the_learned_values_the_default_refuses_and_risky_ones() {
        let default = docker_default(&[]);
        // Docker's default refuses unshare without CAP_SYS_ADMIN; ptrace it
        // allows (kernels from 4.8), but ptrace is risky.
        assert!(matches!(default.access("unshare"), Access::Denied(_)));
        assert_eq!(default.access("ptrace"), Access::Allowed);
        let calls: &[(&str, &[&[u64]], u64)] =
            &[("unshare", &[&[0x1000_0000]], 0), ("ptrace", &[&[0]], 0)];
        let plain = learn_from(None, &["unshare", "ptrace"], calls);
        let learned = learn_widened(&default, &[], &["unshare", "ptrace"], calls);
        assert!(learned.widened_reachable.is_empty(), "{learned:?}");
        assert_eq!(
            learned.rules, plain.rules,
            "the learned rules, as they were"
        );
        assert!(learned.unconditional.is_empty());
        for name in ["unshare", "ptrace"] {
            assert!(
                learned
                    .notes
                    .iter()
                    .any(|n| n.starts_with(&format!("{name}: --include reachable keeps"))),
                "{:?}",
                learned.notes
            );
        }
        // --include-risky ptrace: widened as the default allows it.
        let learned = learn_widened(
            &default,
            &["ptrace".to_owned()],
            &["unshare", "ptrace"],
            calls,
        );
        assert!(learned.unconditional.contains("ptrace"));
        assert_eq!(rules_of(&learned, "unshare"), rules_of(&plain, "unshare"));
    }
}
