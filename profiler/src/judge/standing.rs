//! The one judgement: a syscall of an observation set against a policy.
//! `diff` sets a profile against an engine's default (or another
//! profile), `check` a recorded profile against the committed policy, and
//! `enforce --complain` a run's counts and kept argument values against
//! the profile it would enforce; each asks [`stand`] what the policy does
//! with each syscall observed and what it makes of the observed argument
//! values, and only renders the answer in its own report.

use crate::{
    profile::eval::{Access, EffectivePolicy},
    syscall_args::{
        CapturedCalls,
        allowance::{self, Comparison},
    },
};

use super::values::{self, Judged};

/// What an observation shows of one syscall's arguments: the evidence its
/// argument values are judged on.
#[derive(Clone, Copy)]
pub(crate) enum Evidence<'a> {
    /// A profile's own conditions (a recording with `--args`, or a profile
    /// written by hand), compared with the policy's value by value.
    Profile(&'a EffectivePolicy),
    /// The values a run passed, as the kernel side kept them (`None`: the
    /// run kept none of this syscall).
    Calls(Option<&'a CapturedCalls>),
}

/// One observed syscall set against a policy.
pub(crate) struct Standing {
    /// What the policy does with the syscall, whatever its arguments.
    pub(crate) access: Access,
    /// The observed argument values against the policy's, where the
    /// evidence has values and either side looks at them.
    pub(crate) values: Option<ValueStanding>,
}

/// The observed argument values of one syscall against a policy's.
pub(crate) enum ValueStanding {
    /// A profile's conditions against the policy's, value by value
    /// ([`Evidence::Profile`], wherever either looks at the arguments and
    /// the policy does not refuse the syscall outright).
    Compared(Comparison),
    /// The run's kept values judged as the policy's filter would judge
    /// them ([`Evidence::Calls`], for a syscall the policy allows only
    /// under conditions).
    Judged(Judged),
    /// The run's kept values of a syscall the policy refuses whatever they
    /// are ([`Evidence::Calls`]): every one is refused.
    Refused(CapturedCalls),
}

/// Sets syscall `name` of an observation (with its argument `evidence`)
/// against `policy`.
pub(crate) fn stand(policy: &EffectivePolicy, name: &str, evidence: Evidence<'_>) -> Standing {
    let access = policy.access(name);
    let values = match (&access, evidence) {
        (Access::Denied(_), Evidence::Profile(_)) => None,
        (_, Evidence::Profile(observed)) => {
            let checked = matches!(access, Access::Conditional { .. })
                || matches!(observed.access(name), Access::Conditional { .. });
            checked.then(|| ValueStanding::Compared(allowance::compare(observed, policy, name)))
        }
        (_, Evidence::Calls(None)) | (Access::Allowed, Evidence::Calls(_)) => None,
        (Access::Conditional { .. }, Evidence::Calls(Some(calls))) => {
            Some(ValueStanding::Judged(values::judge(policy, name, calls)))
        }
        (Access::Denied(_), Evidence::Calls(Some(calls))) => {
            Some(ValueStanding::Refused(calls.clone()))
        }
    };
    Standing { access, values }
}

/// The syscalls a profile lets run, each set against `policy` with the
/// profile's own conditions as evidence: `diff` and `check`.
pub(crate) fn stand_profile<'a>(
    policy: &'a EffectivePolicy,
    observed: &'a EffectivePolicy,
) -> impl Iterator<Item = (String, Standing)> + 'a {
    observed.runnable_names().into_iter().map(move |name| {
        let standing = stand(policy, &name, Evidence::Profile(observed));
        (name, standing)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        baseline::DockerContext,
        profile::{Arch, KernelVersion, Profile},
    };

    fn context() -> DockerContext {
        DockerContext {
            native: Arch::X86_64,
            caps: crate::baseline::docker_capabilities(&[], &[])
                .expect("Docker's own capabilities"),
            kernel: KernelVersion { major: 6, minor: 1 },
        }
    }

    fn evaluate(json: &str) -> EffectivePolicy {
        let parsed = Profile::parse(json.as_bytes()).expect("a valid profile");
        EffectivePolicy::evaluate(&parsed.profile, &context())
    }

    fn with_personality(value: u64) -> EffectivePolicy {
        evaluate(&format!(
            r#"{{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{{"names": ["read"], "action": "SCMP_ACT_ALLOW"}},
                            {{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                              "args": [{{"index": 0, "value": {value}, "op": "SCMP_CMP_EQ"}}]}}]}}"#
        ))
    }

    #[test]
    fn a_profile_is_compared_value_by_value_where_either_side_checks() {
        let policy = with_personality(0);
        let observed = with_personality(8);
        let standings: Vec<(String, Standing)> = stand_profile(&policy, &observed).collect();
        let names: Vec<&str> = standings.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["personality", "read"]);
        let (_, personality) = &standings[0];
        assert!(matches!(personality.access, Access::Conditional { .. }));
        let Some(ValueStanding::Compared(comparison)) = &personality.values else {
            panic!("personality's values are compared");
        };
        assert!(
            !comparison.beyond.is_nothing(),
            "8 is beyond the policy's 0"
        );
        // read: allowed by both, neither checks its arguments.
        assert!(standings[1].1.access.is_allowed() && standings[1].1.values.is_none());
        // A syscall the policy refuses outright is not compared by value.
        let none = evaluate(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": []}"#,
        );
        let refused = stand(&none, "personality", Evidence::Profile(&observed));
        assert!(matches!(refused.access, Access::Denied(_)) && refused.values.is_none());
    }

    #[test]
    fn a_runs_values_are_judged_as_the_filter_judges_them() {
        let policy = with_personality(0);
        let mut calls = CapturedCalls::default();
        calls.values.insert(vec![8], 3);
        calls.values.insert(vec![0], 2);
        let standing = stand(&policy, "personality", Evidence::Calls(Some(&calls)));
        let Some(ValueStanding::Judged(Judged::Decided { refused, unknown })) = standing.values
        else {
            panic!("personality's values are decided");
        };
        assert_eq!(unknown, 0);
        let refused: Vec<(Vec<u64>, u64)> = refused.into_iter().map(|(t, n, _)| (t, n)).collect();
        assert_eq!(refused, [(vec![8], 3)]);
        // Refused outright: every kept value is refused.
        let none = with_personality(0);
        let standing = stand(&none, "ioctl", Evidence::Calls(Some(&calls)));
        assert!(matches!(standing.values, Some(ValueStanding::Refused(ref c)) if *c == calls));
        // Allowed, or nothing kept: nothing to judge by value.
        assert!(
            stand(&policy, "read", Evidence::Calls(Some(&calls)))
                .values
                .is_none()
        );
        assert!(
            stand(&policy, "personality", Evidence::Calls(None))
                .values
                .is_none()
        );
    }
}
