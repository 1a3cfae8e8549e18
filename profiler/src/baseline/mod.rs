//! The Docker default baseline: what `docker run` allows a container when
//! no seccomp option is given, as this tool's own data, evaluated the way
//! Docker evaluates it.
//!
//! The data (`profiler/data/docker-baseline.json`, written by `cargo xtask
//! docker-baseline`) holds the facts of Docker's default profile grouped by
//! syscall: for each, the rules that name it. [`DockerContext::host`] is the
//! container Docker would evaluate it for here (the host's architecture,
//! Docker's default capabilities adjusted by `--cap-add`/`--cap-drop`, the
//! running kernel), and [`eval::EffectivePolicy`] the outcome. Any other
//! Docker-format profile evaluates the same way (`--baseline FILE`).

pub mod eval;
pub mod notes;

use std::{collections::BTreeMap, collections::BTreeSet, path::Path};

use serde::Deserialize;

use crate::profile::{
    Action, ArchMapEntry, ArgCondition, Capability, Filter, KernelVersion, ParsedProfile, Profile,
    ProfileError, SyscallRule,
};

pub use crate::profile::Verdict;
pub use eval::{Access, DockerContext, EffectivePolicy, Grant};

/// The baseline data shipped with the tool.
const DOCKER_DEFAULT: &str = include_str!("../../data/docker-baseline.json");

/// The capabilities Docker gives a container by default.
pub const DOCKER_DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{0}")]
    Profile(#[from] ProfileError),
    #[error("unknown capability {given:?} in --cap-{side}: {reason}")]
    Capability {
        given: String,
        side: &'static str,
        reason: String,
    },
    #[error(
        "this host's architecture ({0}) is not one this tool has syscall tables for; \
         compare on x86_64 or aarch64"
    )]
    UnsupportedArch(&'static str),
    #[error("cannot tell the running kernel's version from uname(2)")]
    KernelVersion,
}

/// The file format of the baseline data: Docker's rules grouped by syscall.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BaselineData {
    schema: String,
    source: String,
    default_action: Action,
    default_errno_ret: Option<u32>,
    arch_map: Vec<ArchMapEntry>,
    syscalls: BTreeMap<String, Vec<BaselineRule>>,
}

/// One of Docker's rules, as it bears on one syscall.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BaselineRule {
    action: Action,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Vec<ArgCondition>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

/// A profile to compare with, and where it came from.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// What to call it in reports, e.g. `Docker's default profile
    /// (moby/profiles seccomp/default.json v0.2.3)`.
    pub name: String,
    pub profile: Profile,
    /// Whether this is Docker's default (so its reasons and remedies apply).
    pub is_docker_default: bool,
}

impl Baseline {
    /// Docker's default profile, from the data shipped with the tool.
    pub fn docker_default() -> Baseline {
        // The data is the tool's own, checked by the tests below: a failure
        // here is a broken build, not a user's mistake.
        let data: BaselineData =
            serde_json::from_str(DOCKER_DEFAULT).expect("the shipped baseline data is valid");
        debug_assert_eq!(data.schema, "syscall-profile/docker-baseline/v1");
        let syscalls = data
            .syscalls
            .into_iter()
            .flat_map(|(name, rules)| {
                rules.into_iter().map(move |rule| SyscallRule {
                    names: vec![name.clone()],
                    action: rule.action,
                    errno_ret: rule.errno_ret,
                    args: rule.args,
                    comment: None,
                    includes: rule.includes,
                    excludes: rule.excludes,
                })
            })
            .collect();
        Baseline {
            name: format!("Docker's default profile ({})", data.source),
            profile: Profile {
                default_action: data.default_action,
                default_errno_ret: data.default_errno_ret,
                architectures: Vec::new(),
                arch_map: data.arch_map,
                flags: Vec::new(),
                listener_path: None,
                listener_metadata: None,
                syscalls,
            },
            is_docker_default: true,
        }
    }

    /// Any Docker-format profile, from `path`; its warnings come back too.
    pub fn from_file(path: &Path) -> Result<(Baseline, ParsedProfile), BaselineError> {
        let parsed = Profile::load(path)?;
        Ok((
            Baseline {
                name: path.display().to_string(),
                profile: parsed.profile.clone(),
                is_docker_default: false,
            },
            parsed,
        ))
    }

    pub fn evaluate(&self, context: &DockerContext) -> EffectivePolicy {
        EffectivePolicy::evaluate(&self.profile, context)
    }

