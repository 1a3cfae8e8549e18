//! The arguments of denied calls: which values the filter refused (or, in
//! complain mode, would refuse), what the profile allows instead, and the
//! argument rules that would let exactly those values through.
//!
//! Only the syscalls of [`crate::syscall_args::CAPTURED`] are judged by value:
//! their privilege is in an argument, and the kernel side keeps the values
//! of their denied calls. Every other denial is about the syscall as a
//! whole.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{
    profile::eval::{Access, EffectivePolicy, Grant},
    profile::{Action, ArgCondition, CompareOp, SyscallRule, Verdict},
    syscall_args::{self, Captured, CapturedArg, CapturedCalls, Source, allowance},
};

pub(crate) use crate::syscall_args::allowance::ArgValue;

/// The denied calls of a captured syscall that passed one tuple of values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeniedValues {
    /// The captured arguments, in the table's order.
    pub args: Vec<ArgValue>,
    /// How many calls passed them (exact).
    pub count: u64,
}

impl DeniedValues {
    /// The values of `tuple` (in `captured`'s order), denied `count` times.
    pub(crate) fn new(captured: &Captured, tuple: &[u64], count: u64) -> DeniedValues {
        DeniedValues {
            args: allowance::arg_values(captured, tuple),
            count,
        }
    }

    /// The tuple of values, in the table's order.
    pub(crate) fn tuple(&self) -> Vec<u64> {
        self.args.iter().map(|a| a.value).collect()
    }

    /// `request TIOCSTI (0x5412)`; `family AF_VSOCK (40), type SOCK_STREAM
    /// (1), default protocol`: each argument by name, with its number where
    /// the name is a symbol.
    pub(crate) fn describe(&self) -> String {
        self.args
            .iter()
            .map(ArgValue::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The tuples of `calls`, each with its count, most frequent first.
pub(crate) fn denied_values(
    captured: &Captured,
    tuples: impl IntoIterator<Item = (Vec<u64>, u64)>,
) -> Vec<DeniedValues> {
    let mut merged: BTreeMap<Vec<u64>, u64> = BTreeMap::new();
    for (tuple, count) in tuples {
        *merged.entry(tuple).or_default() += count;
    }
    let mut out: Vec<DeniedValues> = merged
        .into_iter()
        .map(|(tuple, count)| DeniedValues::new(captured, &tuple, count))
        .collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.tuple().cmp(&b.tuple()))
    });
    out
}

/// What the profile allows of syscall `name`, when it refuses it but under
/// argument conditions: each alternative (an AND of conditions) by name,
/// e.g. `request FIONREAD`. Empty otherwise.
pub(crate) fn allowed_with(policy: &EffectivePolicy, name: &str) -> Vec<String> {
    alternatives(policy, name, true)
}

/// What the profile refuses of syscall `name`, when it allows it but under
/// argument conditions: each alternative by name. Empty otherwise.
pub(crate) fn refused_with(policy: &EffectivePolicy, name: &str) -> Vec<String> {
    alternatives(policy, name, false)
}

/// The argument checks of `name` whose verdict is the opposite of what
/// calls matching none get, when those refuse (`allowing`) or run.
fn alternatives(policy: &EffectivePolicy, name: &str, allowing: bool) -> Vec<String> {
    match policy.access(name) {
        Access::Conditional { when, otherwise } if otherwise.runs() != allowing => when
            .iter()
            .filter(|grant| grant.verdict.runs() == allowing)
            .map(|grant| describe_grant(name, grant))
            .collect(),
        Access::Conditional { .. } | Access::Allowed | Access::Denied(_) => Vec::new(),
    }
}

