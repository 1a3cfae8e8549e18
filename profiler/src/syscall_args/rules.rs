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

use std::collections::{BTreeMap, BTreeSet};

use super::{Source, captured};
use crate::{
    filter::{self, FilterError},
    profile::SyscallSet,
};

pub(crate) use super::learning::{
    BeyondDefault, Granularity, Learned, Learning, Widened, Widening, names_beyond,
};
use super::{
    CapturedCalls,
    learning::Plan,
    per_syscall::{by_values, clone3, keep_baseline, widen},
};
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
        baseline::{Baseline, DockerContext},
        profile::ENOSYS,
        profile::{
            Arch, Capability, CompareOp, KernelVersion, SyscallRule,
            eval::{Access, EffectivePolicy},
            table,
        },
        syscall_args::{ArgObservations, CLONE_NAMESPACES},
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
