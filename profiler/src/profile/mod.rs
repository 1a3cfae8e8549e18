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
pub(crate) mod eval;
mod model;
mod parse;
mod rule;
mod set;
mod strict;
pub mod table;
mod verdict;
mod warnings;

use std::path::Path;

pub use arch::Arch;
pub(crate) use model::rule_names;
pub use model::{ArchMapEntry, Profile, SyscallRule};
pub(crate) use parse::ParseError;
pub(crate) use rule::effective_capabilities;
pub use rule::{
    Action, ArgCondition, Capability, CompareOp, Filter, FilterArch, FilterFlag, KernelVersion,
    MAX_ARG_INDEX,
};
pub(crate) use set::SyscallSet;
pub(crate) use strict::null_as_empty;
pub use verdict::Verdict;
use warnings::capped;
pub use warnings::{IneffectiveMask, ProfileWarning};

/// EPERM: what a denied syscall returns under Docker's default profile, and
/// under a learned one.
pub(crate) const EPERM: u32 = 1;

/// `ENOSYS`: what a syscall the kernel lacks gets; a profile answers
/// `clone3` with it so that the libc falls back to `clone`.
pub(crate) const ENOSYS: u32 = 38;

/// A profile as read, with what the reading found worth saying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedProfile {
    pub profile: Profile,
    /// Names that are no syscall of the architectures the profile filters
    /// on this host (or a note that they could not be checked).
    pub warnings: Vec<ProfileWarning>,
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
        warnings.extend(profile.default_logs());
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

    pub(super) fn parse(text: &str) -> Result<ParsedProfile, ParseError> {
        Profile::parse(text.as_bytes())
    }

    pub(super) fn parse_err(text: &str) -> String {
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
