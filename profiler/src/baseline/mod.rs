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
//! [`eval::EffectivePolicy`] the outcome. Any other Docker-format profile
//! evaluates the same way (`--baseline FILE`).

pub(crate) mod eval;
pub(crate) mod notes;

use std::{
    collections::BTreeMap,
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use serde::Deserialize;

use crate::engine::{Engine, major_minor};
use crate::profile::{
    Action, ArchMapEntry, ArgCondition, Capability, Filter, KernelVersion, ParsedProfile, Profile,
    ProfileError, SyscallRule,
};

pub use crate::profile::Verdict;
pub use eval::{Access, DockerContext, EffectivePolicy, Grant};

/// The baseline data shipped with the tool, one file per engine default.
const DOCKER_DEFAULT: &str = include_str!("../../data/docker-baseline.json");
const DOCKER_2010_DEFAULT: &str = include_str!("../../data/docker-20.10-baseline.json");
const PODMAN_DEFAULT: &str = include_str!("../../data/podman-baseline.json");
const CONTAINERD_DEFAULT: &str = include_str!("../../data/containerd-baseline.json");

/// The capabilities Docker gives a container by default.
pub(crate) const DOCKER_DEFAULT_CAPS: [&str; 14] = [
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

/// The capabilities podman gives a container by default
/// (containers-common's `containers.conf`, `default_capabilities`): Docker's
/// less CAP_MKNOD, CAP_NET_RAW and CAP_AUDIT_WRITE.
pub(crate) const PODMAN_DEFAULT_CAPS: [&str; 11] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// The default profiles of the engines, shipped as data; the names are
/// those `--baseline` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EngineDefault {
    /// moby's current default (moby/profiles v0.2.3): Docker engines from
    /// 23.0 on.
    Docker,
    /// The profile built into Docker engine 20.10 (Debian 12's docker.io):
    /// older, with io_uring and every socket family allowed and no pkey_*.
    Docker2010,
    /// podman's: containers-common's `seccomp.json`.
    Podman,
    /// containerd's RuntimeDefault (`ctr run --seccomp`; Kubernetes'
    /// `RuntimeDefault` on containerd nodes).
    Containerd,
}

impl EngineDefault {
    pub(crate) const ALL: [EngineDefault; 4] = [
        EngineDefault::Docker,
        EngineDefault::Docker2010,
        EngineDefault::Podman,
        EngineDefault::Containerd,
    ];

    /// The name `--baseline` takes.
    pub(crate) fn key(self) -> &'static str {
        match self {
            EngineDefault::Docker => "docker",
            EngineDefault::Docker2010 => "docker-20.10",
            EngineDefault::Podman => "podman",
            EngineDefault::Containerd => "containerd",
        }
    }

    /// The engine default `--baseline KEY` names, if any.
    pub(crate) fn from_key(key: &str) -> Option<EngineDefault> {
        EngineDefault::ALL.into_iter().find(|d| d.key() == key)
    }

    fn data(self) -> &'static str {
        match self {
            EngineDefault::Docker => DOCKER_DEFAULT,
            EngineDefault::Docker2010 => DOCKER_2010_DEFAULT,
            EngineDefault::Podman => PODMAN_DEFAULT,
            EngineDefault::Containerd => CONTAINERD_DEFAULT,
        }
    }

    /// What to call it before its source.
    fn title(self) -> &'static str {
        match self {
            EngineDefault::Docker => "Docker's default profile",
            EngineDefault::Docker2010 => "Docker engine 20.10's built-in profile",
            EngineDefault::Podman => "podman's default",
            EngineDefault::Containerd => "containerd's RuntimeDefault",
        }
    }

    /// The capabilities the engine gives a container by default, which its
    /// profile is evaluated with.
    pub(crate) fn default_capabilities(self) -> &'static [&'static str] {
        match self {
            // `ctr run` gives the same 14 as Docker (containerd's
            // oci.WithDefaultSpec).
            EngineDefault::Docker | EngineDefault::Docker2010 | EngineDefault::Containerd => {
                &DOCKER_DEFAULT_CAPS
            }
            EngineDefault::Podman => &PODMAN_DEFAULT_CAPS,
        }
    }

    /// Whether its denials are Docker's (so the reasons of
    /// [`notes::why_docker_blocks`] apply as they are).
    fn is_docker(self) -> bool {
        matches!(self, EngineDefault::Docker | EngineDefault::Docker2010)
    }
}

impl std::fmt::Display for EngineDefault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// What `--baseline` names: an engine's default, or a Docker-format file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineChoice {
    Engine(EngineDefault),
    File(PathBuf),
}

impl std::str::FromStr for BaselineChoice {
    type Err = std::convert::Infallible;

