//! The profile's schema as Docker's JSON has it: a [`Profile`] of
//! [`SyscallRule`]s, and the checks that need a whole rule or the whole
//! profile (an errno given by name, conflicting verdicts).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{
    arch::Arch,
    errno,
    rule::{Action, ArgCondition, Filter, FilterFlag},
    strict::{ObjectOnly, errno_number, null_as_empty, objects, optional_object},
    verdict::Verdict,
};

/// One entry of a profile's `archMap`: a native architecture and the ones
/// its kernel also runs tasks of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchMapEntry {
    pub architecture: Arch,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub sub_architectures: Vec<Arch>,
}

/// One rule of a profile's `syscalls` list: what happens to the syscalls it
/// names when all its argument checks hold, if Docker keeps the rule at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "ObjectOnly<RawRule>")]
pub struct SyscallRule {
    /// The syscalls, by name (the old single `name` is read into this too).
    pub names: Vec<String>,
    pub action: Action,
    /// The errno an `SCMP_ACT_ERRNO` rule returns (EPERM when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Checks of the syscall's arguments, all of which must hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgCondition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Filter::is_empty")]
    pub includes: Filter,
    #[serde(skip_serializing_if = "Filter::is_empty")]
    pub excludes: Filter,
}

impl SyscallRule {
    /// An unconditional rule for `names`.
    pub(crate) fn new(names: Vec<String>, action: Action) -> SyscallRule {
        SyscallRule {
            names,
            action,
            errno_ret: None,
            args: Vec::new(),
            comment: None,
            includes: Filter::default(),
            excludes: Filter::default(),
        }
    }

    /// The errno this rule makes a syscall fail with, for an
    /// `SCMP_ACT_ERRNO` rule (EPERM unless it says otherwise).
    pub fn errno(&self) -> Option<u32> {
        Verdict::of(self.action, self.errno_ret).errno
    }
}

/// A rule as written, before the checks that need all of it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRule {
    #[serde(default, deserialize_with = "null_as_empty")]
    names: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    action: Action,
    #[serde(default, deserialize_with = "errno_number")]
    errno_ret: Option<u32>,
    /// containers/common's spelling of `errnoRet` by name, e.g. "EPERM",
    /// which podman's profile carries beside the number.
    #[serde(default)]
    errno: Option<String>,
    #[serde(default, deserialize_with = "objects")]
    args: Vec<ArgCondition>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default, deserialize_with = "optional_object")]
    includes: Option<Filter>,
    #[serde(default, deserialize_with = "optional_object")]
    excludes: Option<Filter>,
}

/// The longest syscall name there is is 23 characters
/// (`sched_get_priority_max`, `process_mrelease`…); this leaves room.
const MAX_NAME_LEN: usize = 64;

impl TryFrom<ObjectOnly<RawRule>> for SyscallRule {
    type Error = String;

    fn try_from(ObjectOnly(raw): ObjectOnly<RawRule>) -> Result<Self, Self::Error> {
        let names = match (raw.name, raw.names.is_empty()) {
            (Some(_), false) => {
                return Err(
                    "the rule has both `name` and `names`: use `names` only (`name` is the old \
                     single-name form)"
                        .to_owned(),
                );
            }
            (Some(name), true) => vec![name],
            (None, false) => raw.names,
            (None, true) => {
                return Err("the rule names no syscall: give `names`, e.g. [\"read\"]".to_owned());
            }
        };
        for name in &names {
            let well_formed = !name.is_empty()
                && name.len() <= MAX_NAME_LEN
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !well_formed {
                return Err(format!(
                    "{name:?} is not a syscall name (names are lowercase letters, digits and _, \
                     e.g. \"openat\")"
                ));
            }
        }
        let errno_ret = reconcile_errno(raw.errno_ret, raw.errno.as_deref(), "errno")?;
        if let Some(errno) = errno_ret
            && !raw.action.takes_errno()
        {
            return Err(format!(
                "errnoRet {errno} means nothing with action {}: it goes with SCMP_ACT_ERRNO \
                 (or SCMP_ACT_TRACE); remove it or change the action",
                raw.action
            ));
        }
        Ok(SyscallRule {
            names,
            action: raw.action,
            errno_ret,
            args: raw.args,
            comment: raw.comment.filter(|c| !c.is_empty()),
            includes: raw.includes.unwrap_or_default(),
            excludes: raw.excludes.unwrap_or_default(),
        })
    }
}