/// One alternative of a rule set, its conditions joined with `and`.
fn describe_grant(syscall: &str, grant: &Grant) -> String {
    let captured = syscall_args::captured(syscall);
    let equal_at = |index: u8| {
        grant
            .args
            .iter()
            .find(|c| c.index == u32::from(index) && c.op == CompareOp::Equal)
            .map(|c| c.value)
    };
    grant
        .args
        .iter()
        .map(|cond| {
            let Some((position, arg)) = captured.and_then(|c| {
                c.args
                    .iter()
                    .enumerate()
                    .find(|(_, a)| u32::from(a.index) == cond.index)
            }) else {
                return cond.to_string();
            };
            // A protocol is named for its family, an option for its level.
            let previous = position
                .checked_sub(1)
                .and_then(|p| captured.and_then(|c| c.args.get(p)))
                .and_then(|a| equal_at(a.index));
            describe_condition(arg, cond, previous)
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

fn describe_condition(arg: &CapturedArg, cond: &ArgCondition, previous: Option<u64>) -> String {
    let name = |value| arg.symbols.describe(value, previous);
    match cond.op {
        CompareOp::Equal => format!("{} {}", arg.name, name(cond.value)),
        CompareOp::NotEqual => format!("{} other than {}", arg.name, name(cond.value)),
        CompareOp::MaskedEqual => format!(
            "{} with {} (of the bits {:#x})",
            arg.name,
            name(cond.value_two),
            cond.value
        ),
        CompareOp::Less => format!("{} below {}", arg.name, name(cond.value)),
        CompareOp::LessOrEqual => format!("{} up to {}", arg.name, name(cond.value)),
        CompareOp::GreaterOrEqual => format!("{} from {}", arg.name, name(cond.value)),
        CompareOp::Greater => format!("{} above {}", arg.name, name(cond.value)),
    }
}

/// What complain mode makes of a syscall the profile allows only under
/// argument conditions, from the values the run passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Judged {
    /// Every condition can be decided from the kept values: these tuples
    /// would be refused (none, when all would run). `unknown` calls had
    /// values the kernel found no room to keep.
    Decided {
        refused: Vec<(Vec<u64>, u64, Verdict)>,
        unknown: u64,
    },
    /// The profile's conditions look at what the kernel side does not keep
    /// (another argument, bits masked away, memory seccomp cannot read):
    /// the reason.
    Undecided(String),
}

/// Judges the calls of captured syscall `name` against `policy`, the way
/// the filter would: each tuple's values placed at their argument indexes.
pub(crate) fn judge(policy: &EffectivePolicy, name: &str, calls: &CapturedCalls) -> Judged {
    let Some(captured) = syscall_args::captured(name) else {
        return Judged::Undecided(format!("the arguments of {name} are not captured"));
    };
    if let Access::Conditional { when, .. } = policy.access(name) {
        if captured.source != Source::Registers {
            return Judged::Undecided(
                "its conditions compare registers, while what it asks for is in memory".to_owned(),
            );
        }
        for cond in when.iter().flat_map(|g| g.args.iter()) {
            if let Some(why) = undecidable(captured, cond) {
                return Judged::Undecided(why);
            }
        }
    }
    let mut refused = Vec::new();
    for (tuple, &count) in &calls.values {
        let verdict = policy.verdict(name, &allowance::place(captured, tuple));
        if !verdict.runs() {
            refused.push((tuple.clone(), count, verdict));
        }
    }
    Judged::Decided {
        refused,
        unknown: calls.lost,
    }
}

/// Why `cond` cannot be decided from the values kept of `captured`, if it
/// cannot.
fn undecidable(captured: &Captured, cond: &ArgCondition) -> Option<String> {
    let Some(arg) = captured
        .args
        .iter()
        .find(|a| u32::from(a.index) == cond.index)
    else {
        return Some(format!(
            "a condition on argument {}, whose values are not captured",
            cond.index
        ));
    };
    let seen = match cond.op {
        CompareOp::MaskedEqual => cond.value,
        _ => u64::MAX,
    };
    (seen & !arg.mask != 0).then(|| {
        format!(
            "a condition on bits {:#x} of the {}, of which only {:#x} are captured",
            seen & !arg.mask,
            arg.name,
            arg.mask
        )
    })
}

/// The rules that allow exactly `values` of `name`: one a tuple, an
/// equality for each enumerated value and a masked equality on the
/// privileged bits of a flag word, commented with the values' names. None
/// where no filter can check the values (`clone3`'s are in memory).
pub(crate) fn allow_rules(name: &str, values: &[DeniedValues]) -> Option<Vec<SyscallRule>> {
    let captured = syscall_args::captured(name)?;
    if captured.source != Source::Registers || values.is_empty() {
        return None;
    }
    let mut rules: Vec<SyscallRule> = Vec::new();
    for denied in values {
        let tuple = denied.tuple();
        let args: Vec<ArgCondition> = captured
            .args
            .iter()
            .zip(&tuple)
            .map(|(arg, &value)| arg.condition(value))
            .collect();
        if rules.iter().any(|r| r.args == args) {
            continue;
        }
        let mut rule = SyscallRule::new(vec![name.to_owned()], Action::Allow);
        rule.comment = Some(format!("{name}: {}", captured.describe(&tuple)));
        rule.args = args;
        rules.push(rule);
    }
    Some(rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        profile::eval::DockerContext,
        profile::{Arch, KernelVersion, Profile},
    };

    fn policy(rules: serde_json::Value) -> EffectivePolicy {
        let text = serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": rules,
        })
        .to_string();
        let profile: Profile = serde_json::from_str(&text).unwrap();
        EffectivePolicy::evaluate(
            &profile,
            &DockerContext {
                native: Arch::X86_64,
                caps: Default::default(),
                kernel: KernelVersion {
                    major: 6,
                    minor: 18,
                },
            },
        )
    }

    fn calls(values: &[(&[u64], u64)], lost: u64) -> CapturedCalls {
        CapturedCalls {
            values: values.iter().map(|(t, n)| (t.to_vec(), *n)).collect(),
            lost,
        }
    }

    const FIONREAD: u64 = 0x541b;
    const TIOCSTI: u64 = 0x5412;

    #[test]
    fn a_value_the_profile_refuses_is_judged_refused_and_its_allowed_sibling_is_not() {
        let policy = policy(serde_json::json!([
            {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 1, "value": FIONREAD, "op": "SCMP_CMP_EQ"}]}
        ]));
        let judged = judge(
            &policy,
            "ioctl",
            &calls(&[(&[FIONREAD], 5), (&[TIOCSTI], 2)], 0),
        );
        let Judged::Decided { refused, unknown } = judged else {
            panic!("{judged:?}")
        };
        assert_eq!(unknown, 0);
        assert_eq!(refused.len(), 1);
        assert_eq!((refused[0].0.as_slice(), refused[0].1), (&[TIOCSTI][..], 2));
        assert_eq!(allowed_with(&policy, "ioctl"), ["request FIONREAD"]);
    }

    #[test]
    fn values_go_to_their_argument_index_and_flags_are_judged_on_their_bits() {
        // Docker's clone rule: no namespace flag.
        let policy = policy(serde_json::json!([
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0x7E02_0000u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
        ]));
        let threads = 0x3d0f00;
        let Judged::Decided { refused, .. } = judge(
            &policy,
            "clone",
            &calls(&[(&[threads], 3), (&[0x1000_0000 | 0x11], 1)], 0),
        ) else {
            panic!()
        };
        assert_eq!(
            refused.iter().map(|r| r.0[0]).collect::<Vec<_>>(),
            [0x1000_0011]
        );
        let Judged::Decided { refused, .. } = judge(
            &policy,
            "socket",
            &calls(&[(&[2, 1, 0], 1), (&[40, 1, 0], 1)], 0),
        ) else {
            panic!()
        };
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, [40, 1, 0]);
        assert_eq!(
            allowed_with(&policy, "socket"),
            ["family other than AF_VSOCK"]
        );
    }

    #[test]
    fn what_a_profile_refuses_of_a_syscall_it_allows_is_said_so() {
        // Docker's way: socket allowed, AF_VSOCK answered with EINVAL.
        let policy = policy(serde_json::json!([
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
             "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]},
        ]));
        assert!(allowed_with(&policy, "socket").is_empty());
        assert_eq!(refused_with(&policy, "socket"), ["family AF_VSOCK"]);
        let Judged::Decided { refused, .. } = judge(
            &policy,
            "socket",
            &calls(&[(&[40, 1, 0], 1), (&[2, 1, 6], 1)], 0),
        ) else {
            panic!()
        };
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].2.errno, Some(22));
    }

    #[test]
    fn conditions_on_what_is_not_kept_are_undecided() {
        // The type with SOCK_CLOEXEC: the kernel side keeps the type without it.
        let policy = policy(serde_json::json!([
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 1, "value": 0x80001, "op": "SCMP_CMP_EQ"}]},
            {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
        ]));
        assert!(matches!(
            judge(&policy, "socket", &calls(&[(&[1, 1, 0], 1)], 0)),
            Judged::Undecided(_)
        ));
        assert!(matches!(
            judge(&policy, "ioctl", &calls(&[(&[FIONREAD], 1)], 0)),
            Judged::Undecided(_)
        ));
    }

    #[test]
    fn suggested_rules_allow_exactly_the_refused_values() {
        let ioctl = syscall_args::captured("ioctl").unwrap();
        let values = denied_values(ioctl, [(vec![TIOCSTI], 2)]);
        assert_eq!(values[0].describe(), "request TIOCSTI (0x5412)");
        let rules = allow_rules("ioctl", &values).unwrap();
        let json = serde_json::to_value(&rules).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 1, "value": TIOCSTI, "op": "SCMP_CMP_EQ"}],
                "comment": "ioctl: TIOCSTI"}])
        );

        let socket = syscall_args::captured("socket").unwrap();
        let values = denied_values(socket, [(vec![40, 1, 0], 1)]);
        assert_eq!(
            values[0].describe(),
            "family AF_VSOCK (40), type SOCK_STREAM (1), default protocol"
        );
        let rules = allow_rules("socket", &values).unwrap();
        assert_eq!(rules[0].args[0].op, CompareOp::Equal);
        assert_eq!(rules[0].args[1].op, CompareOp::MaskedEqual);
        // SOCK_STREAM|SOCK_CLOEXEC passes the type's condition.
        assert!(rules[0].args[1].holds_for(1 | 0x80000));

        // Two clones differing outside the namespace bits: one rule.
        let clone = syscall_args::captured("clone").unwrap();
        let values = denied_values(clone, [(vec![0x1000_0011], 1), (vec![0x1000_0000], 1)]);
        let rules = allow_rules("clone", &values).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(
            rules[0].args,
            [ArgCondition {
                index: 0,
                value: syscall_args::CLONE_NAMESPACES,
                value_two: 0x1000_0000,
                op: CompareOp::MaskedEqual
            }]
        );
        assert!(
            allow_rules(
                "clone3",
                &denied_values(
                    syscall_args::captured("clone3").unwrap(),
                    [(vec![0x1000_0000], 1)]
                )
            )
            .is_none()
        );
    }
}
