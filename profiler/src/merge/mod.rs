//! `syscall-profile merge`: the union of several profiles (of several runs,
//! tests or containers), as one profile that allows whatever any of them
//! allows, and nothing more.
//!
//! Argument conditions stay correct: a syscall allowed unconditionally by
//! one input is unconditional in the result (its conditional rules would
//! only narrow it); otherwise each distinct conditional rule is kept, and
//! rules OR. The output does not depend on the order of the inputs, and
//! the same inputs give the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use crate::{
    export::runtime_tail::Origin,
    output::OutputError,
    profile::{Action, Arch, ArchMapEntry, Profile, ProfileError, SyscallRule},
};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: give at least one profile")]
    NoInput,
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(
        "the profiles disagree on what an unlisted syscall gets ({first} in {first_file}, \
         {second} in {second_file}): a union of allow-lists needs one default; make them the same"
    )]
    Defaults {
        first: String,
        first_file: String,
        second: String,
        second_file: String,
    },
    #[error(
        "{file} lists its architectures as `architectures` and another input as `archMap`: \
         give every input the same form (learned profiles use archMap)"
    )]
    ArchForms { file: String },
    #[error(
        "the profiles disagree on `{field}` ({first_file} and {second_file}): a merged profile \
         has one; make them the same"
    )]
    Listener {
        field: &'static str,
        first_file: String,
        second_file: String,
    },
    #[error(
        "syscall `{name}` gets {first} in one profile and {second} in another under the same \
         conditions, and neither allows it: decide which one the policy should have"
    )]
    Conflict {
        name: String,
        first: String,
        second: String,
    },
}

/// One input: its name for messages and comments, and the profile.
pub struct Input<'a> {
    pub name: &'a str,
    pub profile: &'a Profile,
}

/// The key under which two rules for a syscall are the same rule.
type RuleKey = (
    Vec<crate::profile::ArgCondition>,
    crate::profile::Filter,
    crate::profile::Filter,
);

