//! The engines' default baselines: what `docker run`, `podman run` and
//! `ctr run --seccomp` allow a container when no profile is given, as this
//! tool's own data, evaluated the way the engines evaluate them.
//!
//! The data (`profiler/data/*-baseline.json`, written by `cargo xtask
//! baseline NAME`) holds the facts of each default profile grouped by
//! syscall: for each, the rules that name it. [`EngineDefault`] names them:
//! moby's current default (`docker`), Docker engine 20.10's built-in one
//! (`docker-20.10`), containers-common's (`podman`), containerd's
//! RuntimeDefault (`containerd`). [`Baseline::for_engine`] picks the one an
//! engine of a given version applies. [`DockerContext::host`] is the
//! container Docker would evaluate a profile for here (the host's
//! architecture, Docker's default capabilities adjusted by
//! `--cap-add`/`--cap-drop`, the running kernel), [`Baseline::context`] the
//! same with the baseline's engine's default capabilities, and
//! [`EffectivePolicy`] the outcome (`profile::eval`). Any other Docker-format profile
//! evaluates the same way (`--baseline FILE`).

mod capabilities;
mod engines;
pub(crate) mod notes;

use std::path::Path;

use crate::profile::{ParsedProfile, Profile, ProfileError};

pub use crate::profile::Verdict;
pub use crate::profile::eval::{Access, DockerContext, EffectivePolicy, Grant};
pub use capabilities::{docker_capabilities, engine_capabilities};
pub use engines::{BaselineChoice, EngineDefault};

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
    #[error(
        "--baseline {0}: neither a baseline name (docker, docker-20.10, podman, containerd) \
         nor a file"
    )]
    UnknownName(String),
}

/// A profile to compare with, where it came from and why it was chosen.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// What to call it in reports, e.g. `Docker's default profile
    /// (moby/profiles seccomp/default.json v0.2.3)`.
    pub name: String,
    pub profile: Profile,
    /// Whether this is a Docker default (so Docker's reasons apply).
    pub is_docker_default: bool,
    /// The engine default it is, when it is one.
    pub engine_default: Option<EngineDefault>,
    /// Why it was chosen, e.g. "the default of `podman run`" or "chosen
    /// with --baseline podman".
    pub reason: String,
}

impl Baseline {
    /// What `--baseline` names; a file's warnings come back too.
    pub(crate) fn choose(
        choice: &BaselineChoice,
    ) -> Result<(Baseline, Vec<String>), BaselineError> {
        match choice {
            BaselineChoice::Engine(default) => Ok((
                Baseline::engine_default(
                    *default,
                    format!("chosen with --baseline {}", default.key()),
                ),
                Vec::new(),
            )),
            BaselineChoice::File(path) => {
                // A bare word that names no file was meant as a name.
                let bare = path.components().count() == 1 && path.extension().is_none();
                if bare && !path.exists() {
                    return Err(BaselineError::UnknownName(path.display().to_string()));
                }
                let (mut baseline, parsed) = Baseline::from_file(path)?;
                baseline.reason = "chosen with --baseline".to_owned();
                let warnings = parsed
                    .warnings
                    .iter()
                    .map(|w| format!("{}: {w}", path.display()))
                    .collect();
                Ok((baseline, warnings))
            }
        }
    }

    /// Any profile, under `name`, as the baseline.
    pub(crate) fn from_profile(name: String, profile: Profile, reason: String) -> Baseline {
        Baseline {
            name,
            profile,
            is_docker_default: false,
            engine_default: None,
            reason,
        }
    }

    /// Its name without the source: `Docker's default profile`, or a
    /// file's path.
    pub(crate) fn title(&self) -> String {
        self.engine_default
            .map_or_else(|| self.name.clone(), |d| d.title().to_owned())
    }

    /// The name and why it was chosen, as one phrase: "podman's default
    /// (containers-common 0.50.1, /usr/share/containers/seccomp.json), the
    /// default of `podman run`".
    pub(crate) fn describe(&self) -> String {
        if self.reason.is_empty() {
            self.name.clone()
        } else {
            format!("{}, {}", self.name, self.reason)
        }
    }

