//! Seccomp profiles in Docker's JSON format, and the syscall tables that give
//! the names in them.
//!
//! The whole schema Docker reads (moby's `profiles/seccomp` types over the
//! OCI runtime spec's) parses into types that say what each part means:
//! a [`Profile`] of [`SyscallRule`]s, each with an [`Action`], its
//! [`ArgCondition`]s and the [`Filter`]s that decide whether Docker keeps
//! it. Parsing is strict (see [`Profile::parse`]): what this tool does not
//! understand is an error naming it, never something silently ignored.

#[macro_use]
mod vocabulary;
mod arch;
pub(crate) mod errno;
mod parse;
mod rule;
mod set;
pub mod table;
mod verdict;

use std::{collections::HashMap, fmt, path::Path};

use serde::{Deserialize, Deserializer, Serialize};

pub use arch::Arch;
pub(crate) use parse::ParseError;
pub use rule::{
    Action, ArgCondition, Capability, CompareOp, Filter, FilterArch, FilterFlag, KernelVersion,
    MAX_ARG_INDEX,
};
pub(crate) use set::SyscallSet;
pub use verdict::Verdict;

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

/// The largest errno: the kernel takes a return value from -4095 to -1 as
/// an error (`MAX_ERRNO`), and libseccomp refuses a larger one.
pub(crate) const MAX_ERRNO: u32 = 4095;

/// An `errnoRet`/`defaultErrnoRet`: a number from 0 to [`MAX_ERRNO`]
/// (`null` is no value). A larger one would be cut to its low 16 bits by
/// the filter (65536 to 0: the denied syscall "succeeds"), a negative one
/// is no errno.
fn errno_number<'de, D>(deserializer: D) -> Result<Option<u32>, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::Error;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    match number.as_u64() {
        Some(errno) if errno <= u64::from(MAX_ERRNO) => Ok(Some(errno as u32)),
        _ => Err(D::Error::custom(format!(
            "{number} is not an errno: an errno is a whole number from 0 to {MAX_ERRNO} \
             (e.g. 1 for EPERM, 38 for ENOSYS)"
        ))),
    }
}

/// Reads a list that may also be given as `null` (Go writes a nil slice so).
pub(crate) fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads a list of objects (or `null`), each strictly an object: serde's
/// derived structs would also take a list of their fields in order, which no
/// Docker profile has and which would hide mistakes.
fn objects<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let list: Vec<ObjectOnly<T>> = null_as_empty(deserializer)?;
    Ok(list.into_iter().map(|ObjectOnly(item)| item).collect())
}

/// Reads an optional object (absent or `null`), strictly an object.
fn optional_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<ObjectOnly<T>>::deserialize(deserializer)?.map(|ObjectOnly(item)| item))
}

/// `T`, read only from a JSON object (see [`objects`]).
struct ObjectOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(Visitor(std::marker::PhantomData))
            .map(ObjectOnly)
    }
}

/// EPERM: what a denied syscall returns under Docker's default profile, and
/// under a learned one.
pub(crate) const EPERM: u32 = 1;

/// A profile as read, with what the reading found worth saying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedProfile {
    pub profile: Profile,
    /// Names that are no syscall of the architectures the profile filters
    /// on this host (or a note that they could not be checked).
    pub warnings: Vec<ProfileWarning>,
}

/// Something a profile says that a runtime on this host would not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileWarning {
    /// `name` is a syscall of none of `arches` (the profile's architectures
    /// on this host), so a runtime skips it there.
    UnknownName {
        name: String,
        /// Indexes into the profile's `syscalls`, of the rules naming it.
        rules: Vec<usize>,
        arches: Vec<Arch>,
    },
    /// This tool has no syscall table for any of `arches`: names were not
    /// checked.
    NamesNotChecked { arches: Vec<Arch> },
    /// An `includes`/`excludes` architecture that names none: Docker's
    /// string comparison never matches it.
    UnknownFilterArch {
        value: String,
        /// Where, e.g. `syscalls[16].excludes.arches`.
        at: String,
    },
    /// A rule's `SCMP_CMP_MASKED_EQ` conditions that check nothing (mask
    /// 0, valueTwo 0: every value matches) or match no value (valueTwo has
    /// bits the mask clears, as any valueTwo but 0 does with mask 0).
    IneffectiveMask {
        /// Index into the profile's `syscalls`.
        rule: usize,
        /// The rule's names, shortened (see [`rule_names`]).
        names: String,
        conditions: Vec<IneffectiveMask>,
    },
    /// More warnings of the same kind than are worth a line each: how many
    /// were left out after the first [`MAX_WARNINGS_OF_A_KIND`].
    More { count: usize, kind: &'static str },
}

