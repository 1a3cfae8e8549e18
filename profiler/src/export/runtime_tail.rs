//! The calls an OCI runtime makes itself after installing the seccomp
//! filter and before executing the workload, which a profile learned
//! natively never saw.
//!
//! runc and crun install the container's filter on their own process, then
//! close their pipes, read /proc/self/fd, set the capabilities and user, and
//! execute the entrypoint, all under the filter: a profile that lacks these
//! calls stops the container before the workload starts. A profile learned
//! from a container run (`record -- docker run ...`) holds them, since the
//! recording starts at the filter install; one learned natively
//! (`record -- CMD`) does not. So an export for a container consumer adds
//! them, as a rule of their own, to a profile learned natively or of unknown
//! origin, and says which it added.
//!
//! Where a profile was learned is in the comment `record` writes (and
//! `merge` keeps): [`NATIVE_MARK`] or [`CONTAINER_MARK`].
//!
//! The list is data (`profiler/data/runtime-tail.json`, with how it was
//! measured); every call in it is allowed by Docker's default profile, and
//! for the syscalls whose arguments the tool checks (prctl, fcntl, clone,
//! mmap) only the values the runtimes pass are added.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{
    profile::{Action, Profile, SyscallRule},
    syscall_args,
};

/// The tag `record` puts in the comment of a profile learned natively.
pub(crate) const NATIVE_MARK: &str = "[learned natively]";
/// The tag `record` puts in the comment of a profile learned from a
/// container run, which holds the runtime's own calls.
pub(crate) const CONTAINER_MARK: &str = "[learned in a container]";
/// What `record` wrote for a container before the tags (the base set).
const OLD_CONTAINER_COMMENT: &str = "syscalls the runtime makes after installing the filter";

/// The comment of the rule the export adds.
pub(crate) const RULE_COMMENT: &str = "the calls runc and crun make themselves after installing the \
                                filter and before executing the workload (the profile was \
                                learned outside a container)";

/// Where a profile was learned, as its comments say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Native,
    Container,
    Unknown,
}

impl Origin {
    /// The origin the comments of `profile` name: a container where any
    /// rule says so (a union with a container's profile holds the runtime's
    /// calls), natively where one says that, else unknown.
    pub(crate) fn of(profile: &Profile) -> Origin {
        let comments = || profile.syscalls.iter().filter_map(|r| r.comment.as_deref());
        if comments().any(|c| c.contains(CONTAINER_MARK) || c.contains(OLD_CONTAINER_COMMENT)) {
            Origin::Container
        } else if comments().any(|c| c.contains(NATIVE_MARK)) {
            Origin::Native
        } else {
            Origin::Unknown
        }
    }

    /// The tag for a comment, none for an unknown origin.
    pub(crate) fn mark(self) -> Option<&'static str> {
        match self {
            Origin::Native => Some(NATIVE_MARK),
            Origin::Container => Some(CONTAINER_MARK),
            Origin::Unknown => None,
        }
    }

    /// The origin of a union: a container's where any input is (its
    /// runtime calls are in the union), native where all are.
    pub(crate) fn of_union(origins: impl IntoIterator<Item = Origin>) -> Origin {
        let mut all_native = true;
        let mut any = false;
        for origin in origins {
            any = true;
            match origin {
                Origin::Container => return Origin::Container,
                Origin::Native => {}
                Origin::Unknown => all_native = false,
            }
        }
        if any && all_native {
            Origin::Native
        } else {
            Origin::Unknown
        }
    }
}

/// The list as stored. How it was measured is read so that the file's
/// schema is checked whole; nothing uses it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "provenance fields, read to check the file")
)]
pub(crate) struct RuntimeTail {
    /// How it was measured.
    pub origin: String,
    /// The runtimes and versions it was measured with.
    pub runtimes: Vec<String>,
    pub syscalls: Vec<String>,
    /// For the syscalls whose arguments the tool checks: the tuples of
    /// values (in `syscall_args::CAPTURED`'s order) the runtimes pass.
    pub arguments: BTreeMap<String, Vec<Vec<u64>>>,
}

const SHIPPED: &str = include_str!("../../data/runtime-tail.json");

impl RuntimeTail {
    /// The list shipped with the tool.
    pub(crate) fn shipped() -> RuntimeTail {
        serde_json::from_str(SHIPPED).expect("the shipped runtime tail parses (unit-tested)")
    }