    /// Why the baseline denies `name`: the tool's own words for Docker's
    /// defaults, which podman's and containerd's derive from too where the
    /// tool has a reason for the syscall; otherwise that it is not on the
    /// baseline's allow-list.
    pub(crate) fn why_denied(&self, name: &str) -> String {
        match self.engine_default {
            Some(default) if default.is_docker() => notes::why_docker_blocks(name).to_owned(),
            Some(default) => match notes::note_for(name) {
                Some(note) if !note.why_blocked.is_empty() => note.why_blocked.to_owned(),
                _ => format!("not on {}'s allow-list", default.title()),
            },
            None => format!("{} does not allow it", self.name),
        }
    }

    /// Any Docker-format profile, from `path` (with no reason yet); its
    /// warnings come back too.
    pub(crate) fn from_file(path: &Path) -> Result<(Baseline, ParsedProfile), BaselineError> {
        let parsed = Profile::load(path)?;
        Ok((
            Baseline::from_profile(
                path.display().to_string(),
                parsed.profile.clone(),
                String::new(),
            ),
            parsed,
        ))
    }

    pub fn evaluate(&self, context: &DockerContext) -> EffectivePolicy {
        EffectivePolicy::evaluate(&self.profile, context)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::engines::DOCKER_DEFAULT_CAPS;
    use super::*;
    use crate::profile::{Action, Arch, CompareOp, Filter, KernelVersion};

    pub(super) fn context(caps: &[&str]) -> DockerContext {
        DockerContext {
            native: Arch::X86_64,
            caps: caps.iter().map(|c| c.parse().unwrap()).collect(),
            kernel: KernelVersion { major: 6, minor: 1 },
        }
    }

    pub(super) fn default_context() -> DockerContext {
        context(&DOCKER_DEFAULT_CAPS)
    }

    /// Docker's default resolved for a container: the same verdicts as the
    /// profile with its filters, and no filter left.
    #[test]
    fn resolved_profile_keeps_the_verdicts_without_filters() {
        let baseline = Baseline::docker_default();
        for context in [
            default_context(),
            context(&["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]),
        ] {
            let resolved = crate::profile::eval::resolved(&baseline.profile, &context);
            assert!(
                resolved
                    .syscalls
                    .iter()
                    .all(|r| r.includes == Filter::default() && r.excludes == Filter::default())
            );
            let with = baseline.evaluate(&context);
            let without = EffectivePolicy::evaluate(&resolved, &context);
            for name in [
                "ptrace",
                "mount",
                "unshare",
                "clone",
                "bpf",
                "read",
                "personality",
            ] {
                assert_eq!(with.access(name), without.access(name), "{name}");
            }
        }
        // ptrace needs CAP_SYS_PTRACE (on kernels before 4.8) or a new
        // enough kernel; mount needs CAP_SYS_ADMIN.
        let resolved = crate::profile::eval::resolved(&baseline.profile, &default_context());
        assert!(
            !resolved
                .syscalls
                .iter()
                .any(|r| r.names.iter().any(|n| n == "mount"))
        );
    }

    #[test]
    fn baseline_choice_names_an_engine_or_a_file() {
        let choice = |s: &str| s.parse::<BaselineChoice>().unwrap();
        assert_eq!(
            choice("podman"),
            BaselineChoice::Engine(EngineDefault::Podman)
        );
        assert_eq!(
            choice("docker-20.10"),
            BaselineChoice::Engine(EngineDefault::Docker2010)
        );
        assert_eq!(
            choice("./podman"),
            BaselineChoice::File(PathBuf::from("./podman"))
        );
        let (baseline, warnings) = Baseline::choose(&choice("containerd")).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(baseline.reason, "chosen with --baseline containerd");
        let err = Baseline::choose(&choice("podmna")).unwrap_err().to_string();
        assert!(err.contains("podmna") && err.contains("neither"), "{err}");
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
}