/// One `SCMP_CMP_MASKED_EQ` condition (`(arg & value) == valueTwo`) that
/// does not check what it seems to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IneffectiveMask {
    /// Mask 0 and valueTwo 0: every value of argument `index` matches.
    MatchesAll { index: u32 },
    /// valueTwo has bits outside the mask: no value of argument `index`
    /// matches.
    MatchesNone {
        index: u32,
        mask: u64,
        value_two: u64,
    },
}

impl IneffectiveMask {
    /// What `condition` does that it seems not to, if anything.
    pub(crate) fn of(condition: &ArgCondition) -> Option<IneffectiveMask> {
        if condition.op != CompareOp::MaskedEqual {
            return None;
        }
        let index = condition.index;
        if condition.value == 0 && condition.value_two == 0 {
            Some(IneffectiveMask::MatchesAll { index })
        } else if condition.value_two & !condition.value != 0 {
            Some(IneffectiveMask::MatchesNone {
                index,
                mask: condition.value,
                value_two: condition.value_two,
            })
        } else {
            None
        }
    }
}

impl fmt::Display for IneffectiveMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IneffectiveMask::MatchesAll { index } => write!(
                f,
                "the SCMP_CMP_MASKED_EQ on argument {index} has mask (`value`) 0 and valueTwo 0, \
                 so every value matches: it checks nothing (put the bits to compare in `value`)"
            ),
            IneffectiveMask::MatchesNone {
                index,
                mask,
                value_two,
            } => write!(
                f,
                "the SCMP_CMP_MASKED_EQ on argument {index} has valueTwo {value_two:#x} with bits \
                 outside its mask (`value`) {mask:#x}, so no value matches and the rule never \
                 applies (valueTwo must be within the mask)"
            ),
        }
    }
}

/// The most warnings of one kind given a line each; the rest are counted
/// in one [`ProfileWarning::More`] (a profile of 300,000 made-up names
/// makes one warning line, not 300,000).
pub(crate) const MAX_WARNINGS_OF_A_KIND: usize = 20;

/// The most rule indexes listed in one warning.
const MAX_RULES_LISTED: usize = 5;

impl fmt::Display for ProfileWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfileWarning::UnknownName {
                name,
                rules,
                arches,
            } => {
                let mut listed: Vec<String> = rules
                    .iter()
                    .take(MAX_RULES_LISTED)
                    .map(|r| format!("syscalls[{r}]"))
                    .collect();
                if rules.len() > MAX_RULES_LISTED {
                    listed.push(format!("{} more rules", rules.len() - MAX_RULES_LISTED));
                }
                let rules = listed;
                write!(
                    f,
                    "`{}` ({}) is not a syscall of {}: a runtime on this host skips it \
                     (another architecture's syscall, or a misspelling)",
                    crate::text::printable(name),
                    rules.join(", "),
                    arch_list(arches)
                )
            }
            ProfileWarning::NamesNotChecked { arches } => write!(
                f,
                "syscall names not checked: this tool has no syscall table for {}",
                arch_list(arches)
            ),
            ProfileWarning::IneffectiveMask {
                rule,
                names,
                conditions,
            } => {
                let said: Vec<String> = conditions.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "rule {} (syscalls[{rule}]: {}): {}",
                    rule + 1,
                    crate::text::printable(names),
                    said.join("; ")
                )
            }
            ProfileWarning::More { count, kind } => {
                write!(
                    f,
                    "{count} more {kind} (the first {MAX_WARNINGS_OF_A_KIND} are above)"
                )
            }
            ProfileWarning::UnknownFilterArch { value, at } => write!(
                f,
                "{value:?} in `{at}` names no architecture, so it never matches (known: {})",
                FilterArch::KNOWN.join(", ")
            ),
        }
    }
}