    /// The rules that allow the tail: the names whose arguments are not
    /// checked in one rule, one rule per value tuple for the others.
    fn rules(&self) -> (Vec<String>, Vec<SyscallRule>) {
        let mut plain = Vec::new();
        let mut conditional = Vec::new();
        for name in &self.syscalls {
            match (syscall_args::captured(name), self.arguments.get(name)) {
                (Some(captured), Some(tuples)) => {
                    for tuple in tuples {
                        let mut rule = SyscallRule::new(vec![name.clone()], Action::Allow);
                        rule.args = captured
                            .args
                            .iter()
                            .zip(tuple)
                            .map(|(arg, &value)| arg.condition(value))
                            .collect();
                        rule.args.sort();
                        rule.args.dedup();
                        conditional.push(rule);
                    }
                }
                _ => plain.push(name.clone()),
            }
        }
        (plain, conditional)
    }
}

/// What [`add_to`] added.
#[derive(Debug, Default)]
pub(crate) struct Added {
    /// The syscalls it allowed (some of them for some argument values).
    pub names: Vec<String>,
    /// The tail's syscalls the profile refuses by a rule of its own, left
    /// as they are.
    pub refused_by_profile: Vec<String>,
}

/// `profile` with the runtime's tail allowed where it was not: the names in
/// one rule commented [`RULE_COMMENT`], after the profile's own rules; the
/// checked syscalls one rule per value the runtimes pass, unless the
/// profile allows them whatever their arguments. A syscall the profile
/// refuses by a rule of its own stays refused (named in [`Added`]). Nothing
/// is added where the default action lets every call run.
pub(crate) fn add_to(profile: &Profile, tail: &RuntimeTail) -> (Profile, Added) {
    let mut out = profile.clone();
    let mut added = Added::default();
    if profile.default_action.lets_run() {
        return (out, added);
    }
    let unconditional = |name: &str| {
        profile.syscalls.iter().any(|r| {
            r.action.lets_run()
                && r.args.is_empty()
                && r.includes.is_empty()
                && r.excludes.is_empty()
                && r.names.iter().any(|n| n == name)
        })
    };
    let refused = |name: &str| {
        profile
            .syscalls
            .iter()
            .any(|r| !r.action.lets_run() && r.names.iter().any(|n| n == name))
    };
    let (plain, conditional) = tail.rules();
    let mut names = Vec::new();
    for name in plain {
        if refused(&name) {
            added.refused_by_profile.push(name);
        } else if !unconditional(&name) {
            names.push(name);
        }
    }
    let mut extra = Vec::new();
    for rule in conditional {
        let name = &rule.names[0];
        if refused(name) {
            if !added.refused_by_profile.contains(name) {
                added.refused_by_profile.push(name.clone());
            }
            continue;
        }
        let present = profile.syscalls.iter().any(|r| {
            r.action.lets_run() && r.args == rule.args && r.names.iter().any(|n| n == name)
        });
        if unconditional(name) || present {
            continue;
        }
        if !added.names.contains(name) {
            added.names.push(name.clone());
        }
        let mut rule = rule;
        rule.comment = Some(RULE_COMMENT.to_owned());
        extra.push(rule);
    }
    if !names.is_empty() {
        added.names.extend(names.iter().cloned());
        let mut rule = SyscallRule::new(names, Action::Allow);
        rule.comment = Some(RULE_COMMENT.to_owned());
        out.syscalls.push(rule);
    }
    out.syscalls.extend(extra);
    added.names.sort();
    added.refused_by_profile.sort();
    (out, added)
}