    /// The capabilities whose `--cap-add` would let `name` run under this
    /// baseline in `context` (one of them is enough), when there are any.
    pub fn capabilities_allowing(&self, name: &str, context: &DockerContext) -> Vec<Capability> {
        let mut found = BTreeSet::new();
        for rule in &self.profile.syscalls {
            if !rule.names.iter().any(|n| n == name) || !rule.action.lets_run() {
                continue;
            }
            for cap in &rule.includes.caps {
                if context.caps.contains(cap) {
                    continue;
                }
                let mut with = context.clone();
                with.caps.insert(*cap);
                if self.evaluate(&with).access(name).is_allowed() {
                    found.insert(*cap);
                }
            }
        }
        found.into_iter().collect()
    }
}

impl DockerContext {
    /// The container `docker run --cap-add ADD --cap-drop DROP` makes on
    /// this host: its architecture, Docker's default capabilities adjusted
    /// the way Docker adjusts them, the running kernel.
    pub fn host(cap_add: &[String], cap_drop: &[String]) -> Result<DockerContext, BaselineError> {
        let native = crate::profile::Arch::host()
            .ok_or(BaselineError::UnsupportedArch(std::env::consts::ARCH))?;
        let kernel = KernelVersion::running().ok_or(BaselineError::KernelVersion)?;
        Ok(DockerContext {
            native,
            caps: docker_capabilities(cap_add, cap_drop)?,
            kernel,
        })
    }
}

