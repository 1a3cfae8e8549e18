//! The engines' default profiles, shipped as data ([`EngineDefault`]), the
//! capabilities each engine gives a container, and the [`Baseline`] an
//! engine of a given version applies.

use std::{collections::BTreeMap, path::PathBuf};

use serde::Deserialize;

use super::Baseline;
use crate::{
    engine::{Engine, major_minor},
    profile::{Action, ArchMapEntry, ArgCondition, Filter, Profile, SyscallRule},
};

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
    pub(super) fn title(self) -> &'static str {
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
    /// [`notes::why_docker_blocks`](super::notes::why_docker_blocks) apply as they are).
    pub(super) fn is_docker(self) -> bool {
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
}

#[cfg(test)]
mod tests {
    use super::super::tests::context;
    use super::*;
    use crate::baseline::{Access, Verdict};

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
}