/// A seccomp profile in the format `docker run --security-opt seccomp=FILE`
/// and `podman run` take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "ObjectOnly<RawProfile>")]
pub struct Profile {
    /// What happens to a syscall no rule matches.
    pub default_action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// The architectures of the filter, the OCI runtime spec's way (a profile
    /// has this or `archMap`, not both).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<Arch>,
    /// The architectures of the filter, Docker's way: per native
    /// architecture, with the ones its kernel also runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMapEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<FilterFlag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub syscalls: Vec<SyscallRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawProfile {
    default_action: Action,
    #[serde(default, deserialize_with = "errno_number")]
    default_errno_ret: Option<u32>,
    /// containers/common's spelling of `defaultErrnoRet` by name.
    #[serde(default)]
    default_errno: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    architectures: Vec<Arch>,
    #[serde(default, deserialize_with = "objects")]
    arch_map: Vec<ArchMapEntry>,
    #[serde(default, deserialize_with = "null_as_empty")]
    flags: Vec<FilterFlag>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    listener_metadata: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    syscalls: Vec<SyscallRule>,
}

impl TryFrom<ObjectOnly<RawProfile>> for Profile {
    type Error = String;

    fn try_from(ObjectOnly(raw): ObjectOnly<RawProfile>) -> Result<Self, Self::Error> {
        if !raw.architectures.is_empty() && !raw.arch_map.is_empty() {
            return Err(
                "the profile has both `architectures` and `archMap`: Docker takes one of them; \
                 keep `archMap`"
                    .to_owned(),
            );
        }
        let default_errno_ret = reconcile_errno(
            raw.default_errno_ret,
            raw.default_errno.as_deref(),
            "defaultErrno",
        )?;
        if let Some(errno) = default_errno_ret
            && !raw.default_action.takes_errno()
        {
            return Err(format!(
                "defaultErrnoRet {errno} means nothing with defaultAction {}: it goes with \
                 SCMP_ACT_ERRNO; remove it or change the action",
                raw.default_action
            ));
        }
        check_conflicts(&raw.syscalls)?;
        Ok(Profile {
            default_action: raw.default_action,
            default_errno_ret,
            architectures: raw.architectures,
            arch_map: raw.arch_map,
            flags: raw.flags,
            listener_path: raw.listener_path,
            listener_metadata: raw.listener_metadata,
            syscalls: raw.syscalls,
        })
    }
}

/// The errno of a rule or profile given as a number (Docker's `errnoRet`),
/// a name (containers/common's `errno`), or both, which must then agree.
fn reconcile_errno(
    number: Option<u32>,
    name: Option<&str>,
    field: &str,
) -> Result<Option<u32>, String> {
    let Some(name) = name else {
        return Ok(number);
    };
    let named = errno::number(name)
        .ok_or_else(|| format!("{field} {name:?} is not an errno name this tool knows (e.g. \"EPERM\", \"ENOSYS\"); give the number in {field}Ret instead"))?;
    match number {
        Some(number) if number != named => Err(format!(
            "{field} {name:?} is errno {named}, but {field}Ret says {number}: make them agree"
        )),
        _ => Ok(Some(named)),
    }
}

/// Refuses a syscall that two rules give different verdicts under exactly
/// the same conditions: which one a runtime applies is not something a
/// profile should leave to chance (libseccomp refuses some such pairs and
/// not others).
fn check_conflicts(rules: &[SyscallRule]) -> Result<(), String> {
    // Rules under the same conditions share a number, hashed once a rule
    // rather than once a name.
    type Conditions<'a> = (&'a [ArgCondition], &'a Filter, &'a Filter);
    let mut conditions: HashMap<Conditions<'_>, usize> = HashMap::new();
    let mut seen: HashMap<(&str, usize), (usize, Action, Option<u32>)> = HashMap::new();
    for (index, rule) in rules.iter().enumerate() {
        let verdict = (rule.action, rule.errno());
        let next = conditions.len();
        let group = *conditions
            .entry((rule.args.as_slice(), &rule.includes, &rule.excludes))
            .or_insert(next);
        for name in &rule.names {
            let key = (name.as_str(), group);
            match seen.get(&key) {
                Some(&(first, action, errno)) if (action, errno) != verdict => {
                    let describe = |action: Action, errno: Option<u32>| match errno {
                        Some(errno) => format!("{action} (errno {errno})"),
                        None => action.to_string(),
                    };
                    return Err(format!(
                        "rule {} (syscalls[{index}]: {}) conflicts with rule {} \
                         (syscalls[{first}]: {}): under the same conditions, syscall `{name}` \
                         is {} in rule {} and {} in rule {}; keep one of the two rules",
                        index + 1,
                        rule_names(rule),
                        first + 1,
                        rule_names(&rules[first]),
                        describe(action, errno),
                        first + 1,
                        describe(rule.action, rule.errno()),
                        index + 1,
                    ));
                }
                Some(_) => {}
                None => {
                    seen.insert(key, (index, verdict.0, verdict.1));
                }
            }
        }
    }
    Ok(())
}