/// The union of `inputs`.
pub fn merge(inputs: &[Input<'_>]) -> Result<Profile, MergeError> {
    let first = inputs.first().ok_or(MergeError::NoInput)?;
    let default_of = |p: &Profile| {
        // The errno an ERRNO default returns (EPERM unless given), or the
        // value given for another action.
        let errno = crate::profile::Verdict::of(p.default_action, p.default_errno_ret)
            .errno
            .or(p.default_errno_ret);
        (p.default_action, errno)
    };
    let default = default_of(first.profile);
    for input in inputs {
        let theirs = default_of(input.profile);
        if theirs != default {
            return Err(MergeError::Defaults {
                first: describe(default),
                first_file: first.name.to_owned(),
                second: describe(theirs),
                second_file: input.name.to_owned(),
            });
        }
    }
    for field in ["listenerPath", "listenerMetadata"] {
        let value = |p: &Profile| match field {
            "listenerPath" => p.listener_path.clone(),
            _ => p.listener_metadata.clone(),
        };
        if let Some(other) = inputs
            .iter()
            .find(|i| value(i.profile) != value(first.profile))
        {
            return Err(MergeError::Listener {
                field,
                first_file: first.name.to_owned(),
                second_file: other.name.to_owned(),
            });
        }
    }

    let uses_arch_map = inputs.iter().any(|i| !i.profile.arch_map.is_empty());
    let uses_list = inputs.iter().any(|i| !i.profile.architectures.is_empty());
    if uses_arch_map && uses_list {
        let file = inputs
            .iter()
            .find(|i| !i.profile.architectures.is_empty())
            .map_or("", |i| i.name);
        return Err(MergeError::ArchForms {
            file: file.to_owned(),
        });
    }
    let mut arch_map: BTreeMap<Arch, BTreeSet<Arch>> = BTreeMap::new();
    let mut architectures: BTreeSet<Arch> = BTreeSet::new();
    let mut flags = BTreeSet::new();
    for input in inputs {
        for entry in &input.profile.arch_map {
            arch_map
                .entry(entry.architecture)
                .or_default()
                .extend(entry.sub_architectures.iter().copied());
        }
        architectures.extend(input.profile.architectures.iter().copied());
        flags.extend(input.profile.flags.iter().copied());
    }

    // Per syscall: unconditional allow, or the set of distinct rules.
    let mut unconditional: BTreeSet<String> = BTreeSet::new();
    let mut rules: BTreeMap<String, BTreeMap<RuleKey, (Action, Option<u32>)>> = BTreeMap::new();
    for input in inputs {
        for rule in &input.profile.syscalls {
            let plain =
                rule.args.is_empty() && rule.includes.is_empty() && rule.excludes.is_empty();
            for name in &rule.names {
                if plain && rule.action == Action::Allow {
                    unconditional.insert(name.clone());
                    continue;
                }
                let key = (
                    rule.args.clone(),
                    rule.includes.clone(),
                    rule.excludes.clone(),
                );
                let verdict = (rule.action, rule.errno());
                let slot = rules.entry(name.clone()).or_default();
                match slot.get(&key) {
                    Some(&existing) if existing != verdict => {
                        let allows = |v: (Action, Option<u32>)| v.0.lets_run();
                        if allows(existing) && !allows(verdict) {
                            // The union keeps what allows.
                        } else if allows(verdict) && !allows(existing) {
                            slot.insert(key, verdict);
                        } else {
                            return Err(MergeError::Conflict {
                                name: name.clone(),
                                first: describe(existing),
                                second: describe(verdict),
                            });
                        }
                    }
                    Some(_) => {}
                    None => {
                        slot.insert(key, verdict);
                    }
                }
            }
        }
    }

    let mut syscalls = Vec::new();
    if !unconditional.is_empty() {
        let mut rule = SyscallRule::new(unconditional.iter().cloned().collect(), Action::Allow);
        let mut names: Vec<&str> = inputs.iter().map(|i| i.name).collect();
        names.sort_unstable();
        names.dedup();
        // Where the inputs were learned, as `record` tags it: an export
        // for a container reads it (`export::runtime_tail`).
        let origin = Origin::of_union(inputs.iter().map(|i| Origin::of(i.profile)));
        rule.comment = Some(match origin.mark() {
            Some(mark) => format!("union of {} {mark}", names.join(", ")),
            None => format!("union of {}", names.join(", ")),
        });
        syscalls.push(rule);
    }
    // The remaining rules, by syscall then by their JSON: a stable order.
    let mut rest: Vec<(String, String, SyscallRule)> = Vec::new();
    for (name, slot) in rules {
        // Unconditionally allowed: its conditional allows add nothing, and
        // a conditional denial would narrow what another input allows.
        if unconditional.contains(&name) {
            continue;
        }
        for ((args, includes, excludes), (action, errno)) in slot {
            let rule = SyscallRule {
                names: vec![name.clone()],
                action,
                errno_ret: if action == Action::Errno { errno } else { None },
                args,
                comment: None,
                includes,
                excludes,
            };
            let key = serde_json::to_string(&rule).unwrap_or_default();
            rest.push((name.clone(), key, rule));
        }
    }
    rest.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    syscalls.extend(rest.into_iter().map(|(_, _, rule)| rule));

    Ok(Profile {
        default_action: default.0,
        default_errno_ret: default.1,
        architectures: architectures.into_iter().collect(),
        arch_map: arch_map
            .into_iter()
            .map(|(architecture, subs)| ArchMapEntry {
                architecture,
                sub_architectures: subs.into_iter().collect(),
            })
            .collect(),
        flags: flags.into_iter().collect(),
        listener_path: first.profile.listener_path.clone(),
        listener_metadata: first.profile.listener_metadata.clone(),
        syscalls,
    })
}

fn describe((action, errno): (Action, Option<u32>)) -> String {
    match errno {
        Some(errno) => format!("{action} ({})", crate::profile::errno::describe(errno)),
        None => action.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Profile {
        Profile::parse(text.as_bytes()).unwrap().profile
    }

    fn allow(names: &[&str]) -> Profile {
        let set: crate::profile::SyscallSet = names.iter().copied().collect();
        Profile::allow_list(Arch::X86_64, &set, None)
    }

    #[test]
    fn union_of_allow_lists_is_sorted_and_order_free() {
        let a = allow(&["write", "read"]);
        let b = allow(&["openat", "read"]);
        let ab = merge(&[
            Input {
                name: "a.json",
                profile: &a,
            },
            Input {
                name: "b.json",
                profile: &b,
            },
        ])
        .unwrap();
        let ba = merge(&[
            Input {
                name: "b.json",
                profile: &b,
            },
            Input {
                name: "a.json",
                profile: &a,
            },
        ])
        .unwrap();
        assert_eq!(ab.to_json(), ba.to_json());
        assert_eq!(ab.syscalls.len(), 1);
        assert_eq!(ab.syscalls[0].names, ["openat", "read", "write"]);
        assert_eq!(
            ab.syscalls[0].comment.as_deref(),
            Some("union of a.json, b.json")
        );
        assert_eq!(ab.arch_map[0].sub_architectures, [Arch::X86, Arch::X32]);
        // The result is a valid profile.
        assert_eq!(Profile::parse(ab.to_json().as_bytes()).unwrap().profile, ab);
    }

    /// Where `record` learned the inputs survives the merge, so that an
    /// export for a container knows whether the runtime's calls are in it.
    #[test]
    fn the_tag_of_where_a_profile_was_learned_is_kept() {
        use crate::export::runtime_tail::{CONTAINER_MARK, NATIVE_MARK};
        let tagged = |names: &[&str], mark: &str| {
            let mut p = allow(names);
            p.syscalls[0].comment = Some(format!("syscalls observed while recording `x` {mark}"));
            p
        };
        let (a, b) = (
            tagged(&["read"], NATIVE_MARK),
            tagged(&["write"], NATIVE_MARK),
        );
        let c = tagged(&["openat"], CONTAINER_MARK);
        let input = |name, profile| Input { name, profile };
        let comment = |inputs: &[Input<'_>]| merge(inputs).unwrap().syscalls[0].comment.clone();
        assert_eq!(
            comment(&[input("a", &a), input("b", &b)]).as_deref(),
            Some("union of a, b [learned natively]")
        );
        assert_eq!(
            comment(&[input("a", &a), input("c", &c)]).as_deref(),
            Some("union of a, c [learned in a container]")
        );
        let merged = merge(&[input("a", &a), input("b", &b)]).unwrap();
        let again = merge(&[input("m", &merged), input("c", &c)]).unwrap();
        assert_eq!(Origin::of(&again), Origin::Container);
        // An input of unknown origin makes the union's unknown.
        let plain = allow(&["close"]);
        assert_eq!(
            comment(&[input("a", &a), input("p", &plain)]).as_deref(),
            Some("union of a, p")
        );
    }

    #[test]
    fn unconditional_in_one_input_is_unconditional_in_the_result() {
        let conditional = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        let plain = allow(&["socket"]);
        let merged = merge(&[
            Input {
                name: "c.json",
                profile: &conditional,
            },
            Input {
                name: "p.json",
                profile: &plain,
            },
        ])
        .unwrap();
        assert_eq!(merged.syscalls.len(), 1, "{}", merged.to_json());
        assert_eq!(merged.syscalls[0].names, ["read", "socket"]);
    }

    #[test]
    fn distinct_conditions_are_kept_as_alternatives() {
        let one = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        let two = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        let merged = merge(&[
            Input {
                name: "1",
                profile: &one,
            },
            Input {
                name: "2",
                profile: &two,
            },
        ])
        .unwrap();
        assert_eq!(merged.syscalls.len(), 2);
        assert_eq!(merged.syscalls[0].args[0].value, 1);
        assert_eq!(merged.syscalls[1].args[0].value, 2);
    }

    #[test]
    fn an_allow_wins_over_a_denial_and_different_defaults_are_refused() {
        let enosys = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        let allows = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["clone3"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        let merged = merge(&[
            Input {
                name: "e",
                profile: &enosys,
            },
            Input {
                name: "a",
                profile: &allows,
            },
        ])
        .unwrap();
        assert_eq!(merged.syscalls[0].action, Action::Allow);
        let kill = parse(r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS"}"#);
        let err = merge(&[
            Input {
                name: "e.json",
                profile: &enosys,
            },
            Input {
                name: "k.json",
                profile: &kill,
            },
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("e.json")
                && err.contains("k.json")
                && err.contains("SCMP_ACT_KILL_PROCESS"),
            "{err}"
        );
    }
}
