//! Seccomp profiles in Docker's JSON format, and the syscall tables that give
//! the names in them.

mod arch;
mod set;
pub mod table;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use arch::Arch;
pub use set::SyscallSet;

/// What a seccomp filter does with a syscall, in Docker's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "SCMP_ACT_KILL")]
    Kill,
    #[serde(rename = "SCMP_ACT_KILL_PROCESS")]
    KillProcess,
    #[serde(rename = "SCMP_ACT_KILL_THREAD")]
    KillThread,
    #[serde(rename = "SCMP_ACT_TRAP")]
    Trap,
    #[serde(rename = "SCMP_ACT_ERRNO")]
    Errno,
    #[serde(rename = "SCMP_ACT_TRACE")]
    Trace,
    #[serde(rename = "SCMP_ACT_ALLOW")]
    Allow,
    #[serde(rename = "SCMP_ACT_LOG")]
    Log,
    #[serde(rename = "SCMP_ACT_NOTIFY")]
    Notify,
}

/// One entry of a profile's `archMap`: a native architecture and the ones
/// its kernel also runs tasks of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchMapEntry {
    pub architecture: Arch,
    #[serde(default)]
    pub sub_architectures: Vec<Arch>,
}

/// One rule of a profile's `syscalls` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A seccomp profile in the format `docker run --security-opt seccomp=FILE`
/// and `podman run` take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    pub default_action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMapEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub syscalls: Vec<SyscallRule>,
}

/// EPERM: what a denied syscall returns under Docker's default profile, and
/// under a learned one.
pub const EPERM: u32 = 1;

impl Profile {
    /// The minimal allow-list for `allowed` on `arch`: everything else fails
    /// with EPERM, as under Docker's default profile. `comment` says where the
    /// list comes from.
    pub fn allow_list(arch: Arch, allowed: &SyscallSet, comment: Option<String>) -> Profile {
        Profile {
            default_action: Action::Errno,
            default_errno_ret: Some(EPERM),
            arch_map: vec![ArchMapEntry {
                architecture: arch,
                sub_architectures: arch.sub_architectures().to_vec(),
            }],
            syscalls: vec![SyscallRule {
                names: allowed.iter().map(str::to_owned).collect(),
                action: Action::Allow,
                errno_ret: None,
                comment,
            }],
        }
    }

    /// The profile as pretty JSON with a final newline, the way it is written.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a profile always serializes");
        text.push('\n');
        text
    }

    /// Reads a profile written in this format.
    pub fn from_file(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ProfileError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Every name the profile allows, whatever the rule.
    pub fn allowed_names(&self) -> SyscallSet {
        self.syscalls
            .iter()
            .filter(|rule| rule.action == Action::Allow)
            .flat_map(|rule| rule.names.iter().cloned())
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid seccomp profile: {source}")]
    Parse {
        path: std::path::PathBuf,
        source: serde_json::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