    /// `docker`, `docker-20.10`, `podman` or `containerd`; anything else is
    /// a file (`./podman` for a file of that name).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match EngineDefault::from_key(text) {
            Some(default) => BaselineChoice::Engine(default),
            None => BaselineChoice::File(PathBuf::from(text)),
        })
    }
}

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
    /// Docker's current default profile (moby's), from the data shipped
    /// with the tool: the baseline when nothing else is chosen.
    pub fn docker_default() -> Baseline {
        Baseline::engine_default(
            EngineDefault::Docker,
            "the default baseline when no engine is named".to_owned(),
        )
    }

    /// The default `docker run` applies on a Docker engine of `version`
    /// (`docker version --format '{{.Server.Version}}'`, e.g.
    /// `20.10.24+dfsg1`), `podman run`'s default for podman. The rule for
    /// Docker: engines up to 20.10 carry their own built-in profile, the
    /// 20.10 one shipped here being the newest of them; 23.0 and later
    /// follow moby's profile, the current one shipped here; an unknown
    /// version counts as current. podman's default comes from
    /// containers-common, whatever podman's own version.
    ///
    /// containerd (`ctr run --seccomp`): [`Baseline::for_containerd`].
    pub fn for_engine(engine: Engine, version: Option<&str>) -> Baseline {
        match engine {
            Engine::Docker => match version.and_then(major_minor) {
                Some(series) if series <= (20, 10) => Baseline::engine_default(
                    EngineDefault::Docker2010,
                    format!(
                        "the default of `docker run` on Docker engine {} (engines up to 20.10 \
                         apply their own built-in profile)",
                        version.unwrap_or_default()
                    ),
                ),
                Some(_) => Baseline::engine_default(
                    EngineDefault::Docker,
                    format!(
                        "the default of `docker run` on Docker engine {} (23.0 and later \
                         apply moby's profile)",
                        version.unwrap_or_default()
                    ),
                ),
                None => Baseline::engine_default(
                    EngineDefault::Docker,
                    "the default of `docker run` (engine version unknown: moby's current \
                     profile assumed)"
                        .to_owned(),
                ),
            },
            Engine::Podman => Baseline::engine_default(
                EngineDefault::Podman,
                match version {
                    Some(v) => format!("the default of `podman run` (podman {v})"),
                    None => "the default of `podman run`".to_owned(),
                },
            ),
            Engine::Containerd => Baseline::for_containerd(version),
        }
    }

    /// containerd's RuntimeDefault, what `ctr run --seccomp` applies on a
    /// containerd of `version` (`ctr version`'s server version). The data
    /// is containerd 1.6.20's (Debian 12's); another version is named as
    /// possibly different.
    pub(crate) fn for_containerd(version: Option<&str>) -> Baseline {
        let data_version = "1.6.20";
        let reason = match version {
            Some(v) if v.trim_start_matches('v').starts_with(data_version) => {
                format!("the default of `ctr run --seccomp` (containerd {v})")
            }
            Some(v) => format!(
                "the default of `ctr run --seccomp` (containerd {v}; the data is containerd \
                 {data_version}'s and may differ from it)"
            ),
            None => "the default of `ctr run --seccomp`".to_owned(),
        };
        Baseline::engine_default(EngineDefault::Containerd, reason)
    }

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

    /// One engine default, from the data shipped with the tool.
    pub fn engine_default(default: EngineDefault, reason: String) -> Baseline {
        // The data is the tool's own, checked by the tests below: a failure
        // here is a broken build, not a user's mistake.
        let data: BaselineData =
            serde_json::from_str(default.data()).expect("the shipped baseline data is valid");
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
            name: format!("{} ({})", default.title(), data.source),
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
            is_docker_default: default.is_docker(),
            engine_default: Some(default),
            reason,
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

    /// The capabilities the baseline's engine gives a container by default
    /// (Docker's for a file).
    pub fn default_capabilities(&self) -> &'static [&'static str] {
        self.engine_default
            .map_or(&DOCKER_DEFAULT_CAPS, EngineDefault::default_capabilities)
    }

    /// The container the baseline's engine makes on this host with
    /// `--cap-add ADD --cap-drop DROP`: as [`DockerContext::host`], from
    /// that engine's default capabilities.
    pub fn context(
        &self,
        cap_add: &[String],
        cap_drop: &[String],
    ) -> Result<DockerContext, BaselineError> {
        DockerContext::host_with_defaults(self.default_capabilities(), cap_add, cap_drop)
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

    /// The capabilities whose `--cap-add` would let `name` run under this
    /// baseline in `context` (one of them is enough), when there are any.
    pub(crate) fn capabilities_allowing(
        &self,
        name: &str,
        context: &DockerContext,
    ) -> Vec<Capability> {
        self.capabilities_making(name, context, |policy| policy.access(name).is_allowed())
    }

    /// The capabilities whose `--cap-add` would let every one of `calls`
    /// (six arguments each) of `name` run under this baseline in
    /// `context` (one of them is enough): `clone` with `CLONE_NEWUSER`
    /// needs CAP_SYS_ADMIN under Docker's default.
    pub(crate) fn capabilities_allowing_calls(
        &self,
        name: &str,
        context: &DockerContext,
        calls: &[[u64; 6]],
    ) -> Vec<Capability> {
        self.capabilities_making(name, context, |policy| {
            let access = policy.access(name);
            calls.iter().all(|call| access.verdict(call).runs())
        })
    }

    /// The capabilities, each of which turns on a rule of `name` and, added
    /// to `context`, makes `works` hold of the baseline.
    fn capabilities_making(
        &self,
        name: &str,
        context: &DockerContext,
        works: impl Fn(&EffectivePolicy) -> bool,
    ) -> Vec<Capability> {
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
                if works(&self.evaluate(&with)) {
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
    pub(crate) fn host(
        cap_add: &[String],
        cap_drop: &[String],
    ) -> Result<DockerContext, BaselineError> {
        DockerContext::host_with_defaults(&DOCKER_DEFAULT_CAPS, cap_add, cap_drop)
    }

    /// As [`DockerContext::host`], from an engine's `defaults` capabilities.
    pub(crate) fn host_with_defaults(
        defaults: &[&str],
        cap_add: &[String],
        cap_drop: &[String],
    ) -> Result<DockerContext, BaselineError> {
        let native = crate::profile::Arch::host()
            .ok_or(BaselineError::UnsupportedArch(std::env::consts::ARCH))?;
        let kernel = KernelVersion::running().ok_or(BaselineError::KernelVersion)?;
        Ok(DockerContext {
            native,
            caps: engine_capabilities(defaults, cap_add, cap_drop)?,
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
    engine_capabilities(&DOCKER_DEFAULT_CAPS, cap_add, cap_drop)
}

/// As [`docker_capabilities`], from an engine's `defaults` (podman adjusts
/// its own defaults the same way).
pub fn engine_capabilities(
    defaults: &[&str],
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
    let defaults: BTreeSet<Capability> = defaults
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

    /// Docker's default resolved for a container: the same verdicts as the
    /// profile with its filters, and no filter left.
    #[test]
    fn resolved_profile_keeps_the_verdicts_without_filters() {
        let baseline = Baseline::docker_default();
        for context in [
            default_context(),
            context(&["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]),
        ] {
            let resolved = eval::resolved(&baseline.profile, &context);
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
        let resolved = eval::resolved(&baseline.profile, &default_context());
        assert!(
            !resolved
                .syscalls
                .iter()
                .any(|r| r.names.iter().any(|n| n == "mount"))
        );
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
    fn every_engine_default_is_valid_data_naming_its_source() {
        for default in EngineDefault::ALL {
            let baseline = Baseline::engine_default(default, "why".to_owned());
            let text = baseline.profile.to_json();
            let parsed = Profile::parse(text.as_bytes()).unwrap();
            assert_eq!(parsed.profile, baseline.profile, "{default}");
            assert_eq!(baseline.engine_default, Some(default));
            assert_eq!(EngineDefault::from_key(default.key()), Some(default));
            assert!(
                baseline.describe().ends_with(", why"),
                "{}",
                baseline.describe()
            );
        }
        let source = |d| Baseline::engine_default(d, String::new()).name;
        assert!(source(EngineDefault::Docker2010).contains("moby v20.10.24"));
        assert!(
            source(EngineDefault::Podman).contains("containers-common 0."),
            "{}",
            source(EngineDefault::Podman)
        );
        assert!(source(EngineDefault::Containerd).contains("containerd v1.6.20"));
    }

    #[test]
    fn the_engine_and_its_version_choose_the_baseline() {
        let chosen = |engine, version| Baseline::for_engine(engine, version).engine_default;
        let docker = Some(EngineDefault::Docker);
        let docker_2010 = Some(EngineDefault::Docker2010);
        assert_eq!(chosen(Engine::Docker, Some("20.10.24+dfsg1")), docker_2010);
        assert_eq!(chosen(Engine::Docker, Some("19.03.15")), docker_2010);
        assert_eq!(chosen(Engine::Docker, Some("28.2.2")), docker);
        assert_eq!(chosen(Engine::Docker, Some("23.0.0")), docker);
        assert_eq!(chosen(Engine::Docker, None), docker);
        assert_eq!(chosen(Engine::Docker, Some("nonsense")), docker);
        assert_eq!(
            chosen(Engine::Podman, Some("4.3.1")),
            Some(EngineDefault::Podman)
        );
        let reason = Baseline::for_engine(Engine::Docker, Some("20.10.24+dfsg1")).reason;
        assert!(
            reason.contains("`docker run`") && reason.contains("20.10.24"),
            "{reason}"
        );
        let podman = Baseline::for_engine(Engine::Podman, Some("4.3.1"));
        assert_eq!(
            podman.describe(),
            format!(
                "{}, the default of `podman run` (podman 4.3.1)",
                podman.name
            )
        );
        let containerd = Baseline::for_containerd(Some("1.6.20~ds1"));
        assert!(
            !containerd.reason.contains("may differ"),
            "{}",
            containerd.reason
        );
        assert!(
            Baseline::for_containerd(Some("1.7.2"))
                .reason
                .contains("may differ")
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
    fn each_engine_default_says_what_that_engine_allows() {
        let policy = |default, caps: &[&str]| {
            Baseline::engine_default(default, String::new()).evaluate(&context(caps))
        };
        // Docker 20.10: io_uring and every socket family, no pkey_*.
        let old = policy(EngineDefault::Docker2010, &DOCKER_DEFAULT_CAPS);
        assert!(old.access("io_uring_setup").is_allowed());
        assert!(old.access("socket").is_allowed());
        assert!(!old.access("pkey_alloc").is_allowed());
        assert!(!old.access("process_vm_readv").is_allowed());
        let current = policy(EngineDefault::Docker, &DOCKER_DEFAULT_CAPS);
        assert!(!current.access("io_uring_setup").is_allowed());
        assert!(current.access("pkey_alloc").is_allowed());
        // podman: ENOSYS for what it does not name, EPERM for what it denies
        // on purpose, and NETLINK_AUDIT sockets only with CAP_AUDIT_WRITE.
        let podman = policy(EngineDefault::Podman, &PODMAN_DEFAULT_CAPS);
        assert_eq!(
            podman.access("not_a_syscall"),
            Access::Denied(Verdict::of(Action::Errno, Some(38)))
        );
        assert_eq!(
            podman.access("kexec_load"),
            Access::Denied(Verdict::of(Action::Errno, Some(1)))
        );
        assert!(!podman.access("io_uring_setup").is_allowed());
        assert!(podman.access("clone3").is_allowed());
        let netlink_audit = [16, 3, 9, 0, 0, 0];
        assert_eq!(
            podman.verdict("socket", &netlink_audit),
            Verdict::of(Action::Errno, Some(22))
        );
        assert!(podman.verdict("socket", &[16, 3, 0, 0, 0, 0]).runs());
        let mut audit = PODMAN_DEFAULT_CAPS.to_vec();
        audit.push("CAP_AUDIT_WRITE");
        assert!(
            policy(EngineDefault::Podman, &audit)
                .verdict("socket", &netlink_audit)
                .runs()
        );
        // containerd: ptrace from 4.8, clone3 ENOSYS without CAP_SYS_ADMIN,
        // io_uring allowed (1.6's list).
        let containerd = policy(EngineDefault::Containerd, &DOCKER_DEFAULT_CAPS);
        assert!(containerd.access("ptrace").is_allowed());
        assert!(containerd.access("io_uring_setup").is_allowed());
        assert_eq!(
            containerd.access("clone3"),
            Access::Denied(Verdict::of(Action::Errno, Some(38)))
        );
        assert!(
            policy(EngineDefault::Containerd, &["CAP_SYS_ADMIN"])
                .access("mount")
                .is_allowed()
        );
    }

    #[test]
    fn podman_s_default_capabilities_are_its_own() {
        let baseline = Baseline::engine_default(EngineDefault::Podman, String::new());
        let context = baseline.context(&[], &[]).unwrap();
        assert_eq!(context.caps.len(), 11);
        assert!(!context.caps.contains(&"CAP_NET_RAW".parse().unwrap()));
        let docker = Baseline::docker_default().context(&[], &[]).unwrap();
        assert_eq!(docker.caps.len(), 14);
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
        let newuser = [0x1000_0000 | 0x11, 0, 0, 0, 0, 0];
        let clone = baseline.capabilities_allowing_calls("clone", &ctx, &[newuser]);
        assert_eq!(clone, ["CAP_SYS_ADMIN".parse().unwrap()]);
        let vsock = [40, 1, 0, 0, 0, 0];
        assert!(
            baseline
                .capabilities_allowing_calls("socket", &ctx, &[vsock])
                .is_empty()
        );
    }
}
