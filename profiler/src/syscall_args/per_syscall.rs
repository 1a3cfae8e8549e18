//! The rules of one syscall from its learned values: exactly the values
//! ([`by_values`]), the default's own conditions where values were lost
//! ([`keep_baseline`]), widened for `--include reachable` ([`widen`]), and
//! `clone3` answered with ENOSYS ([`clone3`]).

use std::collections::{BTreeMap, BTreeSet};

use super::{
    CLONE_NAMESPACES, CapturedCalls, NAMESPACES_WITH_TIME, Source, captured,
    learning::{BeyondDefault, BeyondKind, Learned, Learning, Plan, Widened, Widening},
};
use crate::{
    baseline::notes,
    profile::{
        Action, ENOSYS, EPERM, SyscallRule, SyscallSet, Verdict,
        eval::{Access, EffectivePolicy},
    },
};

/// `clone3`: answered with ENOSYS (the libc then calls `clone`, whose
/// flags a filter can check), its namespace flags folded into `clone`'s
/// values; natively allowed when the run asked for namespaces through it.
pub(super) fn clone3(
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
pub(super) fn by_values(
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
pub(super) fn widen(
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
pub(super) fn value_rules<'t>(
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
pub(super) fn unreadable_conditions(baseline: &EffectivePolicy, name: &str) -> Option<String> {
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
pub(super) fn keep_baseline(
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