fn arch_list(arches: &[Arch]) -> String {
    let names: Vec<&str> = arches.iter().map(|a| a.short_name()).collect();
    match names.as_slice() {
        [] => "no architecture".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl Profile {
    /// The minimal allow-list for `allowed` on `arch`: everything else fails
    /// with EPERM, as under Docker's default profile. `comment` says where the
    /// list comes from.
    pub(crate) fn allow_list(arch: Arch, allowed: &SyscallSet, comment: Option<String>) -> Profile {
        let mut rule = SyscallRule::new(allowed.iter().map(str::to_owned).collect(), Action::Allow);
        rule.comment = comment;
        Profile {
            default_action: Action::Errno,
            default_errno_ret: Some(EPERM),
            architectures: Vec::new(),
            arch_map: vec![ArchMapEntry {
                architecture: arch,
                sub_architectures: arch.sub_architectures().to_vec(),
            }],
            flags: Vec::new(),
            listener_path: None,
            listener_metadata: None,
            syscalls: vec![rule],
        }
    }

    /// The profile as pretty JSON with a final newline, the way it is written.
    pub fn to_json(&self) -> String {
        // Only strings, integers, lists and maps with string keys: nothing
        // serde_json can fail on.
        let mut text = serde_json::to_string_pretty(self).expect("a profile always serializes");
        text.push('\n');
        text
    }

    /// Reads and checks the profile at `path` (see [`Profile::parse`]);
    /// `-` is standard input, which can be read once. A path that leads to
    /// no regular file (a FIFO, a device, a directory, a socket) is refused
    /// without being opened, and a file larger than [`MAX_PROFILE_BYTES`](parse::MAX_PROFILE_BYTES)
    /// before it is read.
    pub fn load(path: &Path) -> Result<ParsedProfile, ProfileError> {
        let bytes = parse::read_limited(path)?;
        Profile::parse(&bytes).map_err(|source| ProfileError::Invalid {
            path: match path == Path::new("-") {
                true => parse::STDIN_NAME.into(),
                false => path.to_owned(),
            },
            source,
        })
    }

    /// Parses a profile strictly: every field of Docker's schema is read
    /// and checked, and an unknown field, action, operator, architecture or
    /// capability, a wrong type, a syscall given conflicting actions under
    /// the same conditions, nesting deeper than the schema or more than
    /// [`MAX_PROFILE_BYTES`](parse::MAX_PROFILE_BYTES) are errors that say where and what. Names that
    /// are no syscall of the architectures the profile filters on this host
    /// come back as warnings.
    pub fn parse(bytes: &[u8]) -> Result<ParsedProfile, ParseError> {
        let profile = parse::parse_strict(bytes)?;
        let mut warnings = match Arch::host() {
            Some(host) => capped(
                profile.unknown_names(host),
                "names that are no syscall here",
            ),
            None => Vec::new(),
        };
        warnings.extend(capped(
            profile.unknown_filter_arches(),
            "`includes`/`excludes` architectures that name none",
        ));
        warnings.extend(capped(
            profile.ineffective_masks(),
            "rules whose masked comparisons check nothing or match nothing",
        ));
        Ok(ParsedProfile { profile, warnings })
    }

    /// The architectures a runtime on a host of `native` filters with this
    /// profile, the way Docker builds them: the `archMap` entry of `native`
    /// with its sub-architectures, or the listed `architectures`; libseccomp
    /// always includes the native one.
    pub fn effective_arches(&self, native: Arch) -> Vec<Arch> {
        let mut arches = vec![native];
        let listed: Vec<Arch> = if self.arch_map.is_empty() {
            self.architectures.clone()
        } else {
            self.arch_map
                .iter()
                .filter(|entry| entry.architecture == native)
                .flat_map(|entry| {
                    std::iter::once(entry.architecture).chain(entry.sub_architectures.clone())
                })
                .collect()
        };
        for arch in listed {
            if !arches.contains(&arch) {
                arches.push(arch);
            }
        }
        arches
    }

    /// Names no table of the profile's architectures on a host of `native`
    /// knows, over the rules Docker keeps on such a host by architecture.
    pub(crate) fn unknown_names(&self, native: Arch) -> Vec<ProfileWarning> {
        let arches = self.effective_arches(native);
        let checkable: Vec<Arch> = arches
            .iter()
            .copied()
            .filter(|&arch| table::has_table(arch))
            .collect();
        if checkable.is_empty() {
            return vec![ProfileWarning::NamesNotChecked { arches }];
        }
        let mut unknown: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
        for (index, rule) in self.syscalls.iter().enumerate() {
            if !applies_to_arch(rule, native) {
                continue;
            }
            for name in &rule.names {
                if !checkable
                    .iter()
                    .any(|&arch| table::knows(arch, name) == Some(true))
                {
                    let rules = unknown.entry(name).or_default();
                    if rules.last() != Some(&index) {
                        rules.push(index);
                    }
                }
            }
        }
        unknown
            .into_iter()
            .map(|(name, rules)| ProfileWarning::UnknownName {
                name: name.to_owned(),
                rules,
                arches: checkable.clone(),
            })
            .collect()
    }

    /// `includes`/`excludes` architectures that name none.
    pub(crate) fn unknown_filter_arches(&self) -> Vec<ProfileWarning> {
        let mut warnings = Vec::new();
        for (index, rule) in self.syscalls.iter().enumerate() {
            for (side, filter) in [("includes", &rule.includes), ("excludes", &rule.excludes)] {
                for arch in filter.arches.iter().filter(|a| !a.is_known()) {
                    warnings.push(ProfileWarning::UnknownFilterArch {
                        value: arch.as_str().to_owned(),
                        at: format!("syscalls[{index}].{side}.arches"),
                    });
                }
            }
        }
        warnings
    }

    /// The rules with `SCMP_CMP_MASKED_EQ` conditions that check nothing
    /// or match nothing, one warning a rule.
    pub(crate) fn ineffective_masks(&self) -> Vec<ProfileWarning> {
        self.syscalls
            .iter()
            .enumerate()
            .filter_map(|(rule, syscall)| {
                let mut conditions: Vec<IneffectiveMask> = Vec::new();
                for found in syscall.args.iter().filter_map(IneffectiveMask::of) {
                    if !conditions.contains(&found) {
                        conditions.push(found);
                    }
                }
                (!conditions.is_empty()).then(|| ProfileWarning::IneffectiveMask {
                    rule,
                    names: rule_names(syscall),
                    conditions,
                })
            })
            .collect()
    }
}

/// The first [`MAX_WARNINGS_OF_A_KIND`] of `warnings`, and a count of the
/// rest.
fn capped(mut warnings: Vec<ProfileWarning>, kind: &'static str) -> Vec<ProfileWarning> {
    if warnings.len() > MAX_WARNINGS_OF_A_KIND {
        let count = warnings.len() - MAX_WARNINGS_OF_A_KIND;
        warnings.truncate(MAX_WARNINGS_OF_A_KIND);
        warnings.push(ProfileWarning::More { count, kind });
    }
    warnings
}

/// Whether Docker keeps `rule` on a daemon of native architecture `native`,
/// judging by its `arches` filters only.
pub(crate) fn applies_to_arch(rule: &SyscallRule, native: Arch) -> bool {
    let go_arch = native.go_arch();
    let named = |filter: &Filter| {
        filter
            .arches
            .iter()
            .any(|arch| Some(arch.as_str()) == go_arch)
    };
    let included = rule.includes.arches.is_empty() || named(&rule.includes);
    included && !named(&rule.excludes)
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {}: {source}", crate::text::path(path))]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid seccomp profile: {source}", crate::text::path(path))]
    Invalid {
        path: std::path::PathBuf,
        source: ParseError,
    },
    #[error(
        "{} is {kind}, not a profile file: give a regular file, or `-` to read standard input",
        crate::text::path(path)
    )]
    NotAFile {
        path: std::path::PathBuf,
        kind: &'static str,
    },
    #[error(
        "standard input (`-`) is given for two profiles: it can be read once; give the other \
         profile as a file"
    )]
    StdinTwice,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ParsedProfile, ParseError> {
        Profile::parse(text.as_bytes())
    }

    fn parse_err(text: &str) -> String {
        match parse(text) {
            Ok(parsed) => panic!("accepted: {text}\n{parsed:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn allow_list_is_docker_shaped_and_sorted() {
        let set: SyscallSet = ["write", "exit_group", "read"].into_iter().collect();
        let profile = Profile::allow_list(Arch::X86_64, &set, None);
        let json: serde_json::Value = serde_json::from_str(&profile.to_json()).unwrap();
        assert_eq!(json["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(json["defaultErrnoRet"], 1);
        assert_eq!(json["archMap"][0]["architecture"], "SCMP_ARCH_X86_64");
        assert_eq!(
            json["archMap"][0]["subArchitectures"],
            serde_json::json!(["SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        assert_eq!(
            json["syscalls"][0]["names"],
            serde_json::json!(["exit_group", "read", "write"])
        );
        assert_eq!(json["syscalls"][0]["action"], "SCMP_ACT_ALLOW");
        let back: Profile = serde_json::from_str(&profile.to_json()).unwrap();
        assert_eq!(back, profile);
    }

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
    fn unknown_names_are_warned_about_not_dropped() {
        let parsed = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
                "syscalls": [
                {"names": ["read", "chown32", "not_a_syscall"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["s390_runtime_instr"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}}]}"#,
        )
        .unwrap();
        assert!(
            parsed.profile.syscalls[0]
                .names
                .contains(&"not_a_syscall".to_owned())
        );
        let warnings = parsed.profile.unknown_names(Arch::X86_64);
        assert_eq!(
            warnings,
            [ProfileWarning::UnknownName {
                name: "not_a_syscall".to_owned(),
                rules: vec![0],
                arches: vec![Arch::X86_64, Arch::X86],
            }]
        );
        let text = warnings[0].to_string();
        assert!(
            text.contains("`not_a_syscall`") && text.contains("x86_64 or i386"),
            "{text}"
        );
        // On arm64 too: chown32 is a syscall of arm's EABI.
        let on_arm = parsed.profile.unknown_names(Arch::Aarch64);
        assert_eq!(on_arm.len(), 1, "{on_arm:?}");
        // An arch this tool has no table for is said, not assumed.
        assert_eq!(
            parsed.profile.unknown_names(Arch::Riscv64),
            [ProfileWarning::NamesNotChecked {
                arches: vec![Arch::Riscv64]
            }]
        );
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

    #[test]
    fn unknown_filter_architecture_parses_with_a_warning() {
        let parsed = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["clone3"],
                "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                "includes": {"arches": ["mips3l64n32", "mips64"]}}]}"#,
        )
        .unwrap();
        let warning = parsed
            .warnings
            .iter()
            .find(|w| matches!(w, ProfileWarning::UnknownFilterArch { .. }))
            .expect("a warning");
        let text = warning.to_string();
        assert!(
            text.contains("\"mips3l64n32\" in `syscalls[0].includes.arches`"),
            "{text}"
        );
    }

    /// `(arg & 0) == 0` holds for every argument, `(arg & 0) == 2` for
    /// none: both parse, and each such rule is warned of once, naming the
    /// rule and the argument; a real mask is not.
    #[test]
    fn masked_comparisons_that_check_nothing_are_warned_of() {
        let parsed = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["socket", "socketpair"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
                    {"index": 0, "value": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 0, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
                    {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 1, "value": 255, "valueTwo": 256, "op": "SCMP_CMP_MASKED_EQ"},
                    {"index": 2, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
        )
        .unwrap();
        let said: Vec<String> = parsed
            .warnings
            .iter()
            .filter(|w| matches!(w, ProfileWarning::IneffectiveMask { .. }))
            .map(ToString::to_string)
            .collect();
        assert_eq!(said.len(), 3, "{said:#?}");
        assert!(
            said[0].starts_with("rule 2 (syscalls[1]: socket, socketpair): the SCMP_CMP_MASKED_EQ on argument 0 has mask (`value`) 0 and valueTwo 0, so every value matches"),
            "{}", said[0]
        );
        assert_eq!(said[0].matches("argument 0").count(), 1, "{}", said[0]);
        assert!(
            said[1].starts_with("rule 3 (syscalls[2]: personality): the SCMP_CMP_MASKED_EQ on argument 0 has valueTwo 0x2 with bits outside its mask (`value`) 0x0, so no value matches"),
            "{}", said[1]
        );
        assert!(
            said[2].starts_with("rule 5 (syscalls[4]: ioctl): the SCMP_CMP_MASKED_EQ on argument 1 has valueTwo 0x100 with bits outside its mask (`value`) 0xff")
                && said[2].contains("; the SCMP_CMP_MASKED_EQ on argument 2 has mask (`value`) 0 and valueTwo 0"),
            "{}", said[2]
        );
        // What the warnings say is what the comparison does.
        for rule in &parsed.profile.syscalls {
            for arg in &rule.args {
                let all = (0..64)
                    .map(|bit| 1u64 << bit)
                    .chain([0, u64::MAX])
                    .all(|v| arg.holds_for(v));
                let none = !(0..64)
                    .map(|bit| 1u64 << bit)
                    .chain([0, u64::MAX, 256])
                    .any(|v| arg.holds_for(v));
                match IneffectiveMask::of(arg) {
                    Some(IneffectiveMask::MatchesAll { .. }) => assert!(all, "{arg}"),
                    Some(IneffectiveMask::MatchesNone { .. }) => assert!(none, "{arg}"),
                    None => assert!(!none, "{arg}"),
                }
            }
        }
    }

    #[test]
    fn effective_arches_follow_docker() {
        let profile = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [
                {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}]}"#,
        )
        .unwrap()
        .profile;
        assert_eq!(
            profile.effective_arches(Arch::X86_64),
            [Arch::X86_64, Arch::X86, Arch::X32]
        );
        assert_eq!(profile.effective_arches(Arch::S390X), [Arch::S390X]);
    }
}