/// A rule's names for a message, the first few and how many in all:
/// `read, write`, `read, write, close, openat, … (361 names)`.
pub(crate) fn rule_names(rule: &SyscallRule) -> String {
    const SHOWN: usize = 4;
    let mut text = rule
        .names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if rule.names.len() > SHOWN {
        text.push_str(&format!(", … ({} names)", rule.names.len()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse, parse_err};
    use crate::profile::{Arch, CompareOp, KernelVersion};

    #[test]
    fn full_schema_parses_and_round_trips() {
        let text = r#"{
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "listenerPath": "/run/seccomp-agent.sock",
            "listenerMetadata": "app",
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "io"},
                {"name": "socket", "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 38, "op": "SCMP_CMP_LT"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
                 "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                 "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW",
                 "includes": {"minKernel": "4.8", "arches": ["amd64"]}},
                {"names": ["getpid"], "action": "SCMP_ACT_NOTIFY"}
            ]
        }"#;
        let parsed = parse(text).unwrap();
        let profile = &parsed.profile;
        assert_eq!(profile.architectures, [Arch::X86_64, Arch::X86]);
        assert_eq!(profile.flags[0].scmp_name(), "SECCOMP_FILTER_FLAG_LOG");
        assert_eq!(
            profile.listener_path.as_deref(),
            Some("/run/seccomp-agent.sock")
        );
        assert_eq!(profile.syscalls[1].names, ["socket"], "old `name` form");
        assert_eq!(profile.syscalls[1].args[0].op, CompareOp::Less);
        assert_eq!(profile.syscalls[3].errno(), Some(38));
        assert_eq!(
            profile.syscalls[4].includes.min_kernel,
            Some(KernelVersion { major: 4, minor: 8 })
        );
        assert_eq!(
            profile.syscalls[2].excludes.caps[0].scmp_name(),
            "CAP_SYS_ADMIN"
        );
        let again = parse(&profile.to_json()).unwrap();
        assert_eq!(&again.profile, profile);
    }

    #[test]
    fn null_lists_read_as_empty() {
        let text = r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "archMap": [{"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}],
            "syscalls": null}"#;
        let profile = parse(text).unwrap().profile;
        assert!(profile.arch_map[0].sub_architectures.is_empty());
        assert!(profile.syscalls.is_empty());
    }

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "argz": []}]}"#,
        );
        assert!(err.contains("unknown field `argz`"), "{err}");
        assert!(err.contains("syscalls[0]"), "{err}");
        let err = parse_err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrorNumber": 1}"#);
        assert!(err.contains("unknown field `defaultErrorNumber`"), "{err}");
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ALLOW", "includes": {"kernel": "4.8"}}]}"#,
        );
        assert!(err.contains("unknown field `kernel`"), "{err}");
        assert!(err.contains("syscalls[0].includes"), "{err}");
    }

    #[test]
    fn unknown_action_and_operator_are_named() {
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_PERMIT"}]}"#,
        );
        assert!(err.contains("SCMP_ACT_PERMIT"), "{err}");
        assert!(err.contains("SCMP_ACT_ALLOW"), "{err}");
        assert!(err.contains("syscalls[0].action"), "{err}");
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "EQ"}]}]}"#,
        );
        assert!(
            err.contains("\"EQ\"") && err.contains("SCMP_CMP_EQ"),
            "{err}"
        );
        assert!(err.contains("syscalls[0].args[0].op"), "{err}");
    }

    #[test]
    fn wrong_types_are_named_with_their_place() {
        let err = parse_err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": "1"}"#);
        assert!(err.contains("defaultErrnoRet"), "{err}");
        assert!(err.contains("invalid type"), "{err}");
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": "read",
                "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert!(err.contains("syscalls[0].names"), "{err}");
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        assert!(err.contains("syscalls[0].args[0].value"), "{err}");
        let err = parse_err("[]");
        assert!(err.contains("expected a JSON object"), "{err}");
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["socket"],
                "action": "SCMP_ACT_ALLOW", "args": [[0, 38, 0, "SCMP_CMP_LT"]]}]}"#,
        );
        assert!(err.contains("expected a JSON object"), "{err}");
        assert!(err.contains("syscalls[0].args[0]"), "{err}");
        let err = parse_err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [["read"]]}"#);
        assert!(err.contains("expected a JSON object"), "{err}");
        assert!(parse_err("").contains("it is empty"));
        assert!(parse_err(" \n").contains("it is empty"));
        let err = parse_err(r#"{"defaultAction": "SCMP_ACT_ALLOW"} {}"#);
        assert!(err.contains("trailing"), "{err}");
    }

    #[test]
    fn missing_action_is_named() {
        let err =
            parse_err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"]}]}"#);
        assert!(err.contains("missing field `action`"), "{err}");
        let err = parse_err(r#"{"syscalls": []}"#);
        assert!(err.contains("missing field `defaultAction`"), "{err}");
    }

    #[test]
    fn contradictory_shapes_are_refused() {
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
        );
        assert!(err.contains("both `architectures` and `archMap`"), "{err}");
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read",
                "names": ["write"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert!(err.contains("both `name` and `names`"), "{err}");
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [],
                "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert!(err.contains("names no syscall"), "{err}");
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]}"#,
        );
        assert!(err.contains("errnoRet 1 means nothing"), "{err}");
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["Read; rm"],
                "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert!(err.contains("is not a syscall name"), "{err}");
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_WIZARD"]}}]}"#,
        );
        assert!(
            err.contains("CAP_WIZARD") && err.contains("CAP_SYS_ADMIN"),
            "{err}"
        );
    }

    #[test]
    fn conflicting_duplicates_are_refused_naming_the_syscall() {
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read", "ptrace"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]}"#,
        );
        assert!(err.contains("`ptrace`"), "{err}");
        assert!(
            err.contains("syscalls[0]") && err.contains("syscalls[1]"),
            "{err}"
        );
        // Two errnos differ too.
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO"}]}"#,
        );
        assert!(err.contains("`clone3`"), "{err}");
    }

    /// The conflict is found after the whole profile is read, where
    /// serde_json has no position: the message names the two rules, by
    /// number, place and names, and no "line 0 column 0".
    #[test]
    fn conflicting_rules_are_named_without_a_meaningless_position() {
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["close"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["write"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
        );
        assert!(
            err.starts_with(
                "rule 3 (syscalls[2]: write) conflicts with rule 1 (syscalls[0]: read, write): "
            ),
            "{err}"
        );
        assert!(
            err.contains(
                "`write` is SCMP_ACT_ALLOW in rule 1 and SCMP_ACT_ERRNO (errno 1) in rule 3"
            ),
            "{err}"
        );
        assert!(
            !err.contains("line 0") && !err.contains("column 0"),
            "{err}"
        );
    }

    #[test]
    fn duplicates_that_agree_or_differ_in_conditions_are_fine() {
        parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone3"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                {"names": ["socket"], "action": "SCMP_ACT_ERRNO"}]}"#,
        )
        .unwrap();
    }

    #[test]
    fn containers_common_errno_names_are_read_and_checked() {
        let parsed = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "defaultErrno": "ENOSYS",
                "syscalls": [{"names": ["bdflush"], "action": "SCMP_ACT_ERRNO", "errno": "EPERM",
                "args": [], "comment": "", "includes": {}, "excludes": {}}]}"#,
        )
        .unwrap();
        assert_eq!(parsed.profile.default_errno_ret, Some(38));
        assert_eq!(parsed.profile.syscalls[0].errno_ret, Some(1));
        let err = parse_err(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "defaultErrno": "ENOSYS"}"#,
        );
        assert!(
            err.contains("\"ENOSYS\" is errno 38, but defaultErrnoRet says 1"),
            "{err}"
        );
        let err = parse_err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "EWHAT"}"#);
        assert!(err.contains("\"EWHAT\""), "{err}");
    }
}