/// The line that says what [`add_to`] added (none where it added nothing
/// and nothing was refused).
pub(crate) fn said(origin: Origin, added: &Added) -> Option<String> {
    let mut line = String::new();
    if !added.names.is_empty() {
        let why = match origin {
            Origin::Native => "the profile was learned natively",
            _ => {
                "the profile does not say where it was learned; one recorded from a container \
                 run holds them already"
            }
        };
        line.push_str(&format!(
            "added the {} calls runc and crun make after installing the filter ({why}): {}",
            added.names.len(),
            added.names.join(" ")
        ));
    }
    if !added.refused_by_profile.is_empty() {
        if !line.is_empty() {
            line.push_str("; ");
        }
        line.push_str(&format!(
            "the profile refuses {} by a rule of its own, which runc or crun may make after \
             installing the filter: the container may not start; remove that rule if it does not",
            added.refused_by_profile.join(" ")
        ));
    }
    (!line.is_empty()).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        export::Within,
        profile::{Arch, SyscallSet},
    };

    fn native(names: &[&str]) -> Profile {
        let set: SyscallSet = names.iter().copied().collect();
        Profile::allow_list(
            Arch::X86_64,
            &set,
            Some(format!(
                "syscalls observed while recording `x` {NATIVE_MARK}"
            )),
        )
    }

    #[test]
    fn the_shipped_tail_parses_and_is_within_docker_s_default() {
        let tail = RuntimeTail::shipped();
        assert!(!tail.origin.is_empty() && !tail.runtimes.is_empty());
        assert!(tail.syscalls.contains(&"execve".to_owned()));
        let Some(docker) = Within::docker_default() else {
            return;
        };
        for name in &tail.syscalls {
            let access = docker.policy.access(name);
            match (syscall_args::captured(name), tail.arguments.get(name)) {
                (Some(captured), Some(tuples)) => {
                    for tuple in tuples {
                        assert_eq!(tuple.len(), captured.args.len(), "{name}");
                        let mut args = [0u64; 6];
                        for (arg, value) in captured.args.iter().zip(tuple) {
                            args[usize::from(arg.index)] = *value;
                        }
                        assert!(
                            access.verdict(&args).action.lets_run(),
                            "{name} {tuple:?}: refused by Docker's default"
                        );
                    }
                }
                (None, None) => assert!(access.is_allowed(), "{name}: {access:?}"),
                (captured, values) => panic!(
                    "{name}: argument values given for a syscall whose arguments are not \
                     checked, or none for one whose are ({}, {})",
                    captured.is_some(),
                    values.is_some()
                ),
            }
        }
    }

    #[test]
    fn the_tail_is_added_once_as_its_own_rules() {
        let tail = RuntimeTail::shipped();
        let profile = native(&["read", "write", "exit_group"]);
        let (with, added) = add_to(&profile, &tail);
        assert!(!added.names.contains(&"read".to_owned()), "{added:?}");
        assert!(added.names.contains(&"capset".to_owned()), "{added:?}");
        assert!(added.names.contains(&"prctl".to_owned()), "{added:?}");
        assert_eq!(with.syscalls[0], profile.syscalls[0]);
        let plain = &with.syscalls[1];
        assert_eq!(plain.comment.as_deref(), Some(RULE_COMMENT));
        assert!(plain.args.is_empty() && plain.names.contains(&"capset".to_owned()));
        assert!(!plain.names.contains(&"prctl".to_owned()));
        // prctl only for the options the runtimes pass.
        let prctl: Vec<&SyscallRule> = with
            .syscalls
            .iter()
            .filter(|r| r.names == ["prctl"])
            .collect();
        assert_eq!(prctl.len(), tail.arguments["prctl"].len());
        assert!(prctl.iter().all(|r| r.args.len() == 1));
        // clone only without namespace flags.
        let clone = with.syscalls.iter().find(|r| r.names == ["clone"]).unwrap();
        assert_eq!(clone.args[0].value, syscall_args::CLONE_NAMESPACES);
        assert_eq!(clone.args[0].value_two, 0);
        // A second export adds nothing.
        let (again, added_again) = add_to(&with, &tail);
        assert_eq!(again, with);
        assert!(added_again.names.is_empty(), "{added_again:?}");
        assert!(said(Origin::Native, &added_again).is_none());
        let line = said(Origin::Native, &added).unwrap();
        assert!(
            line.starts_with(&format!(
                "added the {} calls runc and crun make after installing the filter (the profile \
                 was learned natively): ",
                added.names.len()
            )),
            "{line}"
        );
    }

    #[test]
    fn a_refusal_of_the_profile_s_own_stays_and_an_allowing_default_needs_nothing() {
        let tail = RuntimeTail::shipped();
        let mut profile = native(&["read"]);
        let mut deny = SyscallRule::new(vec!["setuid".into()], Action::Errno);
        deny.errno_ret = Some(1);
        profile.syscalls.push(deny);
        let (with, added) = add_to(&profile, &tail);
        assert_eq!(added.refused_by_profile, ["setuid"]);
        assert!(
            !with
                .syscalls
                .iter()
                .any(|r| r.action == Action::Allow && r.names.contains(&"setuid".to_owned()))
        );
        assert!(
            said(Origin::Unknown, &added)
                .unwrap()
                .contains("refuses setuid")
        );
        profile.default_action = Action::Allow;
        let (same, added) = add_to(&profile, &tail);
        assert_eq!(same, profile);
        assert!(added.names.is_empty());
    }

    #[test]
    fn the_origin_is_read_from_the_comments() {
        assert_eq!(Origin::of(&native(&["read"])), Origin::Native);
        let mut profile = native(&["read"]);
        profile.syscalls[0].comment = Some(format!("union of a, b {CONTAINER_MARK}"));
        assert_eq!(Origin::of(&profile), Origin::Container);
        profile.syscalls[0].comment = Some(
            "syscalls observed while recording `docker run x`, with the runc base set (24 \
             syscalls the runtime makes after installing the filter)"
                .into(),
        );
        assert_eq!(Origin::of(&profile), Origin::Container);
        profile.syscalls[0].comment = Some("hand-written".into());
        assert_eq!(Origin::of(&profile), Origin::Unknown);
        use Origin::*;
        assert_eq!(Origin::of_union([Native, Native]), Native);
        assert_eq!(Origin::of_union([Native, Container]), Container);
        assert_eq!(Origin::of_union([Native, Unknown]), Unknown);
        assert_eq!(Origin::of_union([]), Unknown);
    }
}