/// Docker's default capability set with `--cap-add`/`--cap-drop` applied
/// as Docker applies them: `ALL` in the adds means every capability but the
/// dropped ones; `ALL` in the drops means only the added ones; otherwise
/// the drops are taken from the defaults, then the adds put in (so a
/// capability both added and dropped is kept).
pub fn docker_capabilities(
    cap_add: &[String],
    cap_drop: &[String],
) -> Result<BTreeSet<Capability>, BaselineError> {
    let parse = |names: &[String], side: &'static str| {
        names
            .iter()
            .filter(|n| !n.eq_ignore_ascii_case("ALL"))
            .map(|n| {
                Capability::from_docker_name(n).map_err(|reason| BaselineError::Capability {
                    given: n.clone(),
                    side,
                    reason,
                })
            })
            .collect::<Result<BTreeSet<Capability>, _>>()
    };
    let all = |names: &[String]| names.iter().any(|n| n.eq_ignore_ascii_case("ALL"));
    let adds = parse(cap_add, "add")?;
    let drops = parse(cap_drop, "drop")?;
    let every: BTreeSet<Capability> = Capability::ALL.iter().copied().collect();
    let defaults: BTreeSet<Capability> = DOCKER_DEFAULT_CAPS
        .iter()
        .filter_map(|name| name.parse().ok())
        .collect();
    Ok(if all(cap_add) {
        every.difference(&drops).copied().collect()
    } else if all(cap_drop) {
        adds
    } else {
        defaults.difference(&drops).copied().chain(adds).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Arch, CompareOp};

    fn context(caps: &[&str]) -> DockerContext {
        DockerContext {
            native: Arch::X86_64,
            caps: caps.iter().map(|c| c.parse().unwrap()).collect(),
            kernel: KernelVersion { major: 6, minor: 1 },
        }
    }

    fn default_context() -> DockerContext {
        context(&DOCKER_DEFAULT_CAPS)
    }

    #[test]
    fn shipped_data_is_a_valid_profile() {
        let baseline = Baseline::docker_default();
        let text = baseline.profile.to_json();
        let parsed = Profile::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.profile, baseline.profile);
        assert!(baseline.name.contains("v0.2.3"), "{}", baseline.name);
    }

    #[test]
    fn default_capabilities_follow_docker_s_rules() {
        let names = |caps: BTreeSet<Capability>| -> Vec<&'static str> {
            caps.into_iter().map(|c| c.scmp_name()).collect()
        };
        let default = docker_capabilities(&[], &[]).unwrap();
        assert_eq!(default.len(), 14);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let added = docker_capabilities(&s(&["sys_admin"]), &s(&["CAP_CHOWN"])).unwrap();
        assert!(names(added.clone()).contains(&"CAP_SYS_ADMIN"));
        assert!(!names(added).contains(&"CAP_CHOWN"));
        assert_eq!(docker_capabilities(&s(&["ALL"]), &[]).unwrap().len(), 41);
        assert_eq!(
            names(docker_capabilities(&s(&["NET_ADMIN"]), &s(&["ALL"])).unwrap()),
            ["CAP_NET_ADMIN"]
        );
        // Added and dropped: kept, as Docker does.
        assert!(
            names(docker_capabilities(&s(&["KILL"]), &s(&["KILL"])).unwrap()).contains(&"CAP_KILL")
        );
        let err = docker_capabilities(&s(&["SYS_MAGIC"]), &[]).unwrap_err();
        assert!(err.to_string().contains("SYS_MAGIC"), "{err}");
    }

    #[test]
    fn default_profile_on_amd64_matches_docker_s_published_counts() {
        let policy = Baseline::docker_default().evaluate(&default_context());
        let (mut allowed, mut conditional, mut denied) = (Vec::new(), Vec::new(), Vec::new());
        // Counted over the syscalls the host's libseccomp knows, as a
        // runtime sees them.
        for (_, name) in crate::profile::table::all(Arch::X86_64) {
            if !crate::profile::table::libseccomp_knows(Arch::X86_64, name) {
                continue;
            }
            match policy.access(name) {
                Access::Allowed => allowed.push(name),
                Access::Conditional { .. } => conditional.push(name),
                Access::Denied(_) => denied.push(name),
            }
        }
        conditional.sort_unstable();
        assert_eq!(conditional, ["clone", "personality", "socket"]);
        // field.md counts 292 unconditional and 67 denied (clone3's ENOSYS
        // among them) with a libseccomp of plain 2.5.4; Debian 12's has
        // backports of six newer syscalls, all of which Docker allows.
        let backported = [
            "cachestat",
            "fchmodat2",
            "map_shadow_stack",
            "futex_wake",
            "futex_wait",
            "futex_requeue",
        ];
        assert!(backported.iter().all(|b| allowed.contains(b)));
        assert_eq!(
            allowed.len(),
            292 + backported.len(),
            "unconditionally allowed"
        );
        assert_eq!(denied.len(), 67, "denied: {denied:?}");
        assert_eq!(
            policy.access("clone3"),
            Access::Denied(Verdict::of(Action::Errno, Some(38)))
        );
        assert_eq!(
            policy.access("ptrace"),
            Access::Allowed,
            "allowed from 4.8 on"
        );
        assert!(policy.access("arch_prctl").is_allowed());
        assert!(!policy.access("s390_runtime_instr").is_allowed());
    }

    #[test]
    fn capabilities_and_kernel_change_the_verdicts() {
        let baseline = Baseline::docker_default();
        let admin = baseline.evaluate(&context(&["CAP_SYS_ADMIN"]));
        assert!(admin.access("mount").is_allowed());
        assert!(admin.access("clone3").is_allowed());
        assert!(admin.access("clone").is_allowed());
        let old = DockerContext {
            kernel: KernelVersion { major: 4, minor: 4 },
            ..default_context()
        };
        assert!(!baseline.evaluate(&old).access("ptrace").is_allowed());
        let arm = DockerContext {
            native: Arch::Aarch64,
            ..default_context()
        };
        let arm_policy = baseline.evaluate(&arm);
        assert!(!arm_policy.access("arch_prctl").is_allowed());
        assert!(arm_policy.access("cacheflush").is_allowed());
        assert_eq!(arm_policy.arches, [Arch::Aarch64, Arch::Arm]);
    }

    #[test]
    fn argument_conditions_are_evaluated() {
        let policy = Baseline::docker_default().evaluate(&default_context());
        let call = |name, arg0: u64| policy.verdict(name, &[arg0, 0, 0, 0, 0, 0]);
        assert!(call("socket", 1).runs(), "AF_UNIX");
        assert!(call("socket", 39).runs());
        assert!(!call("socket", 38).runs(), "AF_ALG");
        assert!(!call("socket", 40).runs(), "AF_VSOCK");
        assert!(call("personality", 0xffff_ffff).runs());
        assert!(!call("personality", 1).runs());
        assert!(call("clone", 0x11).runs());
        assert!(!call("clone", 0x1000_0000 | 0x11).runs(), "CLONE_NEWUSER");
        let Access::Conditional { when, otherwise } = policy.access("socket") else {
            panic!("socket is conditional");
        };
        assert_eq!(when.len(), 3);
        assert_eq!(when[0].args[0].op, CompareOp::Less);
        assert_eq!(otherwise, Verdict::of(Action::Errno, Some(1)));
    }

    #[test]
    fn capabilities_allowing_names_the_cap_add() {
        let baseline = Baseline::docker_default();
        let ctx = default_context();
        let caps = |name| -> Vec<&str> {
            baseline
                .capabilities_allowing(name, &ctx)
                .into_iter()
                .map(|c| c.scmp_name())
                .collect()
        };
        assert_eq!(caps("mount"), ["CAP_SYS_ADMIN"]);
        assert_eq!(caps("bpf"), ["CAP_BPF", "CAP_SYS_ADMIN"]);
        assert_eq!(caps("kcmp"), ["CAP_SYS_PTRACE"]);
        assert!(caps("kexec_load").is_empty());
        assert!(caps("read").is_empty());
    }
}
